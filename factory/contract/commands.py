"""What a scripted policy reads and what it returns: the true state at a recorded step, and a command.

Shared by every policy module and by the engines that run them (`factory.contract.policies.act`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Observation:
    """The true state a policy reads at recorded step `step` of `steps`."""

    step: int
    steps: int
    q: np.ndarray  # the actuated joints' positions, in `Robot.actuated` order
    tool: np.ndarray  # the tool point (world, m)
    tool_start: np.ndarray  # the tool point at step 0
    objects: dict[str, np.ndarray]  # object name → its centre (world, m)


@dataclass(frozen=True)
class Command:
    """Where the policy wants the robot: a tool-point target, joint targets, or the action itself (exactly
    one). With a tool target, `yaw` turns the ee link's first orientation about the world z axis (rad).
    `gripper` (0 open .. 1 closed) drives a robot's gripper; unset, the gripper stays closed. `action` is
    a whole action row in the robot's action space, gripper included, applied as given (a replay). `turn`
    rotates the ee link's first orientation before the yaw (a tilt)."""

    tool: np.ndarray | None = None
    joints: np.ndarray | None = None
    yaw: float = 0.0
    gripper: float | None = None
    action: np.ndarray | None = None
    turn: np.ndarray | None = None  # a rotation (w, x, y, z, world frame) of the ee link's first orientation
