"""The particle model against zero motion and constant velocity on held-out fluid / cloth episodes.

Every predictor maps (position window (G, N, h+1, 3), movers where the step leaves them (G, K,
3 + shape), action (G, A), age (G,): recorded steps before the window's last frame, and the
episode's rest shape (N, 3): its first state) to next positions (G, N, 3). The movers and actions
are scripted, so rollouts take them from the recording and feed back only the predicted points.
Numbers have the collision evaluation's shape
({'one_step': {name: {'nmse', 'rmse': {'pos'}}}, 'rollout': {name: [m per horizon]}}), so the
verdict, text and figures serve both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from factory.labels import Context, episode_context, particle_context
from factory.labels.cloth import cloth_episode_labels
from factory.labels.fluid import FluidContext, fluid_episode_labels
from factory.model.particle_data import PointEpisode, iter_point_episodes
from factory.model.split import episode_info
from factory.recipe.schema import Recipe
from factory.storage.dataset import Dataset

# float labels that depend on positions alone, read out of whole-episode rollouts
READOUT_LABELS = ("in_target_fraction", "spilled_fraction", "surface_height", "max_splash_height",
                  "contact_fraction", "covered_fraction", "max_edge_strain", "final_height_mean")


class PointPredictor(Protocol):
    name: str

    def predict(self, window: np.ndarray, movers: np.ndarray, action: np.ndarray, age: np.ndarray,
                rest: np.ndarray) -> np.ndarray:
        ...


class ZeroMotion:
    name = "zero-motion"

    def predict(self, window: np.ndarray, movers: np.ndarray, action: np.ndarray, age: np.ndarray,
                rest: np.ndarray) -> np.ndarray:
        return window[:, :, -1].copy()


class ConstantVelocity:
    """Each point keeps its last recorded displacement."""

    name = "constant-velocity"

    def predict(self, window: np.ndarray, movers: np.ndarray, action: np.ndarray, age: np.ndarray,
                rest: np.ndarray) -> np.ndarray:
        return 2 * window[:, :, -1] - window[:, :, -2]


def rollout(p: PointPredictor, episode: PointEpisode, padded: np.ndarray, starts: np.ndarray, horizon: int,
            history: int) -> np.ndarray:
    """Predicted positions (len(starts), horizon, N, 3) from windows at `starts`, fed their own output."""
    win = np.stack([padded[t:t + history + 1].transpose(1, 0, 2) for t in starts])
    out = []
    for j in range(horizon):
        nxt = p.predict(win, episode.movers[starts + j + 1], episode.actions[starts + j], starts + j, episode.pos[0])
        nxt = np.nan_to_num(nxt, posinf=1e3, neginf=-1e3).astype(np.float32)
        out.append(nxt)
        win = np.concatenate([win[:, :, 1:], nxt[:, :, None]], 2)
    return np.stack(out, 1)


def evaluate_episodes(predictors: list[PointPredictor], episodes: list[PointEpisode], history: int, dt: float,
                      scale: float, horizon: int, context_of: Callable[[int], Context], stride: int = 5) -> dict:
    """One-step and rollout error on `episodes`, and label errors from whole-episode rollouts.

    One-step `nmse` is the squared error of the next position over the variance of one recorded
    step's displacement (`scale`, from the training episodes), so 1.0 is zero motion's typical error.
    """
    horizon = min(horizon, min(len(e.actions) for e in episodes))
    sq = {p.name: 0.0 for p in predictors}
    roll = {p.name: np.zeros(horizon) for p in predictors}
    labels: dict[str, dict[str, list[float]]] = {p.name: {} for p in predictors}
    points = windows = transitions = 0
    for e in episodes:
        padded = e.padded(history, dt)
        t_all = np.arange(len(e.actions))
        starts = np.arange(0, len(e.actions) - horizon + 1, stride)
        ctx = context_of(e.index)
        truth = readout(e.pos, dt, ctx, e.states)
        points += e.pos[1:].size // 3
        transitions += len(e.actions)
        windows += len(starts) * e.pos.shape[1]
        for p in predictors:
            one = rollout(p, e, padded, t_all, 1, history)[:, 0]
            sq[p.name] += float(((one - e.pos[1:]) ** 2).sum())
            pred = rollout(p, e, padded, starts, horizon, history)
            true = np.stack([e.pos[t + 1:t + 1 + horizon] for t in starts])
            roll[p.name] += ((pred - true) ** 2).sum(-1).sum((0, 2))
            full = np.concatenate([e.pos[:1], rollout(p, e, padded, np.zeros(1, int), len(e.actions), history)[0]])
            for name, value in readout(full, dt, ctx, e.states).items():
                labels[p.name].setdefault(name, []).append(abs(value - truth[name]))
    return {
        "episodes": len(episodes),
        "one_step": {n: {"nmse": s / points / 3 / scale, "rmse": {"pos": float(np.sqrt(s / points / 3))},
                         "transitions": transitions} for n, s in sq.items()},
        "rollout": {n: np.sqrt(r / windows).tolist() for n, r in roll.items()},
        "label_error": {n: {k: float(np.mean(v)) for k, v in d.items()} for n, d in labels.items()},
    }


def readout(pos: np.ndarray, dt: float, ctx, states: np.ndarray | None = None) -> dict[str, float]:
    """The READOUT_LABELS of a trajectory (T+1, N, 3), by the functions that labelled the dataset (the
    recorded objects' `states` pose a liquid's containers)."""
    ctx = particle_context(ctx)
    if isinstance(ctx, FluidContext):
        found = fluid_episode_labels(pos, np.gradient(pos, dt, axis=0), ctx, states)
    else:
        found = cloth_episode_labels(pos, ctx)
    return {k: float(found[k]) for k in READOUT_LABELS if k in found}


def evaluate_particles(predictors: list[PointPredictor], ds: Dataset, split_sets: dict[str, list[int]],
                       history: int, scale: float, horizon: int = 20) -> dict:
    """All metrics on each non-empty held-out set ('test', 'ood')."""
    context = episode_context(Recipe.model_validate(ds.manifest["recipe"]), ds.layout)
    params = {i: e["params"] for i, e in episode_info(ds.episodes()).items()}
    out = {}
    for name, ids in split_sets.items():
        if ids:
            eps = list(iter_point_episodes(ds, ids))
            out[name] = evaluate_episodes(predictors, eps, history, ds.layout.record_dt, scale, horizon,
                                          lambda i: context(params[i]))
    return out
