"""A generated mug pours on Genesis: its liquid starts inside its round cavity, an upright mug holds it,
and a fast, far tilt pours it into the basin; the mug's drawn sizes are the episode's parameters.

One batched scene for the module: two envs of one scene variant of the shipped `pour_mug` recipe, one
left upright, one tilted at 4 rad/s to 135°.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import shipped

from engines.genesis.engine import GenesisEngine
from factory.contract.sampling import sample_episode
from factory.labels import label_context, label_rollout
from factory.labels.pour import in_cavity
from factory.recipe.containers import container_cavity, tilt_schedule
from factory.recipe.scene_fields import episode_scene

pytestmark = pytest.mark.genesis
STEPS = 250
TILTS = [0.0, 4.0]  # rad/s about the -x lip, up to 135°


@pytest.fixture(scope="module")
def poured():
    tilt = shipped("fluid/pour_mug.yaml").actions[0].model_dump() | {"stop": None}  # each env gets its own below
    recipe = shipped("fluid/pour_mug.yaml", n_envs=len(TILTS), steps=STEPS, actions=[tilt])
    specs = []
    for k, omega in enumerate(TILTS):
        spec = sample_episode(recipe, 4 * k)  # episodes 0 and 4: scene variant 0 both
        velocities = np.zeros_like(spec.velocities)
        velocities[:, 0, 1] = -tilt_schedule(omega, 135.0, 0, STEPS, recipe.dt, STEPS)  # about -y: the -x lip
        specs.append(dataclasses.replace(spec, velocities=velocities))
    scene = episode_scene(recipe, specs[0].params)  # the variant's mug, as the runner builds it
    engine = GenesisEngine(scene)
    try:
        rollouts = engine.run_batch(specs)
    finally:
        engine.close()
    ctx = label_context(scene, engine.layout)
    return scene, engine.layout, specs, [label_rollout(r, s.params, ctx) for r, s in zip(rollouts, specs, strict=True)]


def test_the_mug_s_drawn_size_is_the_episode_s_and_its_liquid_starts_inside_it(poured):
    scene, layout, specs, records = poured
    shape = scene.scene.objects[0].shape
    radius, height = specs[0].params["mug.radius"], specs[0].params["mug.height"]
    assert 0.075 <= radius <= 0.09 and 0.13 <= height <= 0.16
    assert (shape.radius, shape.height) == (radius, height)  # the built scene's mug
    cavity = container_cavity(shape)
    assert len(cavity) == 3 and cavity[2] == pytest.approx((radius - 0.012) * np.cos(np.pi / 32))
    for r in records:
        pos = r.rollout.points["particle_pos"].astype(np.float64)
        states = r.rollout.states.astype(np.float64)
        centre, quat = layout.field(states, "mug", "pos"), layout.field(states, "mug", "quat")
        assert in_cavity(pos[:1], centre[:1], quat[:1], cavity, 0.0).all()  # every particle, at step 0


def test_an_upright_mug_holds_its_liquid_and_a_tilted_one_pours_it_into_the_basin(poured):
    _, layout, _, records = poured
    still, tilted = records
    assert still.episode_labels["poured_fraction"] == 0.0 and still.episode_labels["first_outflow_step"] == -1
    assert np.abs(layout.field(still.rollout.states, "mug", "pos") - still.rollout.states[0, :3]).max() < 1e-4
    assert tilted.episode_labels["poured_fraction"] > 0.5, (tilted.episode_labels, tilted.step_labels["poured"][::10])
    assert tilted.episode_labels["in_target_fraction"] > 0.3
    assert tilted.episode_labels["particles_conserved"]
    s = tilted.step_labels
    assert np.allclose(s["in_target"] + s["spilled"], s["poured"], atol=1e-6)
