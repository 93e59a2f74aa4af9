"""The PBD solver's domain fitted to one built cloth scene, and the check that nothing left it.

Genesis' PBD solver rebuilds a spatial hash every substep, clearing and scanning every slot; its
default domain (±100 m, capped at 150³ cells per env) made cloth steps cost ten times what the
sheet needs. The domain is also a hard wall that clamps positions, so it is fitted with margin around
everything the episode can reach, and a point that touches it stops the batch instead of being
silently clamped.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from factory.errors import SimulationError
from factory.recipe.distributions import support
from factory.recipe.particles import Move
from factory.recipe.schema import (
    BoxShape,
    CylinderShape,
    Recipe,
    RigidObject,
    SphereShape,
)

MARGIN = 0.1  # m of free space around the reachable region
CELL_PER_PARTICLE = 2.0  # hash cell / particle size (Genesis' least is 1.25; 2 stepped the drape fastest)
HASH_SLOTS = 32  # slots per axis of Genesis' repeating hash grid: every substep clears and scans them all


def _interval(values) -> tuple[np.ndarray, np.ndarray]:
    lo_hi = np.array([support(v) for v in values], np.float64)
    return lo_hi[:, 0], lo_hi[:, 1]


def _half_extent(obj: RigidObject) -> np.ndarray:
    shape = obj.shape
    if isinstance(shape, BoxShape):
        return np.array([support(s)[1] for s in shape.size]) / 2
    if isinstance(shape, SphereShape):
        return np.full(3, support(shape.radius)[1])
    if isinstance(shape, CylinderShape):
        r = support(shape.radius)[1]
        return np.array([r, r, support(shape.height)[1] / 2])
    raise ValueError(f"no extent for shape {shape.type}")


def _travel(move: Move, recipe: Recipe) -> tuple[np.ndarray, np.ndarray]:
    """How far a mover can get from its start, below and above, over the episode."""
    duration = ((move.stop or recipe.steps) - move.start) * recipe.dt
    lo, hi = _interval(move.velocity)
    return np.minimum(lo * duration, 0.0), np.maximum(hi * duration, 0.0)


class Domain(NamedTuple):
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    cell: float  # hash cell edge, m
    slots: tuple[int, ...]  # hash slots per axis; the grid repeats beyond them


def cloth_domain(recipe: Recipe) -> Domain:
    """The PBD domain and spatial hash for a cloth recipe.

    The region holds the sheet where it can start, every object over the reach of its mover, the
    grasped corner's path with the sheet hanging from it, and the fall under gravity when there is
    no endless floor, plus a margin. The hash has small cells (`CELL_PER_PARTICLE` particle sizes),
    so a vertex's 27 neighbouring cells hold few others, on a grid of at most `HASH_SLOTS` per axis
    that repeats over the domain (Genesis' hash is modular; a far vertex sharing a slot is skipped by
    distance), so the per-substep clearing and scanning of slots stays small.
    """
    cloth = recipe.scene.cloth
    assert cloth is not None
    size = support(cloth.size)[1]
    half = np.array([size / 2, size / 2, 0.0])
    plo, phi = _interval(cloth.pos)
    lower, upper = plo - half, phi + half
    moves = {m.object: m for m in recipe.actions if isinstance(m, Move)}
    for obj in recipe.scene.objects:  # a sheet sliding off an object lands at most its size beyond it
        olo, ohi = _interval(obj.pos)
        ext = _half_extent(obj) + np.array([size, size, 0.0])
        dlo, dhi = _travel(moves[obj.name], recipe) if obj.name in moves else (0.0, 0.0)
        lower, upper = np.minimum(lower, olo - ext + dlo), np.maximum(upper, ohi + ext + dhi)
    if "cloth" in moves:  # the grasped corner's path; the sheet hangs at most a diagonal from it
        dlo, dhi = _travel(moves["cloth"], recipe)
        reach = size * np.sqrt(2)
        lower, upper = np.minimum(lower, plo - half + dlo - reach), np.maximum(upper, plo - half + dhi + reach)
    lower, upper = lower - MARGIN, upper + MARGIN
    ground = recipe.scene.ground
    if ground is not None and ground.size is None:  # nothing goes below an endless floor
        lower[2] = ground.height - MARGIN
    else:
        fall = 0.5 * abs(recipe.scene.gravity[2]) * (recipe.steps * recipe.dt) ** 2
        lower[2] = min(lower[2], plo[2] - fall - MARGIN)
    particle = support(cloth.particle_size)[1]
    cell = round(CELL_PER_PARTICLE * particle, 6)
    slots = np.minimum(np.ceil((upper - lower) / cell), HASH_SLOTS).astype(int)
    return Domain(tuple(map(float, lower)), tuple(map(float, upper)), cell, tuple(map(int, slots)))


def _fmt(corner: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in corner) + ")"


def check_inside(pos: np.ndarray, lower, upper, tolerance: float) -> None:
    """Raise if any point of (B, N, 3) touches the domain walls: Genesis would clamp it there."""
    lower, upper = np.asarray(lower), np.asarray(upper)
    out = (pos <= lower + tolerance) | (pos >= upper - tolerance)
    if out.any():
        env, point, axis = (int(i[0]) for i in np.nonzero(out))
        raise SimulationError(
            f"cloth vertex {point} of env {env} reached the fitted PBD domain ({'xyz'[axis]} = "
            f"{pos[env, point, axis]:.3f}, domain {_fmt(lower)} .. {_fmt(upper)}); Genesis would clamp it "
            "there. The domain covers the sheet, the objects and the movers' reach over the episode "
            "(engines/genesis/bounds.py): a scene that leaves it is refused")
