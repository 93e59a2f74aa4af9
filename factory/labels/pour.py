"""Pour labels: where the liquid is relative to a tilting cup and the container it pours into.

Pure functions of particle positions (T+1, N, 3) and the containers' recorded poses (T+1, 3) and
(T+1, 4). A particle is in a container when its centre lies inside that container's cavity, in
the container's own frame, give or take `slack` (centres resting on a wall sit about half a
spacing inside it; a pressed particle a little less). Spilled means in neither: at the last
state that is liquid that missed; earlier it also counts the stream in the air.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from factory.contract.rollout import STATE_PER_OBJECT
from factory.recipe.containers import Cavity, in_cavity_frame, rotation_matrices


@dataclass(frozen=True)
class PourContext:
    cup: int  # the pouring cup's index among the recorded objects
    cup_cavity: Cavity  # in the cup's frame: (lower, upper) of a box, (lower, upper, radius) of a round one
    target: int  # the container it pours into
    target_cavity: Cavity
    slack: float  # m of tolerance around a cavity
    record_dt: float


def object_pose(states: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(position, quaternion) of one recorded object over the states."""
    start = index * STATE_PER_OBJECT
    return states[:, start:start + 3], states[:, start + 3:start + 7]


def in_cavity(pos: np.ndarray, centre: np.ndarray, quat: np.ndarray, cavity: Cavity, slack: float) -> np.ndarray:
    """Which particles (T, N) lie in a container's cavity (a box or round), given its pose per state."""
    local = np.einsum("tnj,tji->tni", pos - centre[:, None, :], rotation_matrices(quat))  # R^T (p - c)
    return in_cavity_frame(local, cavity, slack)


def _masks(pos: np.ndarray, states_poses: dict[str, tuple[np.ndarray, np.ndarray]],
           ctx: PourContext) -> tuple[np.ndarray, np.ndarray]:
    in_cup = in_cavity(pos, *states_poses["cup"], ctx.cup_cavity, ctx.slack)
    in_target = in_cavity(pos, *states_poses["target"], ctx.target_cavity, ctx.slack) & ~in_cup
    return in_cup, in_target


def first_outflow(in_cup: np.ndarray) -> int:
    """First state at which any particle is out of the cup; -1 if none ever is."""
    out = np.flatnonzero(~in_cup.all(axis=-1))
    return int(out[0]) if len(out) else -1


def pour_step_labels(pos: np.ndarray, poses: dict, ctx: PourContext) -> dict[str, np.ndarray]:
    """Per transition t, at state t+1: `poured` (fraction out of the cup), `in_target`, `spilled`."""
    in_cup, in_target = _masks(pos, poses, ctx)
    poured = 1 - in_cup.mean(axis=-1)
    target = in_target.mean(axis=-1)
    return {"poured": poured[1:].astype(np.float32), "in_target": target[1:].astype(np.float32),
            "spilled": (poured - target)[1:].astype(np.float32)}


def pour_episode_labels(pos: np.ndarray, poses: dict, ctx: PourContext) -> dict[str, float | int]:
    """At the last state: poured, in-target and spilled fractions; the first outflow's state and time."""
    in_cup, in_target = _masks(pos, poses, ctx)
    first = first_outflow(in_cup)
    poured, target = 1 - float(in_cup[-1].mean()), float(in_target[-1].mean())
    return {"poured_fraction": poured, "in_target_fraction": target, "spilled_fraction": poured - target,
            "first_outflow_step": first,
            "first_outflow_time": first * ctx.record_dt if first >= 0 else float("nan")}
