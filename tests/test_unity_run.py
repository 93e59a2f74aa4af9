"""`factory run` on a Unity recipe, serially and on dask workers, writes the dataset Genesis recipes write."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mlagents_envs")

from unity_peer import recipe

from factory import open_dataset
from factory.generate.distributed import DaskExecutor
from factory.generate.runner import run

pytestmark = pytest.mark.unity
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cli_dataset(tmp_path_factory) -> Path:
    """The shipped recipe through the command line, from the repository root, as a user runs it."""
    out = tmp_path_factory.mktemp("unity_cli") / "head_on"
    proc = subprocess.run([sys.executable, "-m", "factory.cli", "run", "recipes/unity/head_on.yaml", "--out",
                           str(out), "--episodes", "6", "--quiet"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "wrote 6 episodes, 900 transitions" in proc.stdout
    return out


@pytest.mark.parametrize("fmt", ["parquet", "hdf5"])
def test_cli_writes_triples_labels_and_contacts(cli_dataset, fmt):
    ds = open_dataset(cli_dataset, fmt)
    assert ds.manifest["engine"]["name"] == "unity"
    assert ds.layout.bodies == ("ground", "left", "right")
    state, action, next_state = ds.triples()
    assert state.shape == (900, 26) and action.shape == (900, 6) and next_state.shape == (900, 26)
    np.testing.assert_array_equal(state[1:150], next_state[:149])  # consecutive within an episode
    episodes = ds.episodes().to_pylist()
    assert [e["episode"] for e in episodes] == list(range(6))
    assert all(e["touched__left__right"] for e in episodes)  # every head-on pair meets in 0.6 s
    assert all(0 < e["first_contact__left__right"] < 150 for e in episodes)
    assert {"param__left__mass", "param__right__vel__x"} <= episodes[0].keys()
    steps = ds.transitions().column("n_contacts").to_numpy()
    assert (steps >= 2).all()  # both spheres rest on the ground at every step
    contacts = ds.contacts()
    assert contacts.num_rows == ds.manifest["counts"]["contacts"] > 900


def test_dask_workers_with_a_crashing_build_write_what_one_process_writes(tmp_path):
    """Two dask worker processes, each with its own build and port; one build crashes once mid-shard."""
    clean = recipe(episodes=8, outputs={"shard_size": 2})
    serial = run(clean, tmp_path / "serial")
    args = [*clean.engine.args, "--crash-at-step", "40", "--fault-once", str(tmp_path / "crashed")]
    crashing = clean.model_copy(update={"engine": clean.engine.model_copy(update={"args": args})})
    parallel = run(crashing, tmp_path / "dask", executor=DaskExecutor(workers=2, say=lambda _: None))
    assert (tmp_path / "crashed").exists()
    assert parallel["counts"] == serial["counts"]
    a, b = open_dataset(tmp_path / "serial"), open_dataset(tmp_path / "dask")
    for x, y in zip(a.triples(), b.triples(), strict=True):
        np.testing.assert_array_equal(x, y)
    assert a.contacts().equals(b.contacts())
    assert a.episodes().equals(b.episodes())
