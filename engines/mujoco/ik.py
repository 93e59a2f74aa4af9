"""Damped least squares inverse kinematics for a robot's tool point, on a scratch MjData.

dq = Jᵀ (J Jᵀ + λ² I)⁻¹ e over the actuated joints, with e the tool point's position error and
the ee link's orientation error, a few iterations from the current configuration, clamped to the
joint ranges. Solved once per recorded step, from where the arm is, so a few iterations suffice.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from engines.mujoco.robot_scene import RobotParts

ITERATIONS = 3  # a recorded step's target is centimetres from the arm: 3 land 3 cm moves within 0.01 mm
DAMPING = 0.05  # λ: bounds the step near singular configurations
_DAMP = DAMPING ** 2 * np.eye(6)


def tool_point(data: mujoco.MjData, part: RobotParts) -> np.ndarray:
    """The tool point (world) from the data's current kinematics."""
    return data.xpos[part.ee] + data.xmat[part.ee].reshape(3, 3) @ np.asarray(part.recipe.ee_offset)


def solve(model: mujoco.MjModel, scratch: mujoco.MjData, qpos: np.ndarray, part: RobotParts,
          target: np.ndarray, quat: np.ndarray) -> np.ndarray:
    """Actuated joint positions putting the tool point at `target` with the ee link at orientation `quat`."""
    scratch.qpos[:] = qpos
    qadr, dadr = part.qadr[part.actuated], part.dadr[part.actuated]
    full = np.zeros((6, model.nv))
    error, current = np.zeros(6), np.zeros(4)
    for _ in range(ITERATIONS):
        mujoco.mj_kinematics(model, scratch)
        mujoco.mj_comPos(model, scratch)
        point = tool_point(scratch, part)
        mujoco.mj_jac(model, scratch, full[:3], full[3:], point, part.ee)
        error[:3] = target - point
        current[:] = scratch.xquat[part.ee]
        mujoco.mju_subQuat(error[3:], quat, current)  # in the ee frame
        error[3:] = scratch.xmat[part.ee].reshape(3, 3) @ error[3:]
        jac = full[:, dadr]
        step = jac.T @ np.linalg.solve(jac @ jac.T + _DAMP, error)
        scratch.qpos[qadr] = np.clip(scratch.qpos[qadr] + step, part.limits[:, 0], part.limits[:, 1])
    return scratch.qpos[qadr].copy()


def forward(model: mujoco.MjModel, scratch: mujoco.MjData, qpos: np.ndarray, part: RobotParts,
            joints: np.ndarray) -> np.ndarray:
    """The tool point with the actuated joints at `joints` and the rest as in `qpos`."""
    scratch.qpos[:] = qpos
    scratch.qpos[part.qadr[part.actuated]] = joints
    mujoco.mj_kinematics(model, scratch)
    return tool_point(scratch, part)


def rotated(turn: np.ndarray, quat: np.ndarray) -> np.ndarray:
    """Orientation `quat` (w, x, y, z) rotated by `turn` in the world frame."""
    out = np.zeros(4)
    mujoco.mju_mulQuat(out, np.asarray(turn, float), quat)
    return out


def turned(quat: np.ndarray, yaw: float) -> np.ndarray:
    """Orientation `quat` (w, x, y, z) turned by `yaw` rad about the world z axis."""
    out = np.zeros(4)
    mujoco.mju_mulQuat(out, np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]), quat)
    return out


def yaw(quat: np.ndarray, first: np.ndarray) -> float:
    """How far orientation `quat` is turned from `first` about the world z axis (rad; the z part of
    the rotation between them, which is all of it while a policy only turns the hand about z)."""
    inverse, rel = np.zeros(4), np.zeros(4)
    mujoco.mju_negQuat(inverse, first)
    mujoco.mju_mulQuat(rel, quat, inverse)
    return 2.0 * math.atan2(rel[3], rel[0])
