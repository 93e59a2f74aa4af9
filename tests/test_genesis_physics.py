"""Genesis datasets: touch labels against the trajectories, the same seed giving the same bytes at any
batch size, another seed other data. (The analytic laws, on every engine: test_physics_laws.py.)

Scenes are shared: the tests here use the session's push and sliding-box datasets and sliding boxes
like them, so kernels compile once per machine and builds come from the on-disk cache after.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import small

from factory import open_dataset
from factory.generate.runner import run

pytestmark = pytest.mark.genesis


def test_touch_labels_agree_with_trajectories(push_target_dataset):
    """Cross-check 'did the ball touch the target' against the ball-to-box distance."""
    ds = open_dataset(push_target_dataset)
    layout = ds.layout
    touched = 0
    for i in range(ds.manifest["counts"]["episodes"]):
        ep = ds.episode(i)
        gap = _sphere_box_gap(layout.field(ep.states, "ball", "pos"), layout.field(ep.states, "target", "pos"),
                              layout.field(ep.states, "target", "quat"), radius=0.06, half=0.075)
        if ep.labels["touched__ball__target"]:
            touched += 1
            assert gap[ep.labels["first_contact__ball__target"]] < 0.01
        else:
            assert gap.min() > -1e-3
    assert ds.manifest["counts"]["episodes"] == 8


def _sphere_box_gap(center, box_pos, box_quat, radius, half):
    """Distance from a sphere's surface to a cube's surface (negative when overlapping)."""
    w, v = box_quat[:, :1], -box_quat[:, 1:]  # inverse rotation
    d = center - box_pos
    local = d + 2 * w * np.cross(v, d) + 2 * np.cross(v, np.cross(v, d))
    outside = np.linalg.norm(np.maximum(np.abs(local) - half, 0), axis=-1)
    return outside - radius


def test_same_seed_same_data_any_batch_size(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run(small("sliding_box", episodes=8, n_envs=4), a)
    run(small("sliding_box", episodes=8, n_envs=8), b)
    for fmt in ("parquet", "hdf5"):
        assert open_dataset(a, fmt).transitions().equals(open_dataset(b, fmt).transitions())
    def files(root):
        return {f["path"]: f["sha256"] for s in open_dataset(root).manifest["shards"] for f in s["files"]}
    assert files(a) == files(b)  # byte-identical shards


def test_different_seed_different_data(tmp_path, sliding_box_dataset):
    run(small("sliding_box", episodes=8, n_envs=4, seed=8), tmp_path / "c")
    a = open_dataset(sliding_box_dataset).triples()[0]
    c = open_dataset(tmp_path / "c").triples()[0]
    assert a.shape == c.shape and not np.array_equal(a, c)
