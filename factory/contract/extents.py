"""How far an object of the recipe reaches from its centre: the geometry scripted policies aim with."""

from __future__ import annotations

import numpy as np

from factory.recipe.containers import CupShape
from factory.recipe.distributions import nominal
from factory.recipe.meshes import MESH_SHAPES, shape_asset
from factory.recipe.schema import BoxShape, CylinderShape, RigidObject, SphereShape


def reach_along(obj: RigidObject, u: np.ndarray) -> float:
    """How far the object extends from its centre along horizontal direction `u` (unrotated shape)."""
    shape = obj.shape
    if isinstance(shape, (SphereShape, CylinderShape)):
        return nominal(shape.radius)
    half = half_extents(obj)
    return abs(u[0]) * half[0] + abs(u[1]) * half[1]


def half_height(obj: RigidObject) -> float:
    shape = obj.shape
    if isinstance(shape, SphereShape):
        return nominal(shape.radius)
    if isinstance(shape, CylinderShape):
        return nominal(shape.height) / 2
    return float(half_extents(obj)[2])


def half_extents(obj: RigidObject) -> np.ndarray:
    """Half the outer size of a box or a cup along x, y, z."""
    shape = obj.shape
    if isinstance(shape, BoxShape):
        return np.array([nominal(s) for s in shape.size]) / 2
    if isinstance(shape, CupShape):
        return (np.array(shape.inner) + np.array([2.0, 2.0, 1.0]) * shape.wall) / 2
    raise ValueError(f"no extent known for shape '{shape.type}' of '{obj.name}'")


def body_bounds(obj: RigidObject) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) corners of the box around the object in its body frame: about its centre for a
    primitive, about its centre of mass for a mesh or generated body (their frame's origin)."""
    shape = obj.shape
    if isinstance(shape, MESH_SHAPES):
        points = np.concatenate([v for v, _ in shape_asset(shape).parts])
        return points.min(axis=0), points.max(axis=0)
    if isinstance(shape, SphereShape):
        half = np.full(3, nominal(shape.radius))
    elif isinstance(shape, CylinderShape):
        r = nominal(shape.radius)
        half = np.array([r, r, nominal(shape.height) / 2])
    else:
        half = half_extents(obj)
    return -half, half


def reach_radius(obj: RigidObject) -> float:
    """How far the object reaches from its centre in any orientation: its box's farthest corner."""
    lo, hi = body_bounds(obj)
    return float(np.linalg.norm(np.maximum(-lo, hi)))


def lip_point(obj: RigidObject, side: str) -> np.ndarray:
    """The middle of the top edge of the object's box on `side` (`+x`, `-x`, `+y`, `-y`), in its body frame."""
    lo, hi = body_bounds(obj)
    point = (lo + hi) / 2
    point[2] = hi[2]
    axis = 0 if side[1] == "x" else 1
    point[axis] = hi[axis] if side[0] == "+" else lo[axis]
    return point
