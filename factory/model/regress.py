"""Small regressors from an episode's parameter vector to a number (its model error, a label's value).

The closed loop (`factory.guide`) learns from a few dozen held-out episodes how a trained model's error
depends on the sampled parameters. Which regressor suits that depends on the recipe, so three are
fitted and the one with the lowest cross-validated error is kept (`choose_regressor`): k nearest
neighbours (local, no shape assumed), ridge regression on quadratic features (smooth trends, few
episodes), gradient-boosted trees (a few relevant parameters among many) and a small network (smooth,
any shape, more data). All see standardized inputs and are
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
    """Ridge regression on 1, x and every product xᵢxⱼ; the penalty of `ridges` with the lowest
    leave-one-out error (closed form: each residual over 1 − its leverage)."""

    name = "quadratic-ridge"

    def __init__(self, ridges: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)):
        self.ridges = ridges
        self.coef = np.zeros(0)

    @staticmethod
    def _features(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        i, j = np.triu_indices(x.shape[1])
        return np.concatenate([np.ones((len(x), 1)), x, x[:, i] * x[:, j]], 1)

    def fit(self, x: np.ndarray, y: np.ndarray) -> QuadraticRidge:
        f, y = self._features(x), np.asarray(y, np.float64)
        best = np.inf
        for ridge in self.ridges:
            penalty = ridge * np.eye(f.shape[1])
            penalty[0, 0] = 0.0  # the intercept is not shrunk
            inverse = np.linalg.solve(f.T @ f + penalty, f.T)
            coef = inverse @ y
            leverage = np.einsum("ij,ji->i", f, inverse)
            loo = float((((y - f @ coef) / np.clip(1 - leverage, 1e-6, None)) ** 2).mean())
            if loo < best:
                best, self.coef = loo, coef
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._features(x) @ self.coef


class QuadraticLogistic:
    """A probability: logistic regression on the quadratic features (L2-penalized, Newton steps). A yes/no
    outcome that holds inside a band or an ellipse of the parameters (a push aimed within a few degrees
    of a target) is a threshold on a quadratic form: this fits it exactly where the others blur it. The
    penalty of `ridges` with the lowest squared error over 3 folds of the training points is kept."""

    name = "quadratic-logistic"

    def __init__(self, ridges: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0), iterations: int = 25):
        self.ridges, self.iterations = ridges, iterations
        self.coef = np.zeros(0)

    def fit(self, x: np.ndarray, y: np.ndarray) -> QuadraticLogistic:
        f, y = QuadraticRidge._features(x), np.clip(np.asarray(y, np.float64), 0.0, 1.0)
        fold = np.arange(len(y)) % 3
        errors = [sum(float(((_sigmoid(f[fold == k] @ self._newton(f[fold != k], y[fold != k], r)) - y[fold == k])
                             ** 2).sum()) for k in range(3)) for r in self.ridges]
        self.coef = self._newton(f, y, self.ridges[int(np.argmin(errors))])
        return self

    def _newton(self, f: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
        penalty = ridge * np.eye(f.shape[1])
        penalty[0, 0] = 0.0  # the intercept is not shrunk
        coef = np.zeros(f.shape[1])
        for _ in range(self.iterations):
            p = _sigmoid(f @ coef)
            hessian = (f * (p * (1 - p))[:, None]).T @ f + penalty
            step = np.linalg.solve(hessian, f.T @ (p - y) + penalty @ coef)
            coef = coef - step
            if np.abs(step).max() < 1e-8:
                break
        return coef

    def predict(self, x: np.ndarray) -> np.ndarray:
        return _sigmoid(QuadraticRidge._features(x) @ self.coef)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


class BoostedTrees:
    """Least-squares gradient boosting of depth-limited regression trees (axis-aligned splits, each the
    best over every feature's sorted values): picks out the few parameters that matter among many."""

    name = "boosted-trees"

    def __init__(self, rounds: int = 100, depth: int = 3, rate: float = 0.1, min_leaf: int = 3):
        self.rounds, self.depth, self.rate, self.min_leaf = rounds, depth, rate, min_leaf
        self.base = 0.0
        self.trees: list[list[tuple[int, float, int, int, float]]] = []

    def fit(self, x: np.ndarray, y: np.ndarray) -> BoostedTrees:
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        self.base = float(y.mean())
        residual = y - self.base
        self.trees = []
        for _ in range(self.rounds):
            tree: list[tuple[int, float, int, int, float]] = []
            self._grow(tree, x, residual, np.arange(len(x)), self.depth)
            self.trees.append(tree)
            residual = residual - self.rate * self._apply(tree, x)
        return self

    def _grow(self, tree: list, x: np.ndarray, r: np.ndarray, rows: np.ndarray, depth: int) -> int:
        """Append the node for `rows` (and its subtree) to `tree`; return its position. A node is
        (feature, threshold, left, right, value); a leaf has feature -1."""
        at = len(tree)
        tree.append((-1, 0.0, -1, -1, float(r[rows].mean())))
        split = self._best_split(x[rows], r[rows]) if depth > 0 and len(rows) >= 2 * self.min_leaf else None
        if split is None:
            return at
        feature, threshold = split
        left = rows[x[rows, feature] <= threshold]
        right = rows[x[rows, feature] > threshold]
        tree[at] = (feature, threshold, self._grow(tree, x, r, left, depth - 1),
                    self._grow(tree, x, r, right, depth - 1), 0.0)
        return at

    def _best_split(self, x: np.ndarray, r: np.ndarray) -> tuple[int, float] | None:
        """The split that most lowers the squared error, leaving `min_leaf` rows each side."""
        n, best, found = len(r), 0.0, None
        k = np.arange(self.min_leaf, n - self.min_leaf + 1)  # rows on the left
        for feature in range(x.shape[1]):
            order = np.argsort(x[:, feature], kind="stable")
            xs, total = x[order, feature], np.cumsum(r[order])
            left = total[k - 1]
            gain = left ** 2 / k + (total[-1] - left) ** 2 / (n - k)
            gain[xs[k - 1] == xs[np.minimum(k, n - 1)]] = -np.inf  # no threshold between equal values
            j = int(np.argmax(gain))
            if gain[j] > best + total[-1] ** 2 / n + 1e-12:
                best, found = gain[j] - total[-1] ** 2 / n, (feature, float((xs[k[j] - 1] + xs[k[j]]) / 2))
        return found

    @staticmethod
    def _apply(tree: list, x: np.ndarray) -> np.ndarray:
        """Every row's leaf value, all rows descending one level at a time."""
        feature, threshold, left, right, value = (np.array(column) for column in zip(*tree, strict=True))
        node, rows = np.zeros(len(x), int), np.arange(len(x))
        while (inner := feature[node] >= 0).any():
            go_left = x[rows, np.where(inner, feature[node], 0)] <= threshold[node]
            node = np.where(inner, np.where(go_left, left[node], right[node]), node)
        return value[node]

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        return self.base + self.rate * sum((self._apply(t, x) for t in self.trees), np.zeros(len(x)))


class SmallNetwork:
    """Two hidden layers of 32 tanh units, full-batch Adam with weight decay, on one CPU thread."""

    name = "small-network"

    def __init__(self, seed: int = 0, steps: int = 200):
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
        opt = torch.optim.Adam(net.parameters(), lr=2e-2, weight_decay=1e-3)
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


CLASSIFIERS: dict[str, Callable[[int], Regressor]] = {
    NearestNeighbours.name: lambda seed: NearestNeighbours(),
    QuadraticLogistic.name: lambda seed: QuadraticLogistic(),
    "boosted-trees": lambda seed: BoostedTrees(),
    "small-network": lambda seed: SmallNetwork(seed),
}
"""Fitted to yes/no outcomes (0 or 1): each predicts a probability (the regressors' by clipping)."""

REGRESSORS: dict[str, Callable[[int], Regressor]] = {
    NearestNeighbours.name: lambda seed: NearestNeighbours(),
    QuadraticRidge.name: lambda seed: QuadraticRidge(),
    BoostedTrees.name: lambda seed: BoostedTrees(),
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


FOLDS = 5
MIN_EPISODES = 2 * FOLDS  # the fewest points `choose_regressor` cross-validates


def cross_validated(make: Callable[[], Regressor], x: np.ndarray, y: np.ndarray, folds: int,
                    seed: int) -> np.ndarray:
    """Each point's prediction by the regressor fitted on the folds that leave it out."""
    order = np.random.default_rng(seed).permutation(len(x))
    out = np.empty(len(x))
    for part in np.array_split(order, min(folds, len(x))):
        rest = np.setdiff1d(order, part)
        out[part] = Standardized.fit(make(), x[rest], y[rest]).predict(x[part])
    return out


def choose_regressor(x: np.ndarray, y: np.ndarray, seed: int = 0, folds: int = FOLDS,
                     names: list[str] | None = None, classify: bool = False
                     ) -> tuple[Standardized, dict[str, dict[str, float]]]:
    """The regressor (of `names`; by default every one of REGRESSORS, or of CLASSIFIERS with `classify`)
    with the lowest k-fold cross-validated squared error, fitted on every point; and each one's scores:
    `mse`, `r2` (1 − mse / variance of y) and `spearman` (rank correlation of its predictions with y)."""
    makers = CLASSIFIERS if classify else REGRESSORS
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) < 2 * folds:
        raise ValueError(f"{len(x)} episodes are too few to fit and cross-validate an error model "
                         f"(at least {2 * folds})")
    scores = {}
    for name in names or list(makers):
        predicted = cross_validated(partial(makers[name], seed), x, y, folds, seed)
        if classify:
            predicted = np.clip(predicted, 0.0, 1.0)
        mse = float(((predicted - y) ** 2).mean())
        scores[name] = {"mse": mse, "r2": 1.0 - mse / max(float(y.var()), 1e-300), "spearman": spearman(predicted, y)}
    best = min(scores, key=lambda n: scores[n]["mse"])
    return Standardized.fit(makers[best](seed), x, y), scores


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation (ties broken by order; enough for scoring a regressor)."""
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])
