"""The PBD solver's domain fitted to one built cloth scene, and the check that nothing left it.

Genesis' PBD solver rebuilds a spatial hash over its whole domain every substep; its default
domain (±100 m, capped at 150³ cells per env) made cloth steps cost ten times what the sheet
needs. The domain is also a hard wall that clamps positions, so it is fitted with margin around
everything the episode can reach, and a point that touches it stops the batch instead of being
silently clamped.
"""

from __future__ import annotations

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
MAX_CELLS = 32 ** 3  # hash cells per env: fewer cells than this and a cell holds too many vertices


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


def cloth_domain(recipe: Recipe) -> tuple[tuple[float, ...], tuple[float, ...], float]:
    """(lower, upper, hash cell) of the PBD domain for a cloth recipe.

    The region holds the sheet where it can start, every object over the reach of its mover, the
    grasped corner's path with the sheet hanging from it, and the fall under gravity when there is
    no endless floor, plus a margin. The cell is the smallest Genesis allows (1.25 × particle size) unless that would
    make more than `MAX_CELLS` cells.
    """
    cloth = recipe.scene.cloth
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
    cell = max(1.25 * particle, float(np.prod(upper - lower) / MAX_CELLS) ** (1 / 3))
    return tuple(map(float, lower)), tuple(map(float, upper)), round(cell, 6)


def check_inside(pos: np.ndarray, lower, upper, tolerance: float) -> None:
    """Raise if any point of (B, N, 3) touches the domain walls: Genesis would clamp it there."""
    lower, upper = np.asarray(lower), np.asarray(upper)
    out = (pos <= lower + tolerance) | (pos >= upper - tolerance)
    if out.any():
        env, point, axis = (int(i[0]) for i in np.nonzero(out))
        raise SimulationError(
            f"cloth vertex {point} of env {env} reached the fitted PBD domain ({'xyz'[axis]} = "
            f"{pos[env, point, axis]:.3f}, domain {list(lower)} .. {list(upper)}); Genesis would clamp it "
            "there. The domain covers the sheet, the objects and the movers' reach over the episode "
            "(engines/genesis/bounds.py): a scene that leaves it is refused")
