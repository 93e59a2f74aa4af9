"""Run every model-free check over a dataset in one streaming pass over its episodes."""

from __future__ import annotations

from collections import Counter

import numpy as np

from factory import checks
from factory.labels import label_context
from factory.labels.collision import LabelContext
from factory.model.pieces import iter_episodes
from factory.recipe.scene_fields import scene_fields
from factory.recipe.schema import Recipe
from factory.storage.dataset import Dataset


def check_dataset(ds: Dataset, info: dict[int, dict]) -> dict:
    """Numbers for the verdict and the report: one value per check, plus per-episode details."""
    recipe_dict = ds.manifest["recipe"]
    recipe = Recipe.model_validate(recipe_dict)
    ctx = label_context(recipe, ds.layout)
    assert isinstance(ctx, LabelContext)  # a rigid-body (collision) dataset
    gravity = np.asarray(recipe.scene.gravity)
    bad_values = 0
    gains: dict[int, float] = {}
    residuals: list[np.ndarray] = []
    digests: Counter[str] = Counter()
    mismatches: Counter[str] = Counter()
    bad_episodes = 0
    for ep in iter_episodes(ds):
        bad_values += checks.nonfinite(ep.states, ep.actions)
        states = np.nan_to_num(ep.states)
        bodies = checks.bodies_for(recipe_dict, info[ep.index]["params"])
        gains[ep.index] = checks.energy_gain(states, ep.actions, ds.layout, bodies, gravity)
        residuals.append(checks.action_residuals(states, ep.actions, ds.layout, bodies))
        wrong = checks.label_mismatches(states, info[ep.index]["labels"], ctx, bodies)
        mismatches.update(wrong)
        bad_episodes += bool(wrong)
        digests[checks.episode_digest(ep.states, ep.actions)] += 1
    n = max(len(gains), 1)
    residual = np.concatenate(residuals) if residuals else np.zeros(0)
    penetration = contact_penetration(ds)
    gain_values = np.array(list(gains.values()))
    return {
        "episodes": len(gains),
        "nonfinite": bad_values,
        "penetration": {"max": float(penetration.max()) if len(penetration) else 0.0,
                        "p99": float(np.percentile(penetration, 99)) if len(penetration) else 0.0,
                        "p999": float(np.percentile(penetration, 99.9)) if len(penetration) else 0.0,
                        "contacts": len(penetration)},
        "energy_gain": {"max": float(gain_values.max()) if len(gain_values) else 0.0,
                        "median": float(np.median(gain_values)) if len(gain_values) else 0.0,
                        "worst_episodes": sorted(gains, key=lambda e: gains[e], reverse=True)[:5]},
        "action_residual": {"median": float(np.median(residual)) if len(residual) else 0.0,
                            "pushes": len(residual)},
        "label_mismatch": {"fraction": bad_episodes / n, "by_label": dict(mismatches)},
        "duplicates": {"fraction": sum(c - 1 for c in digests.values()) / n},
        "coverage": parameter_coverage(recipe_dict, info),
    }


def parameter_coverage(recipe: dict, info: dict[int, dict]) -> dict[str, dict]:
    """Histogram and filled-bin fraction of each randomized parameter over its declared range. A scene field
    drawn for K scene variants takes K values at most, so it is asked to fill at most K bins."""
    if not info:
        return {}
    n = len(info)
    bins = int(np.clip(n // 5, 4, 20))
    variants: int = recipe.get("scene_variants") or 0
    per_scene = {f.name for f in scene_fields(Recipe.model_validate(recipe))} if variants else set()
    out = {}
    for name in next(iter(info.values()))["params"]:
        declared = checks.declared_range(checks.recipe_value(recipe, name))
        if declared is None:
            continue
        values = np.array([float(e["params"][name]) for e in info.values()])
        out[name] = checks.coverage(values, *declared, bins=min(bins, variants) if name in per_scene else bins)
    return out


def contact_penetration(ds: Dataset) -> np.ndarray:
    """Every contact's penetration depth, reading that one column file by file."""
    return ds.column("contacts", "penetration").astype(np.float64)
