"""Sampling-importance-resampling from a recipe's own distribution p toward a score (pure functions).

Candidates are drawn from p; each gets a weight w(θ), and the dataset takes a share `explore` of its
episodes uniformly from the candidates and the rest in proportion to w, without replacement (so no
episode repeats another). For a pool much larger than the dataset this draws from the mixture

    q(θ) = explore·p(θ) + (1 − explore)·p(θ)·w(θ) / E_p[w],

and p(θ)/q(θ) = 1 / (explore + (1 − explore)·w(θ)/E_p[w]) is the episode's importance weight: a
weighted average over the dataset estimates an average over p. Every θ is a draw of p, so every
constraint the recipe puts on its values holds.
"""

from __future__ import annotations

import numpy as np


def error_weights(predicted: np.ndarray, alpha: float, epsilon: float) -> np.ndarray:
    """w(θ) = (ε + ê(θ)/median ê)^α: toward high predicted error; ε (in units of the median prediction)
    keeps a floor under the low-error region, α sets the strength (0: p unchanged)."""
    predicted = np.clip(np.asarray(predicted, np.float64), 0.0, None)
    median = float(np.median(predicted))
    scaled = predicted / median if median > 0 else predicted
    return (epsilon + scaled) ** alpha


def balance_weights(p_rare: np.ndarray, target: float, explore: float) -> tuple[np.ndarray, float]:
    """w(θ) = 1 + λ·P̂(rare | θ), λ ≥ 0 solved so the dataset's expected share of the rare value (by the
    classifier's own probabilities, the explore share included) is `target`; returns (w, that share).
    Where the classifier cannot reach the target, λ is at its largest and the share says what it reaches."""
    p = np.clip(np.asarray(p_rare, np.float64), 0.0, 1.0)
    prior = float(p.mean())

    def share(lam: float) -> float:
        w = 1.0 + lam * p
        return explore * prior + (1 - explore) * float((w * p).sum() / w.sum())

    low, high = 0.0, 1e6
    if share(low) >= target:
        return np.ones_like(p), share(low)
    if share(high) <= target:
        return 1.0 + high * p, share(high)
    for _ in range(100):  # bisection on log λ: the share grows with λ
        mid = np.sqrt(max(low, 1e-9) * high)
        low, high = (mid, high) if share(mid) < target else (low, mid)
    return 1.0 + high * p, share(high)


def select(weights: np.ndarray, n: int, explore: float, rng: np.random.Generator) -> np.ndarray:
    """n distinct candidate indices, sorted: round(explore·n) uniformly, the rest in proportion to
    `weights` (Efraimidis–Spirakis keys log(u)/w, the largest n − n_explore of what is left)."""
    weights = np.asarray(weights, np.float64)
    if n > len(weights):
        raise ValueError(f"cannot select {n} episodes from {len(weights)} candidates")
    n_explore = round(explore * n)
    uniform = rng.permutation(len(weights))[:n_explore]
    keys = np.log(rng.random(len(weights))) / np.maximum(weights, 1e-300)
    keys[uniform] = -np.inf
    chosen = np.argsort(-keys, kind="stable")[:n - n_explore]
    return np.sort(np.concatenate([uniform, chosen]))


def importance_weights(weights: np.ndarray, chosen: np.ndarray, explore: float) -> np.ndarray:
    """p/q of each chosen candidate under the mixture q (module docstring), normalized to mean 1."""
    weights = np.asarray(weights, np.float64)
    ratio = 1.0 / (explore + (1 - explore) * weights[chosen] / weights.mean())
    return ratio / ratio.mean()


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """Σ wᵢ·xᵢ / Σ wᵢ: a guided dataset's estimate of an average over the recipe's distribution."""
    w = np.asarray(weights, np.float64)
    return float((w * np.asarray(values, np.float64)).sum() / w.sum())
