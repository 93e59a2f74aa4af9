"""Fluid particles and cloth vertices read back from a dataset, one episode at a time, without torch.

A piece holds whole episodes, so episodes stream piece by piece like the rigid loader's triples;
only the position field, its first-state velocity, the rigid objects' positions and shapes (from
the episode's parameters: a ball's radius is drawn per scene variant) and the actions are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from factory.contract.rollout import Layout
from factory.model.split import episode_info
from factory.names import next_column
from factory.storage.base import column_array
from factory.storage.dataset import Dataset

SHAPE_KEYS = ("radius", "size.x", "size.y", "size.z")  # a mover's shape parameters; 0 where it has none


@dataclass(frozen=True)
class PointEpisode:
    index: int
    pos: np.ndarray  # (T+1, N, 3) particle / vertex positions
    vel: np.ndarray  # (T+1, N, 3) recorded velocities, or only the first state's (1, N, 3) when not asked for
    movers: np.ndarray  # (T+1, K, 3 + len(SHAPE_KEYS)) rigid objects' centres (gate, pillar, sphere…), shapes
    actions: np.ndarray  # (T, A) the movers' commanded velocity
    states: np.ndarray | None = None  # (T+1, S) the recorded objects' states (poses of containers, for labels)

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
    keep = frozenset(int(e) for e in episodes) if episodes is not None else None
    shapes = {i: mover_shapes(ds.layout.objects, e["params"]) for i, e in episode_info(ds.episodes()).items()}
    pos_name, vel_name = point_fields(ds.layout)
    columns = ["episode", "step", "state", "next_state", "action", pos_name, next_column(pos_name), vel_name,
               *([next_column(vel_name)] if velocities else [])]
    for piece in ds.pieces():
        if keep is not None and not keep & set(piece.episodes):
            continue
        table = pa.concat_tables(ds.read_piece(piece, columns, keep))
        ids = table["episode"].to_numpy()
        for ep in dict.fromkeys(ids.tolist()):
            rows = table.filter(ids == ep).sort_by("step")

            # T+1 values: a column and the last of its next_ twin
            def whole(name: str, rows: pa.Table = rows) -> np.ndarray:
                return np.concatenate([column_array(rows[name]), column_array(rows[next_column(name)])[-1:]])

            vel = whole(vel_name) if velocities else column_array(rows[vel_name])[:1]
            yield _episode(ds.layout, ep, whole(pos_name), vel, whole("state"), column_array(rows["action"]),
                           shapes[int(ep)])


def mover_shapes(objects: Iterable[str], params: dict[str, float]) -> np.ndarray:
    """(K, len(SHAPE_KEYS)) shape parameters of the movers, in the layout's object order."""
    return np.array([[params.get(f"{o}.{k}", 0.0) for k in SHAPE_KEYS] for o in objects], np.float32).reshape(
        -1, len(SHAPE_KEYS))


def _episode(layout: Layout, index: int, pos: np.ndarray, vel: np.ndarray, states: np.ndarray,
             actions: np.ndarray, shapes: np.ndarray) -> PointEpisode:
    centres = np.stack([layout.field(states, o, "pos") for o in layout.objects], 1) if layout.objects \
        else np.zeros((len(states), 0, 3), np.float32)
    movers = np.concatenate([centres, np.broadcast_to(shapes, (len(states), *shapes.shape))], -1)
    return PointEpisode(int(index), pos.astype(np.float32), vel.astype(np.float32), movers.astype(np.float32),
                        actions.astype(np.float32), states)


def scene_bounds(recipe: dict) -> tuple[list[float], list[float]]:
    """Walls the points cannot cross: the fluid's tank, or the cloth's ground (open elsewhere)."""
    scene = recipe["scene"]
    if scene.get("fluid"):
        tank = scene["fluid"]["tank"]
        return list(tank["lower"]), list(tank["upper"])
    ground = scene.get("ground")
    return [-1e3, -1e3, ground["height"] if ground else 0.0], [1e3, 1e3, 1e3]
