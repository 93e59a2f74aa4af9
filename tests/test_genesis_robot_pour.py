"""The robot pour on Genesis: the Panda holds a cup of SPH liquid and tilts it about its lip over a basin.

One batched scene for the module: two envs of the shipped `robot/pour` recipe, shortened, one tilted to
30° (the liquid stays in) and one to 115° (it pours into the basin).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import shipped

from engines.genesis.engine import GenesisEngine
from factory.contract.sampling import sample_episode
from factory.labels import label_context, label_rollout, particle_context
from factory.labels.pour import in_cavity
from factory.model.particle_evaluate import readout
from factory.recipe.containers import container_cavity

pytestmark = pytest.mark.genesis
STEPS = 400
ANGLES = [30.0, 115.0]


def _tilted(recipe, index: int, angle: float):
    """Episode `index` with the tilt's drawn angle set to `angle`."""
    spec = sample_episode(recipe, index)
    arm = spec.robots[0]
    return dataclasses.replace(spec, robots=(dataclasses.replace(arm, policy=arm.policy | {"angle_deg": angle}),))


@pytest.fixture(scope="module")
def poured():
    recipe = shipped("robot/pour.yaml", n_envs=len(ANGLES), steps=STEPS)
    specs = [_tilted(recipe, k, angle) for k, angle in enumerate(ANGLES)]
    engine = GenesisEngine(recipe)
    try:
        rollouts = engine.run_batch(specs)
        alone = engine.run_batch(specs[1:])[0]  # the pouring episode alone, padded with copies of itself
    finally:
        engine.close()
    ctx = label_context(recipe, engine.layout)
    records = [label_rollout(r, s.params, ctx) for r, s in zip(rollouts, specs, strict=True)]
    return recipe, engine.layout, records, alone


def test_the_liquid_starts_inside_the_held_cup_which_moves_with_the_hand(poured):
    recipe, layout, records, _ = poured
    cavity = container_cavity(recipe.scene.objects[0].shape)
    start = layout.robot_span("arm")[0] + 18  # the tool point: 9 joints' q and dq before it
    for r in records:
        pos = r.rollout.points["particle_pos"].astype(np.float64)
        states = r.rollout.states.astype(np.float64)
        centre, quat = layout.field(states, "cup", "pos"), layout.field(states, "cup", "quat")
        assert pos.shape[1] == layout.n_points == 64  # every particle recorded
        assert in_cavity(pos[:1], centre[:1], quat[:1], cavity, 0.0).all()
        held = np.linalg.norm(centre - states[:, start:start + 3], axis=-1)
        assert np.abs(held - held[0]).max() < 1e-3  # carried: where the hand's pose puts it


def test_the_arm_tilts_the_cup_about_its_lip_and_pours_into_the_basin(poured):
    _, _, records, _ = poured
    still, tilted = records
    for angle, r in zip(ANGLES, records, strict=True):
        labels = r.episode_labels
        assert labels["tilt_deg__cup"] == pytest.approx(angle, abs=3)
        assert labels["lip_drift__cup"] < 0.02  # measured 10-13 mm
        assert labels["particles_conserved"]
    assert still.episode_labels["poured_fraction"] == 0.0 and still.episode_labels["first_outflow_step"] == -1
    e, s = tilted.episode_labels, tilted.step_labels
    assert e["poured_fraction"] > 0.5 and e["in_target_fraction"] > 0.5, (e, s["poured"][::10])
    assert e["first_outflow_step"] > 0.2 * len(s["poured"])  # after the tilt began
    assert np.allclose(s["in_target"] + s["spilled"], s["poured"], atol=1e-6)


def test_a_pour_alone_is_the_same_bytes_as_in_its_batch(poured):
    _, _, records, alone = poured
    together = records[1].rollout
    assert np.array_equal(alone.states, together.states) and np.array_equal(alone.actions, together.actions)
    assert all(np.array_equal(alone.points[k], together.points[k]) for k in together.points)


def test_the_report_reads_a_robot_pour_s_liquid_as_its_labels_did(poured):
    """The quality report's model readout labels predicted points with the liquid's own context."""
    recipe, layout, records, _ = poured
    ctx = label_context(recipe, layout)
    assert particle_context(ctx) is ctx.fluid and ctx.fluid.pour is not None
    r = records[1]
    found = readout(r.rollout.points["particle_pos"], layout.record_dt, ctx, r.rollout.states)
    assert {"surface_height", "max_splash_height"} <= set(found)
    assert all(found[k] == pytest.approx(r.episode_labels[k], abs=1e-6) for k in found)
