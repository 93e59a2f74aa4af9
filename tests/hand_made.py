"""Hand-made episodes for the storage tests (no engine): six collision episodes of two spheres with
contacts, params and labels, and three fluid/cloth-like episodes of point fields."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from factory.contract.rollout import Contacts, EpisodeRecord, Layout, Rollout
from factory.generate.plan import plan_shards
from factory.generate.provenance import build_manifest
from factory.generate.shard import write_shard
from factory.recipe.loader import parse_recipe
from factory.storage import FORMATS
from factory.storage.manifest import write_manifest

RECIPE = parse_recipe("""\
name: synthetic
engine: genesis
seed: 0
episodes: 6
steps: 10
dt: 0.01
scene:
  objects:
    - {name: a, shape: {type: sphere, radius: 0.1}, mass: {type: uniform, low: 1, high: 2}, pos: [0, 0, 0.1]}
    - {name: b, shape: {type: sphere, radius: 0.1}, pos: [1, 0, 0.1]}
outputs: {shard_size: 4}
""")
LAYOUT = Layout(("a", "b"), ("ground", "a", "b"), 0.01)


def record(i: int, T: int = 10) -> EpisodeRecord:
    rng = np.random.default_rng(i)
    n = 3
    contacts = Contacts(np.array([1, 4, 4], np.int32), np.array([0, 1, 0], np.int16), np.array([1, 2, 2], np.int16),
                        rng.random((n, 3), np.float32), rng.random((n, 3), np.float32),
                        rng.random((n, 3), np.float32), rng.random(n, np.float32))
    return EpisodeRecord(
        Rollout(i, rng.random((T + 1, LAYOUT.state_size), np.float32), rng.random((T, 6), np.float32), contacts),
        params={"a.mass": 1.0 + i / 10, "b.mass": 1.0},
        step_labels={"n_contacts": np.arange(T, dtype=np.int16), "max_contact_force": np.ones(T, np.float32)},
        episode_labels={"touched__a__b": bool(i % 2), "first_contact__a__b": 4 if i % 2 else -1,
                        "max_speed__a": float(i)},
    )


def write_dataset(root: Path, episodes: int = 6) -> dict[int, EpisodeRecord]:
    records = {i: record(i) for i in range(episodes)}
    entries = [write_shard(root, s, [records[i] for i in s.episodes], LAYOUT, list(FORMATS))
               for s in plan_shards(episodes, RECIPE.outputs.shard_size)]
    write_manifest(root, build_manifest(RECIPE, {"name": "none", "version": "0", "backend": "cpu"},
                                        LAYOUT, entries, episodes, None))
    return records


def write_points_dataset(root: Path) -> list[EpisodeRecord]:
    """3 fluid/cloth-like episodes: 7 points of two (T+1, N, 3) fields, in every format."""
    layout = Layout(("a",), ("a",), 0.01, ("particle_pos", "particle_vel"), 7, ("a.velocity.x",))
    rng = np.random.default_rng(0)
    records = [EpisodeRecord(
        Rollout(i, rng.random((5, 13), np.float32), rng.random((4, 1), np.float32), Contacts.empty(),
                {"particle_pos": rng.random((5, 7, 3), np.float32), "particle_vel": rng.random((5, 7, 3), np.float32)},
                np.arange(0, 14, 2)),
        {"a.mass": 1.0}, {"mean_height": np.ones(4, np.float32)}, {"settled": True}) for i in range(3)]
    entries = [write_shard(root, plan_shards(3, 8)[0], records, layout, list(FORMATS))]
    write_manifest(root, build_manifest(RECIPE, {"name": "none", "version": "0", "backend": "cpu"},
                                        layout, entries, 3, None))
    return records
