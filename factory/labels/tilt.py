"""Labels of a tilt: how far the container turned, how well it turned about its lip, what fell out.

Pure functions of the recorded states and the recipe's shapes: the container's box and lip come from
`factory.contract.extents`, the same geometry the policy aims with.
"""

from __future__ import annotations

import math

import numpy as np

from factory.contract.extents import body_bounds, lip_point
from factory.contract.rollout import Layout
from factory.labels.pose import up_cosine
from factory.names import LIP_DRIFT, SPILL_STEP, SPILLED, TILT_DEG, body_label
from factory.recipe.containers import rotation_matrices
from factory.recipe.schema import RigidObject


def inside(layout: Layout, states: np.ndarray, container: RigidObject, obj: str) -> np.ndarray:
    """(T+1,) whether `obj`'s centre lies within the container's box, in the container's frame at each state."""
    pos = layout.field(states, container.name, "pos").astype(float)
    turn = rotation_matrices(layout.field(states, container.name, "quat"))
    local = np.einsum("tji,tj->ti", turn, layout.field(states, obj, "pos") - pos)  # Rᵀ (p − c)
    lo, hi = body_bounds(container)
    return ((local >= lo) & (local <= hi)).all(axis=-1)


def tilt_labels(layout: Layout, states: np.ndarray, container: RigidObject, lip: str,
                others: list[str]) -> dict[str, float | int | bool]:
    """`tilt_deg__C` (its up axis from the vertical at the end, degrees), `lip_drift__C` (the farthest its lip
    strayed from where it started, m), and for each of `others` that started inside it `spilled__X` (it
    ends outside) and `spill_step__X` (the first recorded state outside, -1 if none)."""
    name = container.name
    quat = layout.field(states, name, "quat")
    lip_world = layout.field(states, name, "pos") + rotation_matrices(quat) @ lip_point(container, lip)
    labels: dict[str, float | int | bool] = {
        body_label(TILT_DEG, name): math.degrees(math.acos(float(np.clip(up_cosine(quat[-1]), -1.0, 1.0)))),
        body_label(LIP_DRIFT, name): float(np.linalg.norm(lip_world - lip_world[0], axis=-1).max()),
    }
    for obj in others:
        held = inside(layout, states, container, obj)
        if not held[0]:
            continue
        out = np.flatnonzero(~held)
        labels[body_label(SPILLED, obj)] = bool(not held[-1])
        labels[body_label(SPILL_STEP, obj)] = int(out[0]) if len(out) else -1
    return labels
