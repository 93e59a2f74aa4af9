"""Each held-out episode's model error: one-step and rollout, for the closed loop (`factory.guide`).

The same measures as `factory evaluate`, kept per episode instead of pooled: one-step error is the
normalized squared error of the next state (rigid: pooled per state field over the change's spread;
particles: over one step's displacement variance), rollout error the position RMSE in metres after
feeding the model its own output for `horizon` recorded steps from windows every `stride` steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from factory.errors import FactoryError
from factory.model.evaluate import field_groups, rollout, windows
from factory.model.particle_data import iter_point_episodes
from factory.model.particle_evaluate import rollout as point_rollout
from factory.model.particles import ParticlePredictor, load_checkpoint
from factory.model.pieces import iter_episodes
from factory.model.relational import RelationalPredictor, load_relational
from factory.model.rigid_train import episode_statics
from factory.model.split import episode_info
from factory.model.stats import load_stats, scale
from factory.storage.dataset import Dataset

PARTICLE_KINDS = ("fluid", "cloth")


@dataclass(frozen=True)
class EpisodeErrors:
    """Per episode (in `episodes` order): one-step normalized error and rollout position RMSE (m)."""

    episodes: np.ndarray
    one_step: np.ndarray
    rollout: np.ndarray
    horizon: int


def model_kind(ds: Dataset) -> str:
    """Which baseline model a dataset gets: 'particle' (fluid, cloth) or 'relational' (collision); a robot
    dataset none yet (refused in one line)."""
    if ds.layout.robots:
        raise FactoryError(f"{ds.location}: the baseline models do not cover robot datasets yet, so they "
                           "cannot guide one")
    return "particle" if ds.manifest["recipe"].get("kind", "collision") in PARTICLE_KINDS else "relational"


def episode_errors(ds: Dataset, checkpoint: Path, episodes: list[int], horizon: int = 20,
                   stride: int = 5) -> EpisodeErrors:
    """The errors of the model saved at `checkpoint` on `episodes` of `ds`."""
    if model_kind(ds) == "particle":
        return _particle_errors(ds, checkpoint, episodes, horizon, stride)
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    if ckpt.get("kind") != "relational":
        raise FactoryError(f"{checkpoint} is a '{ckpt.get('kind')}' checkpoint, not the rigid-body model "
                           "`factory train` writes for a collision dataset")
    predictor = RelationalPredictor(load_relational(ckpt), episode_statics(ds, episode_info(ds.episodes())))
    eps = list(iter_episodes(ds, episodes))
    horizon = min(horizon, min(len(e.actions) for e in eps))
    true, actions, index = windows(eps, horizon, stride)
    pred = rollout(predictor, true[:, 0], actions, index)
    groups = field_groups(ds.layout)
    _, delta_std = scale(load_stats(ds), "delta")
    var = delta_std.astype(np.float64) ** 2
    sq_one = (pred[:, 1] - true[:, 1]).astype(np.float64) ** 2
    one = np.mean([sq_one[:, idx].sum(1) / var[idx].sum() for idx in groups.values()], axis=0)
    pos = groups["pos"]
    sq_far = ((pred[:, horizon, pos] - true[:, horizon, pos]) ** 2).reshape(len(true), -1, 3).sum(-1).mean(1)
    order = np.array([e.index for e in eps])
    return EpisodeErrors(order, _per_episode(one, index, order), np.sqrt(_per_episode(sq_far, index, order)),
                         horizon)


def _per_episode(values: np.ndarray, index: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The mean of `values` over each episode's windows, in `order`."""
    return np.array([values[index == e].mean() for e in order])


def _particle_errors(ds: Dataset, checkpoint: Path, episodes: list[int], horizon: int, stride: int) -> EpisodeErrors:
    model, _ = load_checkpoint(checkpoint)
    predictor, history, dt = ParticlePredictor(model), model.history, ds.layout.record_dt
    step_var = float(model.vel_std) ** 2
    order, one, far = [], [], []
    eps = list(iter_point_episodes(ds, episodes))
    horizon = min(horizon, min(len(e.actions) for e in eps))
    for e in eps:
        padded = e.padded(history, dt)
        starts = np.arange(0, len(e.actions) - horizon + 1, stride)
        pred = point_rollout(predictor, e, padded, starts, horizon, history)
        true = np.stack([e.pos[t + 1:t + 1 + horizon] for t in starts])
        order.append(e.index)
        one.append(float(((pred[:, 0] - true[:, 0]) ** 2).mean() / step_var))
        far.append(float(np.sqrt(((pred[:, -1] - true[:, -1]) ** 2).sum(-1).mean())))
    return EpisodeErrors(np.array(order), np.array(one), np.array(far), horizon)
