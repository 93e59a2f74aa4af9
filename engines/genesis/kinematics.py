"""A robot's kinematic chain from Genesis' description of it, and damped least squares IK over it.

Genesis solves IK on the live scene (its solver's state), which would disturb the episode being
stepped; the chain here is the same model as plain arrays (each link's pose in its parent, each
joint's axis), so trial configurations cost numpy only. dq = Jᵀ (J Jᵀ + λ² I)⁻¹ e over the actuated
joints, e the tool point's position error and the ee link's orientation error, a few iterations
from the current configuration, clamped to the joint ranges: the solver the MuJoCo adapter runs on
its own model, so a command means the same on both engines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ITERATIONS = 3  # a recorded step's target is centimetres from the arm
DAMPING = 0.05  # λ: bounds the step near singular configurations
_DAMP = DAMPING ** 2 * np.eye(6)


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    """Rotation matrix of a unit quaternion (w, x, y, z)."""
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a ⊗ b of quaternions (w, x, y, z)."""
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])


def turned(quat: np.ndarray, yaw: float) -> np.ndarray:
    """Orientation `quat` (w, x, y, z) turned by `yaw` rad about the world z axis."""
    return quat_mul(np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]), quat)


def yaw(quat: np.ndarray, first: np.ndarray) -> float:
    """How far orientation `quat` is turned from `first` about the world z axis (rad; the z part of
    the rotation between them, which is all of it while a policy only turns the hand about z)."""
    rel = quat_mul(quat, first * np.array([1.0, -1.0, -1.0, -1.0]))
    return 2.0 * math.atan2(rel[3], rel[0])


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation matrix by `angle` about unit `axis` (Rodrigues)."""
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def _rotation_error(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """World-frame rotation vector taking orientation matrix `current` to `target`."""
    rel = target @ current.T
    cos = np.clip((np.trace(rel) - 1) / 2, -1.0, 1.0)
    vec = np.array([rel[2, 1] - rel[1, 2], rel[0, 2] - rel[2, 0], rel[1, 0] - rel[0, 1]])
    angle = math.acos(cos)
    return vec * (0.5 if angle < 1e-6 else angle / (2 * math.sin(angle)))


@dataclass(frozen=True)
class Joint:
    index: int  # into the chain's joint positions
    axis: np.ndarray  # in the link's frame
    anchor: np.ndarray  # in the link's frame
    revolute: bool


@dataclass(frozen=True)
class Link:
    parent: int  # index into the chain's links, -1 for the root
    pos: np.ndarray  # in the parent's frame (the root's: world)
    rot: np.ndarray  # likewise
    joints: tuple[Joint, ...]


@dataclass(frozen=True)
class Chain:
    """The links from a robot's root to its ee link, in order; `joints` positions index the robot's joints."""

    links: tuple[Link, ...]
    offset: np.ndarray  # the tool point in the ee link's frame
    actuated: np.ndarray  # joint position index of each actuated joint
    limits: np.ndarray  # (n_actuated, 2)

    def pose(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[tuple[Joint, np.ndarray, np.ndarray]]]:
        """(tool point, ee rotation matrix, each joint with its world anchor and axis) at joint positions `q`."""
        poses: list[tuple[np.ndarray, np.ndarray]] = []
        axes = []
        for link in self.links:
            pos, rot = (link.pos, link.rot) if link.parent < 0 else \
                (poses[link.parent][0] + poses[link.parent][1] @ link.pos, poses[link.parent][1] @ link.rot)
            for joint in link.joints:
                anchor, axis = pos + rot @ joint.anchor, rot @ joint.axis
                axes.append((joint, anchor, axis))
                if joint.revolute:
                    turn = _axis_angle(axis, q[joint.index])
                    pos, rot = anchor + turn @ (pos - anchor), turn @ rot
                else:
                    pos = pos + axis * q[joint.index]
            poses.append((pos, rot))
        pos, rot = poses[-1]
        return pos + rot @ self.offset, rot, axes

    def solve(self, q: np.ndarray, target: np.ndarray, quat: np.ndarray) -> np.ndarray:
        """Actuated joint positions putting the tool point at `target` and the ee link at orientation `quat`."""
        q = q.astype(np.float64).copy()
        goal = quat_to_mat(quat)
        column = {int(j): c for c, j in enumerate(self.actuated)}
        for _ in range(ITERATIONS):
            point, rot, axes = self.pose(q)
            jac = np.zeros((6, len(self.actuated)))
            for joint, anchor, axis in axes:
                c = column.get(joint.index)
                if c is None:
                    continue
                jac[:, c] = np.concatenate([np.cross(axis, point - anchor), axis]) if joint.revolute else \
                    np.concatenate([axis, np.zeros(3)])
            error = np.concatenate([target - point, _rotation_error(goal, rot)])
            step = jac.T @ np.linalg.solve(jac @ jac.T + _DAMP, error)
            q[self.actuated] = np.clip(q[self.actuated] + step, self.limits[:, 0], self.limits[:, 1])
        return q[self.actuated].copy()

    def tool(self, q: np.ndarray) -> np.ndarray:
        """The tool point at joint positions `q`."""
        return self.pose(q)[0]
