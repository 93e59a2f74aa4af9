"""What every export test compares: a dataset's transitions and episodes as plain arrays, and the
same arrays as a training library's loader returns them."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import numpy as np

from factory import open_dataset
from factory.export import export
from factory.export.source import Source


def source_arrays(root: Path) -> tuple[dict[str, np.ndarray], dict[int, dict]]:
    """Every transition column as an array in (episode, step) order, and each episode's row."""
    source = Source(open_dataset(root))
    cols: dict[str, list[np.ndarray]] = {}
    rows: dict[int, dict] = {}
    for block in source.blocks():
        arrays = {"episode": block.column("episode"), "step": block.column("step"),
                  **{k: block.matrix(k) for k in ("state", "action", "next_state")},
                  **{k: block.points(k) for p in source.layout.points for k in (p, f"next_{p}")},
                  **{k: block.column(k) for k in source.step_labels}}
        for k, v in arrays.items():
            cols.setdefault(k, []).append(v)
        rows.update({ep.index: {"params": ep.params, "labels": ep.labels} for ep in block.slices()})
    return {k: np.concatenate(v) for k, v in cols.items()}, rows


def assert_same_transitions(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    """Every source column present in `got`, row for row, equal at float32 (labels exactly)."""
    order = np.lexsort((got["step"], got["episode"]))
    assert len(order) == len(want["episode"]), f"{len(order)} transitions, source has {len(want['episode'])}"
    for name, values in want.items():
        assert name in got, f"{name} missing"
        have = np.asarray(got[name])[order]
        if values.dtype.kind == "f":
            np.testing.assert_array_equal(have.astype(np.float32), values.astype(np.float32), err_msg=name)
        else:
            np.testing.assert_array_equal(have, values, err_msg=name)


def assert_same_episode(got_params: dict, got_labels: dict, want: dict) -> None:
    assert got_params.keys() == want["params"].keys()
    np.testing.assert_allclose([float(got_params[k]) for k in want["params"]],
                               [float(v) for v in want["params"].values()], rtol=0, atol=0)
    assert got_labels.keys() >= want["labels"].keys() - {k for k, v in want["labels"].items() if v is None}
    for k, v in want["labels"].items():
        if v is not None and not (isinstance(v, float) and np.isnan(v)):
            assert got_labels[k] == v, k


def lerobot_python() -> str | None:
    """A Python with lerobot installed, kept out of the project's venv (see setup.sh)."""
    root = Path(__file__).resolve().parent.parent
    for candidate in (os.environ.get("LEROBOT_PYTHON"), root / ".venv-lerobot" / "bin" / "python"):
        if candidate and Path(candidate).exists():
            return str(candidate)
    return None


def manifest_sha256(root: Path) -> str:
    return hashlib.sha256((root / "manifest.json").read_bytes()).hexdigest()


def check_hf_export(source, tmp_path):
    import datasets

    export(source, "hf", tmp_path / "hf")
    want, episodes = source_arrays(source)
    dd = datasets.load_from_disk(str(tmp_path / "hf"))
    t = dd["transitions"].with_format("numpy")
    assert_same_transitions({k: t[k] for k in t.column_names}, want)
    for name in (n for n in want if n.startswith(("particle", "vertex", "next_particle", "next_vertex"))):
        assert isinstance(dd["transitions"].features[name], datasets.Array2D)  # points as fixed 2-D features
    for row in dd["episodes"]:
        params = {k.removeprefix("param__"): v for k, v in row.items() if k.startswith("param__")}
        assert_same_episode(params, row, episodes[row["episode"]])
    provenance = json.loads(dd["transitions"].info.description)["physics_data_factory"]
    assert provenance["manifest_sha256"] == manifest_sha256(source)
    assert provenance["recipe"] == json.loads((source / "manifest.json").read_text())["recipe"]


def check_minari_export(source, tmp_path, monkeypatch):
    import minari

    export(source, "minari", tmp_path / "minari")
    want, episodes = source_arrays(source)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    name = json.loads((source / "manifest.json").read_text())["recipe"]["name"]
    dataset = minari.load_dataset(f"factory/{name}-v0")
    assert dataset.total_steps == len(want["episode"])
    got: dict[str, list] = {}
    metadata = dataset.storage.get_episode_metadata(dataset.episode_indices)
    for ep, meta in zip(dataset.iterate_episodes(), metadata, strict=True):
        options = meta["options"]
        obs = ep.observations
        parts = {"episode": np.full(len(ep.actions), options["source_episode"]), "step": np.arange(len(ep.actions)),
                 "state": obs["state"][:-1], "next_state": obs["state"][1:], "action": ep.actions,
                 **dict(ep.infos.items())}
        for p in (k for k in obs if k != "state"):
            parts[p], parts[f"next_{p}"] = obs[p][:-1], obs[p][1:]
        for k, v in parts.items():
            got.setdefault(k, []).append(v)
        assert_same_episode(json.loads(options["params"]), json.loads(options["labels"]),
                            episodes[options["source_episode"]])
        assert ep.truncations[-1] and not ep.truncations[:-1].any()
    assert_same_transitions({k: np.concatenate(v) for k, v in got.items()}, want)
    assert dataset.storage.metadata["physics_data_factory"]["manifest_sha256"] == manifest_sha256(source)


def lerobot_column(name: str) -> str:
    """The LeRobot frame feature that holds our transition column `name`."""
    fixed = {"step": "frame_index", "state": "observation.state", "action": "action",
             "next_state": "next.observation.state"}
    if name in fixed:
        return fixed[name]
    if name.startswith(("particle_", "vertex_")):
        return f"observation.{name}"
    if name.startswith(("next_particle_", "next_vertex_")):
        return f"next.observation.{name.removeprefix('next_')}"
    return f"labels.{name}"


def check_lerobot_files(source, tmp_path):
    """Without lerobot: its v3.0 metadata, and the frames through `datasets.Dataset.from_parquet` with
    the features LeRobot derives from info.json (`get_hf_features_from_features`), as its loader does."""
    import datasets
    import pandas as pd

    export(source, "lerobot", tmp_path / "lr")
    want, episodes = source_arrays(source)
    info = json.loads((tmp_path / "lr" / "meta" / "info.json").read_text())
    videos = [name for name, f in info["features"].items() if f["dtype"] == "video"]
    assert info["codebase_version"] == "v3.0" and (info["video_path"] is None) == (not videos)
    assert info["total_frames"] == len(want["episode"]) and info["total_episodes"] == len(episodes)
    assert not any("/" in name for name in info["features"])
    feats = {}
    for name, f in info["features"].items():
        if name in videos:  # in the videos, not the frames' Parquet (LeRobot's hf features skip them too)
            continue
        shape = tuple(f["shape"])
        feats[name] = (datasets.Value(f["dtype"]) if shape == (1,) else
                       datasets.List(datasets.Value(f["dtype"]), length=shape[0]) if len(shape) == 1 else
                       datasets.Array2D(shape=shape, dtype=f["dtype"]))
    data = sorted(str(p) for p in (tmp_path / "lr" / "data").glob("*/*.parquet"))
    frames = datasets.Dataset.from_parquet(data, features=datasets.Features(feats)).with_format("numpy")
    eps = pd.read_parquet(tmp_path / "lr" / "meta" / "episodes")
    source_episode = np.asarray(eps.sort_values("episode_index")["source_episode"])
    got = {name: frames[lerobot_column(name)] for name in want if name != "episode"}
    got["episode"] = source_episode[frames["episode_index"]]
    assert_same_transitions(got, want)
    assert (eps["dataset_to_index"] - eps["dataset_from_index"] == eps["length"]).all()
    assert set(pd.read_parquet(tmp_path / "lr" / "meta" / "tasks.parquet")["task_index"]) == {0}
    stats = json.loads((tmp_path / "lr" / "meta" / "stats.json").read_text())
    np.testing.assert_allclose(stats["observation.state"]["mean"], want["state"].astype(np.float64).mean(0), atol=1e-5)
    assert info["physics_data_factory"]["manifest_sha256"] == manifest_sha256(source)


LEROBOT_READ = """
import json, os, sys
import numpy as np
os.environ["HF_HUB_OFFLINE"] = "1"
from lerobot.datasets.lerobot_dataset import LeRobotDataset
for root, out in zip(sys.argv[1::2], sys.argv[2::2]):
    ds = LeRobotDataset("local/export", root=root)
    items = [ds[i] for i in range(len(ds))]
    np.savez(out, **{k: np.stack([np.asarray(it[k]) for it in items]) for k in items[0] if k != "task"},
             source_episode=np.asarray(ds.meta.episodes["source_episode"]), num_episodes=ds.num_episodes,
             state_names=np.asarray(ds.meta.features["observation.state"]["names"]),
             action_names=np.asarray(ds.meta.features["action"]["names"]))
"""
LEROBOT_MISSING = ("no lerobot install: setup.sh makes .venv-lerobot with FACTORY_LEROBOT=1, or set LEROBOT_PYTHON "
                   "(lerobot 0.4.4 needs its own torch)")


def check_lerobot_dataset(sources: list[Path], tmp_path: Path) -> list[dict]:
    """Export each source, open every export with LeRobot's own `LeRobotDataset(repo_id, root=DIR)` under
    HF_HUB_OFFLINE in its own venv, and compare every frame with the source; return what LeRobot read."""
    args = []
    for i, src in enumerate(sources):
        export(src, "lerobot", tmp_path / f"lr{i}")
        args += [str(tmp_path / f"lr{i}"), str(tmp_path / f"lr{i}.npz")]
    python = lerobot_python()
    assert python is not None, LEROBOT_MISSING
    subprocess.run([python, "-c", LEROBOT_READ, *args], check=True, capture_output=True, timeout=300)
    read = []
    for i, src in enumerate(sources):
        want, episodes = source_arrays(src)
        got = dict(np.load(tmp_path / f"lr{i}.npz"))
        assert int(got["num_episodes"]) == len(episodes)
        arrays = {name: got[lerobot_column(name)] for name in want if name != "episode"}
        arrays["episode"] = got["source_episode"][got["episode_index"]]
        assert_same_transitions(arrays, want)
        read.append(got)
    return read
