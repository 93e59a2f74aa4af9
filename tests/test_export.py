"""Exports opened by each training library's own loader: every transition equal to the source at
float32, labels, parameters and provenance in the format's own metadata. Collision, fluid and cloth
datasets come from the session fixtures (shared with the physics tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from export_checks import (
    assert_same_episode,
    assert_same_transitions,
    manifest_sha256,
    source_arrays,
)

from factory.cli import main
from factory.errors import ExportError
from factory.export import EXPORTERS, export, load_exporter

pytestmark = pytest.mark.genesis
ROOT = Path(__file__).resolve().parent.parent
KINDS = ["push_target_dataset", "dam_break_dataset", "drape_dataset"]


@pytest.fixture(params=KINDS, ids=["collision", "fluid", "cloth"])
def source(request) -> Path:
    return Path(request.getfixturevalue(request.param))


def test_hf_datasets_load_from_disk(source, tmp_path):
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


def test_minari_load_dataset(source, tmp_path, monkeypatch):
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


def test_webdataset_decode(source, tmp_path):
    import webdataset

    export(source, "webdataset", tmp_path / "wds")
    want, episodes = source_arrays(source)
    meta = json.loads((tmp_path / "wds" / "dataset.json").read_text())
    urls = [str(tmp_path / "wds" / s["file"]) for s in meta["shards"]]
    got: dict[str, list] = {}
    for sample in webdataset.WebDataset(urls, shardshuffle=False).decode():
        info = sample["json"]
        got.setdefault("episode", []).append(info["episode"])
        for k in want:
            if k != "episode":
                got.setdefault(k, []).append(sample[f"{k}.npy"] if f"{k}.npy" in sample else info[k])
        if info["step"] == 0:
            assert_same_episode(info["params"], info["labels"], episodes[info["episode"]])
    assert_same_transitions({k: np.stack(v) if np.ndim(v[0]) else np.asarray(v) for k, v in got.items()}, want)
    assert meta["physics_data_factory"]["manifest_sha256"] == manifest_sha256(source)


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


def lerobot_python() -> str | None:
    """A Python with lerobot installed, kept out of the project's venv (see setup.sh)."""
    for candidate in (os.environ.get("LEROBOT_PYTHON"), ROOT / ".venv-lerobot" / "bin" / "python"):
        if candidate and Path(candidate).exists():
            return str(candidate)
    return None


def test_lerobot_files_read_as_lerobot_reads_them(source, tmp_path):
    """Without lerobot: its v3.0 metadata, and the frames through `datasets.Dataset.from_parquet` with
    the features LeRobot derives from info.json (`get_hf_features_from_features`), as its loader does."""
    import datasets
    import pandas as pd

    export(source, "lerobot", tmp_path / "lr")
    want, episodes = source_arrays(source)
    info = json.loads((tmp_path / "lr" / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["video_path"] is None
    assert info["total_frames"] == len(want["episode"]) and info["total_episodes"] == len(episodes)
    assert not any("/" in name for name in info["features"])
    feats = {}
    for name, f in info["features"].items():
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
             source_episode=np.asarray(ds.meta.episodes["source_episode"]), num_episodes=ds.num_episodes)
"""


@pytest.mark.skipif(lerobot_python() is None, reason="no lerobot install: setup.sh makes .venv-lerobot, "
                    "or set LEROBOT_PYTHON (lerobot 0.4.4 needs its own torch)")
def test_lerobot_dataset_loads_every_kind(push_target_dataset, dam_break_dataset, drape_dataset, tmp_path):
    """LeRobot's own `LeRobotDataset(repo_id, root=DIR)` under HF_HUB_OFFLINE, in its own venv."""
    sources = [Path(push_target_dataset), Path(dam_break_dataset), Path(drape_dataset)]
    args = []
    for i, src in enumerate(sources):
        export(src, "lerobot", tmp_path / f"lr{i}")
        args += [str(tmp_path / f"lr{i}"), str(tmp_path / f"lr{i}.npz")]
    subprocess.run([lerobot_python(), "-c", LEROBOT_READ, *args], check=True, capture_output=True, timeout=300)
    for i, src in enumerate(sources):
        want, episodes = source_arrays(src)
        got = np.load(tmp_path / f"lr{i}.npz")
        assert int(got["num_episodes"]) == len(episodes)
        arrays = {name: got[lerobot_column(name)] for name in want if name != "episode"}
        arrays["episode"] = got["source_episode"][got["episode_index"]]
        assert_same_transitions(arrays, want)


# ------------------------------------------------------------------ destination, atomicity, CLI
def test_refuses_a_destination_it_did_not_write(push_target_dataset, tmp_path, capsys):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "notes.txt").write_text("keep me")
    with pytest.raises(ExportError, match=r"not empty .*notes\.txt.* not an earlier export"):
        export(push_target_dataset, "webdataset", dest)
    assert main(["export", str(push_target_dataset), "--format", "hf", "--out", str(dest), "--quiet"]) == 2
    assert sorted(p.name for p in dest.iterdir()) == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_export_again_replaces_its_own_export(push_target_dataset, tmp_path, capsys):
    dest = tmp_path / "wds"
    assert main(["export", str(push_target_dataset), "--format", "webdataset", "--out", str(dest)]) == 0
    assert "tr/s" in capsys.readouterr().err  # the progress bar
    assert main(["export", str(push_target_dataset), "-f", "hf", "--out", str(dest), "--quiet"]) == 0
    assert (dest / "dataset_dict.json").exists() and not list(dest.glob("*.tar"))


