"""How a body comes to rest: upright, on its side or upside down, from its own up axis against the world's.

A mug or a bottle that lands upside down or on its side is what a tumbling-object dataset asks
about; the pose is read from the orientation alone, so it is a pure function of the states.
"""

from __future__ import annotations

import math

import numpy as np

from factory.contract.rollout import Layout
from factory.names import REST_POSE, TOPPLED, UP_COS, body_label

UPRIGHT_COS = math.cos(math.radians(30))  # the body's up axis within 30° of the world's (or of straight down)
UPRIGHT, ON_SIDE, UPSIDE_DOWN = 1, 0, -1


def up_cosine(quat: np.ndarray) -> np.ndarray:
    """z of the body's own up axis in the world, for unit quaternions (..., 4) as (w, x, y, z)."""
    _, x, y, _ = np.moveaxis(quat, -1, 0)
    return 1.0 - 2.0 * (x * x + y * y)


def pose_class(quat: np.ndarray) -> np.ndarray:
    """UPRIGHT (1), ON_SIDE (0) or UPSIDE_DOWN (-1) for each quaternion (..., 4)."""
    cos = up_cosine(quat)
    return np.where(cos >= UPRIGHT_COS, UPRIGHT, np.where(cos <= -UPRIGHT_COS, UPSIDE_DOWN, ON_SIDE))


def pose_labels(states: np.ndarray, layout: Layout, objects: tuple[str, ...]) -> dict[str, list]:
    """Per object of `objects` over a batch `states` (n_episodes, T+1, state_size): `rest_pose__X` (the
    pose class at the last state), `up_cos__X` (its up axis's z then) and `toppled__X` (upright at
    step 0 and not at the end)."""
    columns: dict[str, list] = {}
    for name in objects:
        quat = layout.field(states, name, "quat")  # (n_episodes, T+1, 4)
        first, last = pose_class(quat[:, 0]), pose_class(quat[:, -1])
        columns[body_label(REST_POSE, name)] = last.tolist()
        columns[body_label(UP_COS, name)] = up_cosine(quat[:, -1]).tolist()
        columns[body_label(TOPPLED, name)] = ((first == UPRIGHT) & (last != UPRIGHT)).tolist()
    return columns
