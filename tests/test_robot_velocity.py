"""The joint velocity controller: the arm follows a constant velocity command, scripted policies run
through it, and a controller that does not fit its actions is refused with its field and line."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from robot_scenes import PUSH, RECIPE, run

from factory.errors import RecipeError
from factory.recipe.loader import parse_recipe

VELOCITY = RECIPE.replace("steps: 1000", "steps: 400").replace("    action_space: joint_position\n", "").replace(
    "    gripper: {", "    controller: {type: joint_velocity, kv: 200}\n    gripper: {")
COMMAND = np.array([0.3, 0.0, 0.0, -0.2, 0.0, 0.4, 0.0])  # rad/s
# Measured with kv 200 and the links' gravity compensated: every joint within 0.002 rad/s of its command
# after 0.1 s, joint1 0.0027 rad behind 0.3 rad/s × 0.8 s (the first steps' lag).
SETTLED, LAG = 0.005, 0.005


def test_the_arm_follows_a_constant_velocity_command(tmp_path):
    names = [f"arm.joint{i}.velocity" for i in range(1, 8)] + ["arm.gripper"]
    rows = np.tile([*COMMAND, 1.0], (40, 1))
    path = tmp_path / "constant.parquet"
    pq.write_table(pa.table({"episode": [0] * 40, **{n: rows[:, i] for i, n in enumerate(names)}}), path)
    layout, records = run(VELOCITY.replace(PUSH, f"policy: {{type: replay, file: {path}}}"), [0])
    assert layout.action_names == names
    states, start = records[0].rollout.states, layout.robot_span("arm")[0]
    q, dq = states[:, start:start + 7], states[:, start + 9:start + 16]  # 9 joints: 7 arm, 2 fingers
    assert np.abs(dq[5:] - COMMAND).max() < SETTLED  # from 0.1 s on
    assert np.abs(q[-1] - q[0] - COMMAND * 0.8).max() < LAG
    error = records[0].step_labels["tracking_error__arm"]
    assert np.allclose(error, np.abs(dq[1:] - COMMAND).max(axis=-1)) and error[0] > SETTLED  # velocities


def test_a_reach_runs_through_the_velocity_controller():
    point = "policy: {type: reach, point: [0.1, -0.1, 0.2]}"
    _, records = run(VELOCITY.replace(PUSH, point).replace("steps: 400", "steps: 600"), [0])
    labels = records[0].episode_labels
    assert labels["reached__arm"] and labels["reach_error__arm"] < 0.01


@pytest.mark.parametrize("old, new, message", [
    ("controller: {type: joint_velocity, kv: 200}\n", "controller: {type: joint_velocity, kv: 200}\n"
     "    action_space: joint_position\n", "line 25: robots.0.action_space: a joint_velocity controller takes joint "
     "velocity targets"),
    ("controller: {type: joint_velocity, kv: 200}", "action_space: joint_velocity",
     r"line 24: robots.0.action_space: joint_velocity targets need the controller \{type: joint_velocity"),
    ("kv: 200", "kv: {joint1: 200}", "line 24: robots.0.controller.kv: no gain for joint2, joint3"),
    ("kv: 200", "kv: -5", "line 24: robots.0.controller.kv: must be > 0, got -5"),
    ("kv: 200", "kv: {joint1: 200, joint2: 200, joint3: 200, joint4: 200, joint5: 200, joint6: 200, joint7: 200, "
     "joint9: 1}", "line 24: robots.0.controller.kv.joint9: not an actuated joint"),
])
def test_a_controller_that_does_not_fit_is_refused_with_its_field_and_line(old, new, message):
    assert old in VELOCITY
    with pytest.raises(RecipeError, match=message):
        parse_recipe(VELOCITY.replace(old, new))
