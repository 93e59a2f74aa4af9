"""Trivial predictors a learned model must beat: zero motion, constant velocity, linear.

All predictors share one numpy interface, `predict(state, action, episode) -> next_state` on
batches, so the evaluation treats the learned models and the baselines identically; `episode`
(each row's episode index) lets a model look up that episode's parameters.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import numpy as np
import torch

from factory.contract.rollout import Layout
from factory.model.kinematics import constant_velocity_of
from factory.model.pieces import Chunk
from factory.model.stats import scale


class Predictor(Protocol):
    name: str

    def predict(self, state: np.ndarray, action: np.ndarray, episode: np.ndarray) -> np.ndarray: ...


class ZeroMotion:
    """Nothing moves: the next state is the current one."""

    name = "zero-motion"

    def predict(self, state: np.ndarray, action: np.ndarray, episode: np.ndarray | None = None) -> np.ndarray:
        return state.copy()


class ConstantVelocity:
    """Every body keeps its linear and angular velocity, and every robot joint its velocity, for one
    recorded interval."""

    name = "constant-velocity"

    def __init__(self, layout: Layout):
        self.layout = layout

    def predict(self, state: np.ndarray, action: np.ndarray, episode: np.ndarray | None = None) -> np.ndarray:
        with torch.no_grad():
            return constant_velocity_of(torch.tensor(np.asarray(state), dtype=torch.float32), self.layout).numpy()


class Linear:
    """Ridge regression of the normalized delta on normalized (state, action), fit in one pass."""

    name = "linear"

    def __init__(self, stats: dict, ridge: float = 1e-3):
        self.stats, self.ridge = stats, ridge
        self.weights: np.ndarray | None = None

    def _inputs(self, state: np.ndarray, action: np.ndarray) -> np.ndarray:
        (sm, ss), (am, as_) = scale(self.stats, "state"), scale(self.stats, "action")
        x = np.concatenate([(state - sm) / ss, (action - am) / as_], -1)
        return np.concatenate([x, np.ones((len(x), 1), x.dtype)], -1).astype(np.float64)

    def fit(self, chunks: Iterable[Chunk]) -> Linear:
        dm, ds = scale(self.stats, "delta")
        xtx = xty = None
        for c in chunks:
            x = self._inputs(c.state, c.action)
            y = ((c.next_state - c.state - dm) / ds).astype(np.float64)
            xtx = x.T @ x if xtx is None else xtx + x.T @ x
            xty = x.T @ y if xty is None else xty + x.T @ y
        if xtx is None or xty is None:
            raise ValueError("no training transitions to fit the linear baseline on")
        reg = self.ridge * np.trace(xtx) / len(xtx) * np.eye(len(xtx))
        self.weights = np.linalg.solve(xtx + reg, xty)
        return self

    def predict(self, state: np.ndarray, action: np.ndarray, episode: np.ndarray | None = None) -> np.ndarray:
        dm, ds = scale(self.stats, "delta")
        delta = self._inputs(state, action) @ self.weights * ds + dm
        return (state + delta).astype(np.float32)


def baselines(layout: Layout, stats: dict, train_chunks: Iterable[Chunk]) -> list[Predictor]:
    return [ZeroMotion(), ConstantVelocity(layout), Linear(stats).fit(train_chunks)]
