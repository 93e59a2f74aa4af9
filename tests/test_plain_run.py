"""A plain `factory run` uses the cores it owns: particle recipes with several shards run one worker
process per core, and write what one process writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import shipped, small

from factory.generate.plain import local_workers
from factory.generate.runner import run
from factory.generate.write_behind import usable_cores
from factory.storage.manifest import read_manifest

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("path, shards, cores, threads, workers", [
    ("fluid/dam_break.yaml", 4, 2, 1, 2),
    ("cloth/drape.yaml", 3, 16, 1, 3),  # never more workers than shards
    ("cloth/drape.yaml", 4, 4, 2, 2),  # QD_NUM_THREADS=2: each process takes two cores
    ("fluid/pour.yaml", 1, 2, 1, 0),  # one shard: one process, with its write-behind helper
    ("fluid/pour.yaml", 4, 1, 1, 0),
    ("collision/push_target.yaml", 4, 2, 1, 0),  # the helper already fills the second core
])
def test_particle_recipes_get_a_worker_per_core(path, shards, cores, threads, workers):
    assert local_workers(shipped(path), shards, cores, threads) == workers


def test_genesis_on_a_gpu_keeps_one_process():
    recipe = shipped("cloth/drape.yaml")
    recipe = recipe.model_copy(update={"engine": recipe.engine.model_copy(update={"backend": "gpu"})})
    assert local_workers(recipe, 8, 16) == 0


def test_mujoco_keeps_its_own_threads():
    recipe = small("sliding_box", engine={"type": "mujoco"})
    assert local_workers(recipe, 8, 2) == 0


def shard_hashes(out: Path) -> dict[int, dict[str, str]]:
    return {s["id"]: {f["path"]: f["sha256"] for f in s["files"]} for s in read_manifest(out)["shards"]}


@pytest.mark.genesis
@pytest.mark.skipif(usable_cores() < 2, reason="one core: a plain run has nothing to spread")
def test_a_plain_particle_run_spreads_its_shards_and_writes_what_one_process_writes(tmp_path):
    recipe = shipped("cloth/corner_pull.yaml", episodes=2, steps=10, n_envs=1,
                     outputs={"record_every": 5, "shard_size": 1})
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))
    out = tmp_path / "plain"
    proc = subprocess.run([BIN / "factory", "run", str(path), "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "2 worker processes" in proc.stderr
    assert subprocess.run([BIN / "factory", "verify", str(out)], capture_output=True).returncode == 0
    run(recipe, tmp_path / "one")  # this process, serially
    assert shard_hashes(out) == shard_hashes(tmp_path / "one")
