"""The Genesis adapter against analytic physics, and the labels against the trajectories.

Scenes are shared: every test here uses one of two scene shapes (two spheres over a plane, a box
on a plane), so kernels compile once per machine and builds come from the on-disk cache after.
"""

from __future__ import annotations

import numpy as np
import pytest

from factory import open_dataset
from factory.contract.sampling import sample_episode
from factory.labels import label_context, label_rollout
from factory.recipe.loader import parse_recipe

pytestmark = pytest.mark.genesis
G = 9.81

TWO_SPHERES = """\
name: two_spheres
engine: genesis
seed: 5
episodes: 4
steps: 150
dt: 0.004
n_envs: 4
scene:
  gravity: [0, 0, {gz}]
  ground: {{friction: 0.01}}
  objects:
    - name: left
      shape: {{type: sphere, radius: 0.1}}
      mass: {{type: uniform, low: 0.5, high: 2.0}}
      friction: 0.01
      pos: [-0.6, 0, {z}]
      vel: [{{type: uniform, low: 1.0, high: 3.0}}, 0, 0]
    - name: right
      shape: {{type: sphere, radius: 0.1}}
      mass: {{type: uniform, low: 0.5, high: 2.0}}
      friction: 0.01
      pos: [0.6, 0, {z}]
      vel: [{{type: uniform, low: -3.0, high: -1.0}}, 0, 0]
"""


def simulate(recipe, indices):
    from engines.genesis import GenesisEngine

    engine = GenesisEngine(recipe)
    try:
        specs = [sample_episode(recipe, i) for i in indices]
        return specs, engine.run_batch(specs), engine.layout
    finally:
        engine.close()


def test_free_fall_matches_half_g_t_squared():
    recipe = parse_recipe(TWO_SPHERES.format(gz=-G, z=3.0))
    recipe = recipe.model_copy(update={"scene": recipe.scene.model_copy(update={"objects": [
        o.model_copy(update={"vel": [0.0, 0.0, 0.0]}) for o in recipe.scene.objects]})})
    _, rollouts, layout = simulate(recipe, range(4))
    t = np.arange(recipe.steps + 1) * recipe.dt
    for r in rollouts:
        z = layout.field(r.states, "left", "pos")[:, 2]
        expected = 3.0 - G * t ** 2 / 2
        # semi-implicit Euler lags the exact parabola by g*dt*t/2 at most
        assert np.all(np.abs(z - expected) <= G * recipe.dt * t / 2 + 1e-4)
        vz = layout.field(r.states, "left", "vel")[:, 2]
        assert np.allclose(vz, -G * t, atol=1e-3)


def test_head_on_collision_conserves_momentum():
    recipe = parse_recipe(TWO_SPHERES.format(gz=0.0, z=0.5))  # no gravity, above the floor: no external force
    specs, rollouts, layout = simulate(recipe, range(4))
    ctx = label_context(recipe, layout)
    for spec, r in zip(specs, rollouts, strict=True):
        m = {b.name: b.mass for b in spec.bodies}
        p = sum(m[o] * layout.field(r.states, o, "vel") for o in ("left", "right"))
        assert np.allclose(p, p[0], atol=1e-3 * np.abs(p[0]).max() + 1e-4)
        labels = label_rollout(r, spec.params, ctx).episode_labels
        assert labels["touched__left__right"] and labels["impacts__left__right"] == 1
        # both spheres changed direction: the impact really happened
        vx = {o: layout.field(r.states, o, "vel")[:, 0] for o in ("left", "right")}
        assert vx["left"][-1] < vx["left"][0] and vx["right"][-1] > vx["right"][0]


def test_first_contact_label_agrees_with_distance():
    recipe = parse_recipe(TWO_SPHERES.format(gz=0.0, z=0.5))
    specs, rollouts, layout = simulate(recipe, range(4))
    ctx = label_context(recipe, layout)
    for spec, r in zip(specs, rollouts, strict=True):
        k = label_rollout(r, spec.params, ctx).episode_labels["first_contact__left__right"]
        gap = np.linalg.norm(layout.field(r.states, "left", "pos") - layout.field(r.states, "right", "pos"),
                             axis=-1) - 0.2
        closing = np.abs(layout.field(r.states, "left", "vel")[0, 0] - layout.field(r.states, "right", "vel")[0, 0])
        assert k > 0
        assert gap[k] <= 1e-3, "a contact reported while the spheres were apart"
        assert gap[k - 1] > -closing * recipe.dt, "the contact started before it was reported"


def test_sliding_box_decelerates_at_mu_g(sliding_box_dataset):
    ds = open_dataset(sliding_box_dataset)
    for i in range(4):
        ep = ds.episode(i)
        mu = ep.params["box__friction"]
        speed = np.linalg.norm(ds.layout.field(ep.states, "box", "vel")[:, :2], axis=-1)
        t = np.arange(len(speed)) * ds.layout.record_dt
        sliding = speed > 0.3 * speed[0]
        slope = np.polyfit(t[sliding], speed[sliding], 1)[0]
        assert slope == pytest.approx(-mu * G, rel=0.1)
        assert ep.labels["came_to_rest"]
        # the label's stop time matches v0 / (mu g)
        assert ep.labels["rest_step"] * ds.layout.record_dt == pytest.approx(speed[0] / (mu * G), abs=0.1)
        assert ep.labels["friction_cos__box"] < -0.8


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
    from conftest import small

    from factory.generate.runner import run

    a, b = tmp_path / "a", tmp_path / "b"
    run(small("sliding_box", episodes=8, n_envs=4), a)
    run(small("sliding_box", episodes=8, n_envs=8), b)
    for fmt in ("parquet", "hdf5"):
        assert open_dataset(a, fmt).transitions().equals(open_dataset(b, fmt).transitions())
    def files(root):
        return {f["path"]: f["sha256"] for s in open_dataset(root).manifest["shards"] for f in s["files"]}
    assert files(a) == files(b)  # byte-identical shards


def test_different_seed_different_data(tmp_path, sliding_box_dataset):
    from conftest import small

    from factory.generate.runner import run

    run(small("sliding_box", episodes=8, n_envs=4, seed=8), tmp_path / "c")
    a = open_dataset(sliding_box_dataset).triples()[0]
    c = open_dataset(tmp_path / "c").triples()[0]
    assert a.shape == c.shape and not np.array_equal(a, c)
