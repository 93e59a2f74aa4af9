"""The MuJoCo adapter's own behaviour: its default contact's restitution, contact forces and sensors, fixed
bodies, and its refusals. (The analytic laws, on every engine: test_physics_laws.py.)"""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
from helpers import two_spheres

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


def simulate(recipe, indices=range(4)):
    engine = MuJoCoEngine(recipe)
    try:
        specs = [sample_episode(recipe, i) for i in indices]
        return specs, engine.run_batch(specs), engine.layout
    finally:
        engine.close()


def test_head_on_contact_forces_obey_newtons_third_law():
    """Body a feels -F, b feels +F, along the normal from a to b: a is pushed back."""
    _, rollouts, _ = simulate(two_spheres("mujoco"))  # no gravity, above the floor: the spheres' contact only
    for r in rollouts:
        c = r.contacts
        assert len(c) and set(zip(c.body_a.tolist(), c.body_b.tolist(), strict=True)) <= {(1, 2), (2, 1)}
        along = np.einsum("ij,ij->i", c.force_on_a, c.normal)
        assert (along <= 1e-6).all()


def test_restitution_below_the_floor_gets_the_default_contact():
    recipe = two_spheres("mujoco")  # unset: e = 0, MuJoCo's default contact bounces a little
    _, rollouts, layout = simulate(recipe)
    for r in rollouts:
        vx = {o: layout.field(r.states, o, "vel")[:, 0] for o in ("left", "right")}
        e = (vx["right"][-1] - vx["left"][-1]) / (vx["left"][0] - vx["right"][0])
        assert 0.05 < e < DIRECT_MIN


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
    two_spheres("mujoco", left=1.0)  # 1.0 with 0 means 0.5: fine
    err = check_refuses("mujoco", two_spheres("mujoco", left=1.0, right=0.95), "scene.objects.0.restitution")
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
