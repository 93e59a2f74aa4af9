"""A recipe's cup as a Genesis body, and the tilt that turns it about its lip by velocity.

The cup is one body of five boxes (floor and walls) in an MJCF file the factory writes: Genesis
couples each box to the liquid through its signed distance field, so the walls stay exact boxes
with no mesh repair or convex decomposition. Its inertial frame is its outer box's centre, so the
pose Genesis reports is the pose its cavity is measured in (`factory.recipe.containers`).

A tilting cup is a free, gravity-compensated body placed on its path at the start of every step
and given the rigid velocity of that path (angular ω about the lip, linear ω × r): Genesis moves
liquid with the velocity of the body it touches, so a cup teleported from pose to pose would pass
through its own liquid.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from factory.recipe.containers import CupShape, container_lip, rotation_matrices
from factory.recipe.generated import MugShape

# kg: a driven cup must not be pushed off its path by the liquid within a step (it is set back at the next
# one, and the liquid resting on its floor would follow it down a little every step); its mass only
# decides how far the liquid's push takes it in a step, so it is made far heavier than any liquid here
DRIVEN_MASS = 1000.0


def cup_file(shape: CupShape, free: bool) -> str:
    """Path of an MJCF file holding the cup (written once per geometry, in the temp folder)."""
    boxes = "".join(f'<geom type="box" pos="{_vec(c)}" size="{_vec(s / 2)}"/>' for c, s in shape.boxes())
    body = boxes
    if free:  # a free joint, and the mass centred on the outer box whatever the walls' own centroid
        inertia = DRIVEN_MASS * float(np.sum(shape.outer ** 2)) / 12
        body = (f'<freejoint/><inertial pos="0 0 0" mass="{DRIVEN_MASS!r}" '
                f'diaginertia="{inertia!r} {inertia!r} {inertia!r}"/>' + boxes)
    xml = f'<mujoco model="cup"><worldbody><body name="cup">{body}</body></worldbody></mujoco>\n'
    folder = Path(tempfile.gettempdir()) / "physics-factory-cups"
    folder.mkdir(exist_ok=True)
    path = folder / f"{hashlib.sha256(xml.encode()).hexdigest()[:16]}.xml"
    if not path.exists():  # written whole under a private name, then renamed: concurrent workers agree
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(xml)
        tmp.replace(path)
    return str(path)


def _vec(v) -> str:
    return " ".join(repr(float(x)) for x in v)


def rotation(rotvec: np.ndarray) -> np.ndarray:
    """Rotation matrices (B, 3, 3) of rotation vectors (B, 3) (Rodrigues)."""
    angle = np.linalg.norm(rotvec, axis=-1)[:, None, None]
    k = np.divide(rotvec, angle[:, 0], out=np.zeros_like(rotvec), where=angle[:, 0] > 0)
    cross = np.zeros((len(k), 3, 3))
    cross[:, 0, 1], cross[:, 0, 2], cross[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    cross -= cross.transpose(0, 2, 1)
    return np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross


def quat_of(rotvec: np.ndarray) -> np.ndarray:
    """Unit quaternions (w, x, y, z) of rotation vectors (B, 3)."""
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    axis = np.divide(rotvec, angle, out=np.zeros_like(rotvec), where=angle > 0)
    return np.concatenate([np.cos(angle / 2), np.sin(angle / 2) * axis], axis=-1)


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton products a ⊗ b of (B, 4) quaternions (w, x, y, z)."""
    aw, ax, ay, az = a.T
    bw, bx, by, bz = b.T
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], axis=-1)


class TiltPath:
    """Where a cup tilted about its lip is, per env, after turning by a rotation vector."""

    def __init__(self, shape: CupShape | MugShape, lip: str, pos: np.ndarray, quat: np.ndarray):
        point, _ = container_lip(shape, lip)
        self.pos0, self.quat0 = pos.astype(np.float64), quat.astype(np.float64)  # (B, 3), (B, 4)
        self.pivot = self.pos0 + np.einsum("bij,j->bi", rotation_matrices(self.quat0), point)
        self.turned = np.zeros_like(self.pos0)  # rotation vector so far, world frame

    def pose(self) -> tuple[np.ndarray, np.ndarray]:
        """(pos (B, 3), quat (B, 4)) now."""
        arm = np.einsum("bij,bj->bi", rotation(self.turned), self.pos0 - self.pivot)
        return self.pivot + arm, quat_mul(quat_of(self.turned), self.quat0)

    def velocity(self, omega: np.ndarray) -> np.ndarray:
        """(B, 6) free-joint velocity (linear of the body origin, angular; world frame) turning at ω."""
        pos, _ = self.pose()
        return np.concatenate([np.cross(omega, pos - self.pivot), omega], axis=1)

