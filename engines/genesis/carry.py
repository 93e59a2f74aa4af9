"""Containers held in a robot's hand (a `tilt` policy's), carried as the hand moves.

Genesis 1.4.5 has no weld to hold a free body to a link that a liquid could push (MuJoCo's adapter
welds it), so a held cup is a driven one, as a `tilt` action's: a heavy, gravity-compensated free body
placed every step where the ee link's pose puts it (the pose it started in, in the link's frame) and
given the link's rigid velocity there, so the liquid moves with it. The arm does not feel its weight.
"""

from __future__ import annotations

import numpy as np

from engines.genesis.cup import quat_mul
from factory.contract.sampling import EpisodeSpec
from factory.recipe.containers import rotation_matrices


class Carry:
    """Each held container's pose in its hand's frame, per env, and where that puts it now."""

    def __init__(self, solver, holds: dict[int, int]):
        self.solver = solver
        self.holds = holds  # object index → solver link index of the hand holding it

    def start(self, specs: list[EpisodeSpec]) -> None:
        """Fix each env's grip from where the episode starts the container and the hand (set already)."""
        hand_pos, hand_quat = self._hands()
        self.grip = {}
        for i, link in self.holds.items():
            pos = np.array([s.bodies[i].pos for s in specs], np.float64)
            quat = np.array([s.bodies[i].quat for s in specs], np.float64)
            turn = rotation_matrices(hand_quat[:, link])
            local_pos = np.einsum("bji,bj->bi", turn, pos - hand_pos[:, link])  # Rᵀ (p − h)
            local_quat = quat_mul(hand_quat[:, link] * np.array([1.0, -1.0, -1.0, -1.0]), quat)
            self.grip[i] = (local_pos, local_quat)

    def poses(self) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Object index → (pos (B, 3), quat (B, 4), free-joint velocity (B, 6): linear, angular) now."""
        hand_pos, hand_quat = self._hands()
        vel = self.solver.get_links_vel().cpu().numpy().astype(np.float64)  # of each link's origin
        ang = self.solver.get_links_ang().cpu().numpy().astype(np.float64)
        out = {}
        for i, link in self.holds.items():
            local_pos, local_quat = self.grip[i]
            pos = hand_pos[:, link] + np.einsum("bij,bj->bi", rotation_matrices(hand_quat[:, link]), local_pos)
            omega = ang[:, link]
            linear = vel[:, link] + np.cross(omega, pos - hand_pos[:, link])
            out[i] = (pos, quat_mul(hand_quat[:, link], local_quat), np.concatenate([linear, omega], axis=1))
        return out

    def _hands(self) -> tuple[np.ndarray, np.ndarray]:
        s = self.solver
        return (s.get_links_pos().cpu().numpy().astype(np.float64),
                s.get_links_quat().cpu().numpy().astype(np.float64))
