"""Robot figures of one episode: how much of each command's way the arm did not cover in its
transition, from the recorded states and actions (the error is `factory.labels.robot.tracking_error`,
the label's own measure; the way is how far the command asked it to go from where it was).

A ratio rather than the error itself: a scripted policy may ask for a far target (a servo then lags
by a lot) or a near one, but an arm that follows its commands always covers part of the way (ratio
below 1), and one that ignores them covers none (1) or goes elsewhere (above 1).
"""

from __future__ import annotations

import numpy as np

from factory.contract.rollout import Layout
from factory.labels.robot import tracking_error
from factory.recipe.robots import Robot

MAX_TRACKING = 0.95  # median share of a command's way left: an arm that follows covers a part of each way
MIN_WAY = 1e-6  # rad or m: a command this close to where the arm is asks for nothing


def command_way(layout: Layout, robot: Robot, states: np.ndarray, actions: np.ndarray, action_start: int
                ) -> np.ndarray:
    """(T,) how far each action asked the arm to go: the largest |target − q(t)| over the actuated
    joints (rad or m; for `joint_velocity` |target − dq(t)|, rad/s or m/s), or for `ee_delta` the length
    of the asked tool displacement (m)."""
    if robot.action_space == "ee_delta":
        return np.linalg.norm(actions[:, action_start:action_start + 3], axis=-1)
    start, _ = layout.robot_span(robot.name)
    block = next(b for b in layout.robots if b.name == robot.name)
    cols = [start + block.joints.index(j) for j in robot.actuated]
    asked = actions[:, action_start:action_start + len(cols)]
    if robot.action_space == "joint_delta":
        return np.abs(asked).max(axis=-1)
    now = states[:-1, [c + len(block.joints) for c in cols] if robot.action_space == "joint_velocity" else cols]
    return np.abs(asked - now).max(axis=-1)


def tracking_ratios(layout: Layout, robots: tuple[Robot, ...], states: np.ndarray, actions: np.ndarray
                    ) -> dict[str, np.ndarray]:
    """Per robot, for each transition that asked for a move: its tracking error over the way asked."""
    out, start = {}, 0
    for robot in robots:
        error = tracking_error(layout, robot, states, actions, start)
        way = command_way(layout, robot, states, actions, start)
        out[robot.name] = error[way > MIN_WAY] / way[way > MIN_WAY]
        start += len(robot.action_names)
    return out
