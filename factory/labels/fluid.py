"""Auto-labels for liquid episodes: pure functions of particle positions (T+1, N, 3)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from factory.labels.pour import PourContext, object_pose
from factory.labels.volume import Cavity, volume_ratio
from factory.recipe.containers import rotation_matrices


@dataclass(frozen=True)
class FluidContext:
    tank_lower: np.ndarray  # (3,)
    tank_upper: np.ndarray
    target_lower: np.ndarray | None
    target_upper: np.ndarray | None
    source_lower: np.ndarray | None
    source_upper: np.ndarray | None
    particle_size: float
    record_dt: float
    settle_speed: float  # m/s: mean particle speed below which the liquid counts as settled
    pour: PourContext | None = None  # a tilted cup and its target container (`factory.labels.pour`)
    # rigid containers the liquid can rest in (cups, basins, mugs): (recorded object index, cavity in its frame,
    # `factory.recipe.containers.Cavity`)
    containers: tuple[tuple[int, tuple], ...] = ()


def inside(pos: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Which points of (..., 3) lie in the box [lower, upper]."""
    return np.all((pos >= lower) & (pos <= upper), axis=-1)


def fraction_inside(pos: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Per state: the fraction of particles in the box. (T+1, N, 3) → (T+1,)"""
    return inside(pos, lower, upper).mean(axis=-1)


def surface_height(pos: np.ndarray, floor: float) -> float:
    """Height of the liquid's free surface above `floor`: the 95th percentile of particle heights."""
    return float(np.percentile(pos[:, 2], 95) - floor)


def settle_step(vel: np.ndarray, speed: float) -> int:
    """First state from which the mean particle speed stays below `speed`; -1 if never."""
    mean_speed = np.linalg.norm(vel, axis=-1).mean(axis=-1)
    moving = np.flatnonzero(mean_speed >= speed)
    if len(moving) and moving[-1] == len(mean_speed) - 1:
        return -1
    return int(moving[-1] + 1) if len(moving) else 0


def liquid_volume_ratio(pos: np.ndarray, ctx: FluidContext, states: np.ndarray | None = None) -> np.ndarray:
    """`volume_ratio` (`factory.labels.volume`) of the recorded points at the recipe's spacing, in the tank
    and in the scene's containers, posed by the recorded `states` (T+1, S) (needed when there are any)."""
    if ctx.containers and states is None:
        raise ValueError("volume_ratio in a scene with containers needs the recorded states (their poses)")
    posed = [(object_pose(states, i), cavity) for i, cavity in ctx.containers] if states is not None else []
    cavities = [Cavity(pose[0], rotation_matrices(pose[1]), *cavity) for pose, cavity in posed]
    return volume_ratio(pos, ctx.particle_size, (ctx.tank_lower, ctx.tank_upper), cavities)


def conserved(pos: np.ndarray, ctx: FluidContext) -> bool:
    """The particle count check: every particle finite and inside the tank at every state."""
    slack = ctx.particle_size
    return bool(np.isfinite(pos).all() and inside(pos, ctx.tank_lower - slack, ctx.tank_upper + slack).all())


def fluid_step_labels(pos: np.ndarray, ctx: FluidContext, states: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per transition t: the state of the liquid at t+1 (`states`: the recorded objects', for containers)."""
    labels = {"mean_height": pos[1:, :, 2].mean(axis=-1).astype(np.float32),
              "volume_ratio": liquid_volume_ratio(pos, ctx, states)[1:].astype(np.float32)}
    if ctx.target_lower is not None and ctx.target_upper is not None:
        labels["in_target"] = fraction_inside(pos[1:], ctx.target_lower, ctx.target_upper).astype(np.float32)
    return labels


def fluid_episode_labels(pos: np.ndarray, vel: np.ndarray, ctx: FluidContext,
                         states: np.ndarray | None = None) -> dict[str, float | int | bool]:
    floor = float(ctx.tank_lower[2])
    settle = settle_step(vel, ctx.settle_speed)
    ends = [0, -1]  # the episode's volume_ratio: the last state's against step 0
    labels: dict[str, float | int | bool] = {
        "surface_height": surface_height(pos[-1], floor),
        "max_splash_height": float(pos[:, :, 2].max() - floor),
        "settled": settle >= 0,
        "settle_step": settle,
        "settle_time": settle * ctx.record_dt if settle >= 0 else float("nan"),
        "particles_conserved": conserved(pos, ctx),
        "volume_ratio": float(liquid_volume_ratio(pos[ends], ctx, None if states is None else states[ends])[-1]),
    }
    if ctx.target_lower is not None and ctx.target_upper is not None:
        in_target = inside(pos[-1], ctx.target_lower, ctx.target_upper)
        labels["in_target_fraction"] = float(in_target.mean())
        # spilled: neither in the source container nor in the target
        if ctx.source_lower is not None and ctx.source_upper is not None:
            in_source = inside(pos[-1], ctx.source_lower, ctx.source_upper)
            labels["spilled_fraction"] = float((~in_source & ~in_target).mean())
    return labels
