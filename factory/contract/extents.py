"""How far an object of the recipe reaches from its centre: the geometry scripted policies aim with."""

from __future__ import annotations

import numpy as np

from factory.recipe.containers import CupShape
from factory.recipe.distributions import nominal
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