def test_export_to_a_url(push_target_dataset):
    import datasets

    url = "memory://exports/push_target_hf"
    export(push_target_dataset, "hf", url)
    assert len(datasets.load_from_disk(url)["transitions"]) == 400
    with pytest.raises(ExportError, match="an export to a URL needs an empty destination"):
        export(push_target_dataset, "hf", url)


def test_unknown_format_and_missing_library_named(monkeypatch):
    with pytest.raises(ExportError, match="unknown export format 'lerobott' \\(did you mean 'lerobot'\\?\\)"):
        load_exporter("lerobott")
    monkeypatch.delitem(sys.modules, "factory.export.minari", raising=False)
    monkeypatch.setitem(sys.modules, "minari", None)  # as if not installed: importing it fails
    with pytest.raises(ExportError, match=r"'minari' package: pip install -e '\.\[export\]'"):
        load_exporter("minari")
    monkeypatch.undo()
    assert set(EXPORTERS) == {"lerobot", "minari", "hf", "webdataset"}
    assert all(name == load_exporter(name).FORMAT for name in EXPORTERS)


KILLED_EXPORT = """
import sys, time, pathlib
from factory.export import export
def stall(n):
    pathlib.Path(sys.argv[3]).touch()   # first shard written: tell the test, then wait to be killed
    time.sleep(60)
export(sys.argv[1], "hf", sys.argv[2], progress=stall)
"""


def test_killed_export_leaves_nothing_a_loader_takes(push_target_dataset, tmp_path):
    dest, started = tmp_path / "hf", tmp_path / "started"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_EXPORT, str(push_target_dataset), str(dest), str(started)],
                            env=env)
    deadline = time.monotonic() + 120
    while not started.exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    assert not dest.exists()  # only a hidden folder beside it
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".hf.")]
    export(push_target_dataset, "hf", dest)  # the next export cleans up and completes
    assert (dest / "dataset_dict.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".hf.")]


def test_lerobot_episode_stats_alike_for_equal_and_unequal_lengths():
    """Equal-length episodes are reduced together; the result is what each episode gives alone."""
    from factory.export.lerobot import Aggregate, episode_stats

    values = np.random.default_rng(0).normal(size=(9, 4, 3)).astype(np.float32)  # 9 frames of (4, 3) points
    together = episode_stats(values[:6], [3, 3])
    alone = episode_stats(values[:3], [3]) + episode_stats(values[3:6], [3])
    mixed = episode_stats(values, [6, 3])
    for a, b in zip(together, alone, strict=True):
        assert a.keys() == b.keys() and all(np.allclose(a[k], b[k]) for k in a)
    assert mixed[0]["count"][0] == 6 and np.allclose(mixed[0]["mean"], values[:6].reshape(-1, 3).mean(0))
    total = Aggregate()
    for stats in mixed:
        total.add(stats)
    pooled = total.result()
    assert np.allclose(pooled["mean"], values.reshape(-1, 3).mean(0))
    assert np.allclose(pooled["std"], values.reshape(-1, 3).std(0)) and pooled["count"][0] == 9
