"""How two engines' runs of the same robot episodes differ: how the arms tracked, where they went, and
what they did to the objects.

Pure functions of `EngineRun`s: the robots' state blocks (joint positions, tool point) and their
labels (`factory/labels/robot.py`), side by side for the reference engine and another.
"""

from __future__ import annotations

import numpy as np

from factory.compare.runs import EngineRun
from factory.names import (
    DISPLACEMENT,
    DROPPED,
    FIRST_ROBOT_CONTACT,
    GRASP_STEP,
    GRASPED,
    MAX_TRACKING_ERROR,
    MEAN_TRACKING_ERROR,
    PLACE_MISS,
    PLACED,
    PUSHED_TO_TARGET,
    REACH_ERROR,
    REACH_STEP,
    REACHED,
    label_family,
)
from factory.recipe.schema import Recipe

# means side by side and their mean |difference|
VALUED = (MAX_TRACKING_ERROR, MEAN_TRACKING_ERROR, DISPLACEMENT, REACH_ERROR, PLACE_MISS)
FLAGS = (PUSHED_TO_TARGET, REACHED, GRASPED, DROPPED, PLACED)  # rates side by side, agreement
STEPS = (FIRST_ROBOT_CONTACT, GRASP_STEP, REACH_STEP)  # recorded steps, -1 for never: agreement, |difference|


def _stats(values: np.ndarray) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "max": float(np.max(values))}


def robot_comparison(a: EngineRun, b: EngineRun, recipe: Recipe) -> dict:
    """Per robot: joint and tool-point gaps between the engines; per label of the robots' episodes: each
    engine's mean (or rate) and how far apart the two are."""
    out: dict = {"robots": {}, "labels": {}}
    for robot in recipe.robots:
        block = next(r for r in a.layout.robots if r.name == robot.name)
        actuated = [block.joints.index(j) for j in robot.actuated]
        start, _ = a.layout.robot_span(robot.name)
        q = [r.states[:, :, start + np.array(actuated)] for r in (a, b)]
        tool = [r.states[:, :, start + 2 * len(block.joints):start + 2 * len(block.joints) + 3] for r in (a, b)]
        out["robots"][robot.name] = {
            "joint_gap_rad": _stats(np.abs(q[0] - q[1]).max(axis=(1, 2))),
            "tool_gap_m": _stats(np.linalg.norm(tool[0] - tool[1], axis=-1).max(axis=1)),
        }
    names = [k for k in a.labels[0] if label_family(k) in VALUED + FLAGS + STEPS and k in b.labels[0]]
    for name in names:
        x = np.array([lab[name] for lab in a.labels], float)
        y = np.array([lab[name] for lab in b.labels], float)
        family = label_family(name)
        if family in FLAGS:
            out["labels"][name] = {f"rate_{a.engine}": float(x.mean()), f"rate_{b.engine}": float(y.mean()),
                                   "agreement": float((x == y).mean())}
        elif family in STEPS:
            both = (x >= 0) & (y >= 0)
            out["labels"][name] = {"agreement": float((x == y).mean()),
                                   "mean_abs_difference": float(np.abs(x - y)[both].mean()) if both.any() else None}
        else:
            out["labels"][name] = {f"mean_{a.engine}": float(x.mean()), f"mean_{b.engine}": float(y.mean()),
                                   "mean_abs_difference": float(np.abs(x - y).mean())}
    return out

