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
    LEROBOT_MISSING,
    assert_same_episode,
    assert_same_transitions,
    check_hf_export,
    check_lerobot_dataset,
    check_lerobot_files,
    check_minari_export,
    lerobot_python,
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
    check_hf_export(source, tmp_path)

def test_minari_load_dataset(source, tmp_path, monkeypatch):
    check_minari_export(source, tmp_path, monkeypatch)

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


def test_lerobot_files_read_as_lerobot_reads_them(source, tmp_path):
    check_lerobot_files(source, tmp_path)

@pytest.mark.skipif(lerobot_python() is None, reason=LEROBOT_MISSING)
def test_lerobot_dataset_loads_every_kind(push_target_dataset, dam_break_dataset, drape_dataset, tmp_path):
    """LeRobot's own `LeRobotDataset(repo_id, root=DIR)` under HF_HUB_OFFLINE, in its own venv."""
    check_lerobot_dataset([Path(push_target_dataset), Path(dam_break_dataset), Path(drape_dataset)], tmp_path)


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
