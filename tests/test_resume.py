"""Resuming, refusing and quarantining, in this process on the Genesis engine."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import manifest, sharded

from factory import open_dataset
from factory.contract.rollout import Contacts, Layout, Rollout
from factory.contract.sampling import sample_episode
from factory.errors import StorageError
from factory.generate.lock import OutputLocked, output_lock
from factory.generate.quarantine import screen
from factory.generate.resume import STATE_DIR, receipt_name
from factory.generate.runner import run
from factory.recipe.schema import Quarantine
from factory.storage.inspect import render, summarize
from factory.storage.manifest import MANIFEST
from factory.storage.verify import verify

pytestmark = pytest.mark.genesis
MAX_SPEED = 2.5


def test_rerun_redoes_an_unfinished_shard_and_clears_half_written_files(sharded_dataset, copy):
    """What a kill mid-shard leaves: no receipt for it, a hidden temp file, no manifest."""
    (copy / receipt_name(1)).unlink()
    (copy / MANIFEST).unlink()
    temp = copy / "parquet" / "transitions" / ".shard-00001.parquet.tmp-999"
    temp.write_bytes(b"PAR1 half")
    said: list[str] = []
    run(sharded(), copy, say=said.append)
    assert said == [f"resuming {copy}: 3 of 4 shards verified"]
    assert not temp.exists()
    assert manifest(copy)["shards"] == manifest(sharded_dataset)["shards"]
    assert manifest(copy)["created"] == manifest(sharded_dataset)["created"]  # the run's start, kept across resumes


@pytest.mark.parametrize("change, match", [
    ({"steps": 60}, r"different recipe \(changed: steps\)"),
    ({"seed": 8}, r"different recipe \(changed: seed\)"),
    ({"episodes": 20}, r"different recipe \(changed: episodes, episodes to run \(16 → 20\)\)"),
])
def test_changed_recipe_is_refused(copy, change, match):
    before = sorted(p.relative_to(copy) for p in copy.rglob("*"))
    with pytest.raises(StorageError, match=match + r"; run the original recipe to resume it, pass --overwrite"):
        run(sharded(**change), copy)
    assert sorted(p.relative_to(copy) for p in copy.rglob("*")) == before


def test_overwrite_starts_over(copy):
    run(sharded(episodes=4), copy, overwrite=True)
    assert manifest(copy)["counts"]["episodes"] == 4
    assert len(list((copy / STATE_DIR / "shards").glob("*.json"))) == 1
    assert not (copy / "hdf5" / "shard-00001.h5").exists()
    assert verify(copy) == []


def test_locked_output_is_refused(copy):
    with output_lock(copy), pytest.raises(OutputLocked, match=rf"{copy} is being written by another run \(pid \d+ on "):
        run(sharded(), copy)


def test_foreign_folder_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(StorageError, match=r"already holds other files \(notes.txt\) and no dataset of this factory; "
                                           r"choose another --out"):
        run(sharded(), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_blown_up_episodes_are_quarantined_not_written(sharded_dataset, tmp_path):
    out = tmp_path / "q"
    m = run(sharded(quarantine={"max_speed": MAX_SPEED}), out)
    # the box only slows down, so its launch speed decides; sampling alone predicts the quarantine
    launch = {i: np.hypot(*(sample_episode(sharded(), i).params[f"box.vel.{a}"] for a in "xy")) for i in range(16)}
    expected = sorted(i for i, v in launch.items() if v > MAX_SPEED)
    assert 0 < len(expected) < 16
    assert [q["episode"] for q in m["quarantined"]] == expected
    assert all(q["seed"] == 7 and "exceeds quarantine.max_speed 2.5" in q["reason"] for q in m["quarantined"])
    assert m["counts"]["episodes"] == 16 - len(expected) and m["counts"]["quarantined"] == len(expected)
    assert verify(out) == []

    kept, full = open_dataset(out), open_dataset(sharded_dataset)
    assert kept.episodes()["episode"].to_pylist() == [i for i in range(16) if i not in expected]
    for fmt in ("parquet", "hdf5"):
        assert open_dataset(out, fmt).transitions().equals(
            full.transitions().filter(np.isin(full.transitions()["episode"].to_numpy(), expected, invert=True)))

    text = render(summarize(out))
    assert f"quarantined {len(expected)} episodes (not in the data)" in text
    assert f"episode {expected[0]:<8} seed 7      speed" in text


LAYOUT = Layout(("ball",), ("ground", "ball"), 0.01)


def rollout(states: np.ndarray, penetration: float = 0.0) -> Rollout:
    c = Contacts.empty() if not penetration else Contacts(
        np.array([1], np.int32), np.array([0], np.int16), np.array([1], np.int16), np.zeros((1, 3), np.float32),
        np.array([[0, 0, 1]], np.float32), np.zeros((1, 3), np.float32), np.array([penetration], np.float32))
    return Rollout(0, states.astype(np.float32), np.zeros((len(states) - 1, 3), np.float32), c)


def test_screen_reasons():
    ok = np.zeros((5, 13))
    ok[:, 3] = 1.0  # unit quaternion
    bounds = Quarantine(max_speed=10.0, max_penetration=0.01)
    assert screen(rollout(ok), LAYOUT, bounds) is None
    nan = ok.copy()
    nan[3, 0] = np.nan
    assert screen(rollout(nan), LAYOUT, Quarantine()) == "non-finite state at recorded step 3"
    fast = ok.copy()
    fast[2, 7:10] = [0, 11, 0]
    assert screen(rollout(fast), LAYOUT, bounds) == "speed 11 m/s of 'ball' exceeds quarantine.max_speed 10"
    assert screen(rollout(fast), LAYOUT, Quarantine()) is None  # no bound, no quarantine
    assert screen(rollout(ok, 0.02), LAYOUT, bounds) == "penetration 0.02 m exceeds quarantine.max_penetration 0.01"


def test_screen_checks_particles_too():
    ok = np.zeros((5, 13))
    ok[:, 3] = 1.0
    vel = np.zeros((5, 7, 3))
    vel[4, 2] = [0, 0, -30.0]
    r = Rollout(0, ok.astype(np.float32), np.zeros((4, 3), np.float32), points={"particle_vel": vel})
    assert screen(r, LAYOUT, Quarantine(max_speed=20.0)) == \
        "speed 30 m/s of particle_vel exceeds quarantine.max_speed 20"
    vel[1, 0, 0] = np.inf
    assert screen(r, LAYOUT, Quarantine()) == "non-finite particle_vel at recorded step 1"
