"""Small regressors from an episode's parameter vector to a number (its model error, a label's value).

The closed loop (`factory.guide`) learns from a few dozen held-out episodes how a trained model's error
depends on the sampled parameters. Which regressor suits that depends on the recipe, so three are
fitted and the one with the lowest cross-validated error is kept (`choose_regressor`): k nearest
neighbours (local, no shape assumed), ridge regression on quadratic features (smooth trends, few
episodes) and a small network (smooth, any shape, more data). All see standardized inputs and are
deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import numpy as np
import torch


class Regressor(Protocol):
    name: str

    def fit(self, x: np.ndarray, y: np.ndarray) -> Regressor: ...

    def predict(self, x: np.ndarray) -> np.ndarray: ...


class NearestNeighbours:
    """Mean of the k nearest training points' targets, each weighted by 1/(distance + a small floor)."""

    name = "k-nn"

    def __init__(self, k: int = 5):
        self.k = k
        self.x = self.y = np.zeros(0)

    def fit(self, x: np.ndarray, y: np.ndarray) -> NearestNeighbours:
        self.x, self.y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        k = min(self.k, len(self.x))
        out = np.empty(len(x))
        for start in range(0, len(x), 4096):  # bounded memory: a block of queries against every training point
            d = np.sqrt(((np.asarray(x[start:start + 4096], np.float64)[:, None] - self.x[None]) ** 2).sum(-1))
            near = np.argpartition(d, k - 1, axis=1)[:, :k]
            w = 1.0 / (np.take_along_axis(d, near, 1) + 1e-3)
            out[start:start + 4096] = (w * self.y[near]).sum(1) / w.sum(1)
        return out


class QuadraticRidge:
    """Ridge regression on 1, x and every product xᵢxⱼ."""

    name = "quadratic-ridge"

    def __init__(self, ridge: float = 1.0):
        self.ridge = ridge
        self.coef = np.zeros(0)

    @staticmethod
    def _features(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        i, j = np.triu_indices(x.shape[1])
        return np.concatenate([np.ones((len(x), 1)), x, x[:, i] * x[:, j]], 1)

    def fit(self, x: np.ndarray, y: np.ndarray) -> QuadraticRidge:
        f = self._features(x)
        penalty = self.ridge * np.eye(f.shape[1])
        penalty[0, 0] = 0.0  # the intercept is not shrunk
        self.coef = np.linalg.solve(f.T @ f + penalty, f.T @ np.asarray(y, np.float64))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._features(x) @ self.coef


class SmallNetwork:
    """Two hidden layers of 32 tanh units, full-batch Adam with weight decay, on one CPU thread."""

    name = "small-network"

    def __init__(self, seed: int = 0, steps: int = 400):
        self.seed, self.steps = seed, steps
        self.net: torch.nn.Module | None = None
        self.mean, self.std = 0.0, 1.0

    def fit(self, x: np.ndarray, y: np.ndarray) -> SmallNetwork:
        torch.set_num_threads(1)
        gen = torch.Generator().manual_seed(self.seed)
        y = np.asarray(y, np.float64)
        self.mean, self.std = float(y.mean()), float(y.std()) or 1.0
        width = x.shape[1]
        net = torch.nn.Sequential(torch.nn.Linear(width, 32), torch.nn.Tanh(), torch.nn.Linear(32, 32),
                                  torch.nn.Tanh(), torch.nn.Linear(32, 1)).double()
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) / np.sqrt(max(p.shape[-1], 1)))
        opt = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=1e-3)
        xt = torch.from_numpy(np.asarray(x, np.float64))
        yt = torch.from_numpy((y - self.mean) / self.std)[:, None]
        for _ in range(self.steps):
            opt.zero_grad()
            loss = ((net(xt) - yt) ** 2).mean()
            loss.backward()
            opt.step()
        self.net = net.eval()
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.net is None:
            raise ValueError("fit the network first")
        with torch.no_grad():
            out = self.net(torch.from_numpy(np.asarray(x, np.float64)))[:, 0].numpy()
        return out * self.std + self.mean


REGRESSORS: dict[str, Callable[[int], Regressor]] = {
    NearestNeighbours.name: lambda seed: NearestNeighbours(),
    QuadraticRidge.name: lambda seed: QuadraticRidge(),
    SmallNetwork.name: lambda seed: SmallNetwork(seed),
}


@dataclass
class Standardized:
    """A regressor over inputs scaled by the training inputs' mean and spread."""

    regressor: Regressor
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, regressor: Regressor, x: np.ndarray, y: np.ndarray) -> Standardized:
        mean, std = x.mean(0), x.std(0)
        std = np.where(std > 0, std, 1.0)
        return cls(regressor.fit((x - mean) / std, y), mean, std)

    @property
    def name(self) -> str:
        return self.regressor.name

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.regressor.predict((np.asarray(x, np.float64) - self.mean) / self.std)


def cross_validated(make: Callable[[], Regressor], x: np.ndarray, y: np.ndarray, folds: int,
                    seed: int) -> np.ndarray:
    """Each point's prediction by the regressor fitted on the folds that leave it out."""
    order = np.random.default_rng(seed).permutation(len(x))
    out = np.empty(len(x))
    for part in np.array_split(order, min(folds, len(x))):
        rest = np.setdiff1d(order, part)
        out[part] = Standardized.fit(make(), x[rest], y[rest]).predict(x[part])
    return out


def choose_regressor(x: np.ndarray, y: np.ndarray, seed: int = 0, folds: int = 5,
                     names: list[str] | None = None) -> tuple[Standardized, dict[str, dict[str, float]]]:
    """The regressor (of `names`, all by default) with the lowest k-fold cross-validated squared error,
    fitted on every point; and each one's scores: `mse`, `r2` (1 − mse / variance of y) and `spearman`
    (rank correlation of its predictions with y)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) < 2 * folds:
        raise ValueError(f"{len(x)} episodes are too few to fit and cross-validate an error model "
                         f"(at least {2 * folds})")
    scores = {}
    for name in names or list(REGRESSORS):
        predicted = cross_validated(partial(REGRESSORS[name], seed), x, y, folds, seed)
        mse = float(((predicted - y) ** 2).mean())
        scores[name] = {"mse": mse, "r2": 1.0 - mse / max(float(y.var()), 1e-300), "spearman": spearman(predicted, y)}
    best = min(scores, key=lambda n: scores[n]["mse"])
    return Standardized.fit(REGRESSORS[best](seed), x, y), scores


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation (ties broken by order; enough for scoring a regressor)."""
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])
