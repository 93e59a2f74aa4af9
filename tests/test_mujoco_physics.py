"""The MuJoCo adapter against analytic physics (mirrors test_genesis_physics.py), and its refusals."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
from test_genesis_physics import TWO_SPHERES  # the same scene as the Genesis tests

from engines.mujoco import MuJoCoEngine
from engines.mujoco.restitution import DIRECT_MIN
from factory.contract.sampling import sample_episode
from factory.generate.conformance import check_refuses
from factory.labels import label_context, label_rollout
from factory.recipe.loader import parse_recipe

G = 9.81
SLIDING_BOX = """\
name: slide
engine: mujoco
seed: 7
episodes: 4
steps: 200
dt: 0.005
n_envs: 4
scene:
  ground: {friction: 0.01}
  objects:
    - name: box
      shape: {type: box, size: [0.3, 0.3, 0.1]}
      mass: {type: log_uniform, low: 0.5, high: 4.0}
      friction: {type: uniform, low: 0.2, high: 0.5}
      pos: [0, 0, 0.05]
      euler: [0, 0, {type: uniform, low: 0, high: 90}]
      vel: [{type: uniform, low: 1.0, high: 3.0}, {type: normal, mean: 0, std: 0.3}, 0]
"""


def two_spheres(gz: float = 0.0, z: float = 0.5, left: float | None = None, right: float | None = None):
    """Genesis' two-sphere test scene on MuJoCo, with the spheres' restitution where given."""
    recipe = parse_recipe(TWO_SPHERES.format(gz=gz, z=z).replace("engine: genesis", "engine: mujoco"))
    data = recipe.model_dump(mode="json")
    for obj, e in zip(data["scene"]["objects"], (left, right), strict=True):
        obj["restitution"] = e
    return type(recipe).model_validate(data)


def simulate(recipe, indices=range(4)):
    engine = MuJoCoEngine(recipe)
    try:
        specs = [sample_episode(recipe, i) for i in indices]
        return specs, engine.run_batch(specs), engine.layout
    finally:
        engine.close()


def test_free_fall_matches_half_g_t_squared():
    recipe = two_spheres(gz=-G, z=3.0)
    recipe = recipe.model_copy(update={"scene": recipe.scene.model_copy(update={"objects": [
        o.model_copy(update={"vel": [0.0, 0.0, 0.0]}) for o in recipe.scene.objects]})})
    _, rollouts, layout = simulate(recipe)
    t = np.arange(recipe.steps + 1) * recipe.dt
    for r in rollouts:
        z = layout.field(r.states, "left", "pos")[:, 2]
        assert np.all(np.abs(z - (3.0 - G * t ** 2 / 2)) <= G * recipe.dt * t / 2 + 1e-4)
        assert np.allclose(layout.field(r.states, "left", "vel")[:, 2], -G * t, atol=1e-3)
        assert len(r.contacts) == 0


def test_head_on_collision_conserves_momentum_and_labels_it():
    recipe = two_spheres()  # no gravity, above the floor: no external force
    specs, rollouts, layout = simulate(recipe)
    ctx = label_context(recipe, layout)
    for spec, r in zip(specs, rollouts, strict=True):
        m = {b.name: b.mass for b in spec.bodies}
        p = sum(m[o] * layout.field(r.states, o, "vel") for o in ("left", "right"))
        assert np.allclose(p, p[0], atol=1e-3 * np.abs(p[0]).max() + 1e-4)
        labels = label_rollout(r, spec.params, ctx).episode_labels
        assert labels["touched__left__right"] and labels["impacts__left__right"] == 1
        k = labels["first_contact__left__right"]
        gap = np.linalg.norm(layout.field(r.states, "left", "pos") - layout.field(r.states, "right", "pos"),
                             axis=-1) - 0.2
        closing = abs(vx0 := layout.field(r.states, "left", "vel")[0, 0] - layout.field(r.states, "right", "vel")[0, 0])
        # contacts found at the start of a step are recorded with the state it ends in (as on Genesis)
        assert vx0 and gap[k] <= 1e-3 and gap[k - 1] > -closing * recipe.dt
        # Newton's third law in the recorded contacts: body a feels -F, b feels +F, along the normal
        c = r.contacts
        assert set(zip(c.body_a.tolist(), c.body_b.tolist(), strict=True)) <= {(1, 2), (2, 1)}
        along = np.einsum("ij,ij->i", c.force_on_a, c.normal)
        assert (along <= 1e-6).all()  # the normal points from a to b: a is pushed back


@pytest.mark.parametrize("e_left, e_right", [(0.8, 0.4), (1.0, 0.0)])
def test_head_on_restitution_is_the_mean_of_both(e_left, e_right):
    recipe = two_spheres(left=e_left, right=e_right)
    _, rollouts, layout = simulate(recipe)
    measured = []
    for r in rollouts:
        vx = {o: layout.field(r.states, o, "vel")[:, 0] for o in ("left", "right")}
        measured.append((vx["right"][-1] - vx["left"][-1]) / (vx["left"][0] - vx["right"][0]))
    # each impact lands at its own phase of a step (2-6 m/s, a 6-step contact): spread ±0.1 around the mean
    e = (e_left + e_right) / 2
    assert np.mean(measured) == pytest.approx(e, abs=0.04)
    assert np.allclose(measured, e, atol=0.12)


def test_restitution_below_the_floor_gets_the_default_contact():
    recipe = two_spheres()  # unset: e = 0, MuJoCo's default contact bounces a little
    _, rollouts, layout = simulate(recipe)
    for r in rollouts:
        vx = {o: layout.field(r.states, o, "vel")[:, 0] for o in ("left", "right")}
        e = (vx["right"][-1] - vx["left"][-1]) / (vx["left"][0] - vx["right"][0])
        assert 0.05 < e < DIRECT_MIN


def test_sliding_box_decelerates_at_mu_g():
    recipe = parse_recipe(SLIDING_BOX)
    specs, rollouts, layout = simulate(recipe)
    ctx = label_context(recipe, layout)
    for spec, r in zip(specs, rollouts, strict=True):
        mu = spec.params["box.friction"]
        speed = np.linalg.norm(layout.field(r.states, "box", "vel")[:, :2], axis=-1)
        t = np.arange(len(speed)) * layout.record_dt
        sliding = speed > 0.3 * speed[0]
        assert np.polyfit(t[sliding], speed[sliding], 1)[0] == pytest.approx(-mu * G, rel=0.05)
        labels = label_rollout(r, spec.params, ctx).episode_labels
        assert labels["came_to_rest"]
        assert labels["rest_step"] * layout.record_dt == pytest.approx(speed[0] / (mu * G), abs=0.05)
        assert labels["friction_cos__box"] < -0.9


def test_contact_sensors_match_mj_contact_force():
    """The contact sensors `mujoco.rollout` records give what MuJoCo's own per-contact extraction gives."""
    from engines.mujoco.contacts import sensor_contacts
    from engines.mujoco.episode import EpisodeSetup
    from engines.mujoco.mjcf import scene_model

    recipe = parse_recipe(SLIDING_BOX.replace("vel: [{type: uniform, low: 1.0, high: 3.0}, "
                                              "{type: normal, mean: 0, std: 0.3}, 0]",
                                              "vel: [0.3, 0, 0]"))
    setup = EpisodeSetup(recipe, scene_model(recipe), MuJoCoEngine(recipe).layout)
    spec = sample_episode(recipe, 0)
    m, d = setup.model, setup.data
    setup.initial_state(m, spec)
    mujoco.mj_step(m, d, 50)
    contacts = sensor_contacts(d.sensordata[None].copy(), setup.scene)
    assert len(contacts) == d.ncon == 4  # a box flat on a plane: its four corners
    for i in range(d.ncon):
        f = np.zeros(6)
        mujoco.mj_contactForce(m, d, i, f)
        on_geom2 = d.contact.frame[i].reshape(3, 3).T @ f[:3]
        # the sensor orders the pair as declared (plane, box); MuJoCo's contact may have them swapped
        sign = 1.0 if tuple(d.contact.geom[i]) == (0, 1) else -1.0
        row = np.flatnonzero(np.all(np.isclose(contacts.position, d.contact.pos[i], atol=1e-6), axis=1))
        assert len(row) == 1
        assert np.allclose(contacts.force_on_a[row[0]], -sign * on_geom2, rtol=1e-5, atol=1e-6)
    # the plane (a) pushes the box (b) up with its weight, shared by the corners
    assert -contacts.force_on_a[:, 2].sum() == pytest.approx(spec.bodies[0].mass * G, rel=0.02)
    assert (contacts.body_a == 0).all() and (contacts.body_b == 1).all()


