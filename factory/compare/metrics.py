"""How two engines' runs of the same episodes differ: trajectories, labels, outcome distributions.

Pure functions of `EngineRun`s (states and labels as the datasets hold them).
"""

from __future__ import annotations

import math

import numpy as np

from factory.compare.runs import EngineRun
from factory.names import CAME_TO_REST, FIRST_CONTACT, FRICTION_COS, LEFT_SUPPORT, REST_STEP, TOUCHED, label_family


def moving(run: EngineRun, fixed: frozenset[str]) -> list[int]:
    return [i for i, o in enumerate(run.layout.objects) if o not in fixed]


def divergence(a: EngineRun, b: EngineRun, fixed: frozenset[str]) -> dict[str, list[float]]:
    """Position gap (m) between the engines at each recorded step: mean, median and 90th percentile
    over episodes of the mean gap over moving objects."""
    idx = moving(a, fixed)
    gap = np.linalg.norm(a.layout.fields(a.states, "pos")[:, :, idx] - b.layout.fields(b.states, "pos")[:, :, idx],
                         axis=-1).mean(axis=-1)  # (E, T+1)
    t = np.arange(gap.shape[1]) * a.layout.record_dt
    return {"t": t.tolist(), "mean": gap.mean(axis=0).tolist(), "median": np.median(gap, axis=0).tolist(),
            "p90": np.percentile(gap, 90, axis=0).tolist()}


def horizon_within(div: dict[str, list[float]], tolerance: float) -> float:
    """Seconds until the median gap first exceeds `tolerance` (the whole episode if never)."""
    over = np.flatnonzero(np.asarray(div["median"]) > tolerance)
    return float(div["t"][over[0]]) if len(over) else float(div["t"][-1])


def label_agreement(a: EngineRun, b: EngineRun) -> dict[str, dict[str, float | None]]:
    """Per label family: the fraction of episodes where both engines gave the same value, and for
    step-valued labels the mean step difference where both fired."""
    families = {"touched": TOUCHED, "first_contact": FIRST_CONTACT, "came_to_rest": CAME_TO_REST,
                "rest_step": REST_STEP, "left_support": LEFT_SUPPORT, "friction_direction": FRICTION_COS}
    out = {}
    for family, stem in families.items():
        names = [k for k in a.labels[0] if label_family(k) == stem and k in b.labels[0]]
        same, diffs, n = 0, [], 0
        for la, lb in zip(a.labels, b.labels, strict=True):
            for k in names:
                x, y = la[k], lb[k]
                if family == "friction_direction":
                    if _finite(x) and _finite(y):  # agree: both oppose the sliding (cosine < -0.5)
                        n += 1
                        same += (x < -0.5) == (y < -0.5)
                        diffs.append(abs(x - y))
                    continue
                n += 1
                same += x == y
                if family in ("first_contact", "rest_step") and x >= 0 and y >= 0:
                    diffs.append(abs(x - y))
        if n:
            out[family] = {"agreement": same / n, "compared": n,
                           "mean_abs_difference": float(np.mean(diffs)) if diffs else None}
    return out


def _finite(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def outcomes(run: EngineRun, fixed: frozenset[str]) -> dict[str, np.ndarray]:
    """Per-episode outcome measures: final position of each moving object, its max speed, the strongest impact."""
    out = {}
    for i in moving(run, fixed):
        name = run.layout.objects[i]
        final = run.layout.field(run.states[:, -1], name, "pos")
        for k, axis in enumerate("xyz"):
            out[f"{name}.final_pos.{axis}"] = final[:, k]
        out[f"{name}.max_speed"] = np.linalg.norm(run.layout.field(run.states, name, "vel"), axis=-1).max(axis=1)
    out["max_contact_force"] = run.max_force
    return out


def wasserstein(x: np.ndarray, y: np.ndarray) -> float:
    """1-D earth mover's distance between two samples (through their quantile functions)."""
    q = np.linspace(0, 1, 201)
    return float(np.mean(np.abs(np.quantile(x, q) - np.quantile(y, q))))


def ks_statistic(x: np.ndarray, y: np.ndarray) -> float:
    """Largest gap between the two empirical CDFs."""
    grid = np.sort(np.concatenate([x, y]))
    cdf = lambda s: np.searchsorted(np.sort(s), grid, side="right") / len(s)  # noqa: E731
    return float(np.max(np.abs(cdf(x) - cdf(y))))


def distribution_distances(a: EngineRun, b: EngineRun, fixed: frozenset[str]) -> dict[str, dict[str, float]]:
    oa, ob = outcomes(a, fixed), outcomes(b, fixed)
    return {name: {"wasserstein": wasserstein(oa[name], ob[name]), "ks": ks_statistic(oa[name], ob[name]),
                   f"mean_{a.engine}": float(np.mean(oa[name])), f"mean_{b.engine}": float(np.mean(ob[name]))}
            for name in oa}
