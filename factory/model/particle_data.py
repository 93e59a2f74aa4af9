"""Fluid particles and cloth vertices read back from a dataset, one episode at a time, without torch.

A Parquet row group or an HDF5 episode group holds whole episodes, so episodes stream piece by
piece like the rigid loader's triples; only the position field, its first-state velocity, the
rigid objects' positions and the actions are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import h5py
import numpy as np
import pyarrow.parquet as pq

from factory.model.pieces import list_pieces
from factory.rollout import Layout
from factory.storage.dataset import Dataset, _matrix, _points


@dataclass(frozen=True)
class PointEpisode:
    index: int
    pos: np.ndarray  # (T+1, N, 3) particle / vertex positions
    vel: np.ndarray  # (T+1, N, 3) recorded velocities, or only the first state's (1, N, 3) when not asked for
    movers: np.ndarray  # (T+1, K, 3) rigid objects' centres (gate, pillar, sphere…)
    actions: np.ndarray  # (T, A) the movers' commanded velocity

    def padded(self, history: int, dt: float) -> np.ndarray:
        """Positions with `history` frames before the first, extrapolated with the first recorded
        velocity, so every transition (the first included) has a full velocity history."""
        before = [self.pos[0] - k * dt * self.vel[0] for k in range(history, 0, -1)]
        return np.concatenate([np.stack(before), self.pos]) if before else self.pos


def point_fields(layout: Layout) -> tuple[str, str]:
    """(position field, velocity field): ('particle_pos', 'particle_vel') or the cloth's vertex pair."""
    pos = next((f for f in layout.points if f.endswith("_pos")), None)
    if pos is None:
        raise ValueError("the dataset records no particle or vertex positions")
    return pos, pos.removesuffix("_pos") + "_vel"


def iter_point_episodes(ds: Dataset, episodes: Iterable[int] | None = None,
                        velocities: bool = False) -> Iterator[PointEpisode]:
    """Episodes of `episodes` (all by default), in storage order; every recorded velocity with
    `velocities`, else only the first state's (all a model needs)."""
    last = None if velocities else 1
    keep = frozenset(int(e) for e in episodes) if episodes is not None else None
    pos_name, vel_name = point_fields(ds.layout)
    for piece in list_pieces(ds):
        if isinstance(piece.key, str):
            if keep is not None and piece.episode not in keep:
                continue
            with h5py.File(piece.path, "r") as f:
                g = f[piece.key]
                yield _episode(ds.layout, piece.episode, g["points"][pos_name][()],
                               g["points"][vel_name][:last], g["states"][()], g["actions"][()])
            continue
        table = pq.ParquetFile(piece.path).read_row_group(
            piece.key, columns=["episode", "step", "state", "next_state", "action", pos_name, f"next_{pos_name}",
                                vel_name, f"next_{vel_name}"])
        ids = table["episode"].to_numpy()
        for ep in dict.fromkeys(ids.tolist()):
            if keep is not None and ep not in keep:
                continue
            rows = table.filter(ids == ep).sort_by("step")
            pos, vel = (np.concatenate([_points(rows[f]), _points(rows[f"next_{f}"])[-1:]])
                        for f in (pos_name, vel_name))
            states = np.concatenate([_matrix(rows["state"]), _matrix(rows["next_state"])[-1:]])
            yield _episode(ds.layout, ep, pos, vel[:last], states, _matrix(rows["action"]))


def _episode(layout: Layout, index: int, pos: np.ndarray, vel: np.ndarray, states: np.ndarray,
             actions: np.ndarray) -> PointEpisode:
    movers = np.stack([layout.field(states, o, "pos") for o in layout.objects], 1) if layout.objects \
        else np.zeros((len(states), 0, 3), np.float32)
    return PointEpisode(int(index), pos.astype(np.float32), vel.astype(np.float32), movers.astype(np.float32),
                        actions.astype(np.float32))


def scene_bounds(recipe: dict) -> tuple[list[float], list[float]]:
    """Walls the points cannot cross: the fluid's tank, or the cloth's ground (open elsewhere)."""
    scene = recipe["scene"]
    if scene.get("fluid"):
        tank = scene["fluid"]["tank"]
        return list(tank["lower"]), list(tank["upper"])
    ground = scene.get("ground")
    return [-1e3, -1e3, ground["height"] if ground else 0.0], [1e3, 1e3, 1e3]