def test_particle_recipes_are_refused_naming_the_kind(tmp_path, capsys):
    from pathlib import Path

    from factory.cli import main

    root = Path(__file__).resolve().parent.parent / "recipes"
    for kind in ("fluid", "cloth"):
        source = sorted((root / kind).glob("*.yaml"))[0].read_text()
        path = tmp_path / f"{kind}.yaml"
        path.write_text("\n".join("engine: mujoco" if line.startswith("engine:") else line
                                  for line in source.splitlines()))
        assert main(["validate", str(path)]) == 2
        err = capsys.readouterr().err
        assert "kind: the MuJoCo adapter simulates rigid collisions" in err and f"scene.{kind}" in err


def test_missing_mujoco_names_the_pip_line(monkeypatch):
    import sys

    from engines import load_engine
    from factory.errors import EngineNotInstalled

    for name in [m for m in sys.modules if m == "mujoco" or m.startswith(("mujoco.", "engines.mujoco"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mujoco", None)  # import mujoco now fails as if not installed
    with pytest.raises(EngineNotInstalled, match=r"pip install -e '\.\[mujoco\]'"):
        load_engine("mujoco")


def test_unreachable_restitution_is_refused_naming_the_field():
    two_spheres(left=1.0)  # 1.0 with 0 means 0.5: fine
    err = check_refuses("mujoco", two_spheres(left=1.0, right=0.95), "scene.objects.0.restitution")
    assert "0.95" in str(err)


def test_a_fixed_wall_stays_put_and_turns_a_ball_back():
    recipe = parse_recipe("""\
name: wall
engine: mujoco
seed: 3
episodes: 2
steps: 150
dt: 0.004
n_envs: 2
scene:
  ground: {friction: 0.01, size: [3.0, 3.0]}
  objects:
    - name: ball
      shape: {type: sphere, radius: 0.05}
      pos: [-0.3, 0, 0.05]
      vel: [2.0, 0, 0]
    - name: wall
      shape: {type: box, size: [0.1, 1.0, 0.3]}
      fixed: true
      pos: [{type: uniform, low: 0.1, high: 0.2}, 0, 0.15]
      euler: [0, 0, {type: uniform, low: -10, high: 10}]
""")
    specs, rollouts, layout = simulate(recipe, range(2))
    ctx = label_context(recipe, layout)
    for spec, r in zip(specs, rollouts, strict=True):
        wall = spec.bodies[1]
        assert np.allclose(layout.field(r.states, "wall", "pos"), wall.pos, atol=1e-6)
        assert np.allclose(layout.field(r.states, "wall", "quat"), wall.quat, atol=1e-6)
        assert not layout.field(r.states, "wall", "vel").any()
        assert layout.field(r.states, "ball", "vel")[-1, 0] < 0  # bounced off the wall
        labels = label_rollout(r, spec.params, ctx).episode_labels
        assert labels["touched__ball__wall"] and not labels["touched__ground__wall"]
