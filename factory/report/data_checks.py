"""Run every model-free check over a dataset in one streaming pass over its episodes."""

from __future__ import annotations

from collections import Counter

import numpy as np

from factory import checks
from factory.labels import RobotLabelContext, label_context
from factory.labels.collision import LabelContext
from factory.labels.robot import tracking_error
from factory.model.pieces import iter_episodes
from factory.recipe.schema import Recipe
from factory.storage.dataset import Dataset


def check_dataset(ds: Dataset, info: dict[int, dict]) -> dict:
    """Numbers for the verdict and the report: one value per check, plus per-episode details."""
    recipe_dict = ds.manifest["recipe"]
    recipe = Recipe.model_validate(recipe_dict)
    ctx = label_context(recipe, ds.layout)
    robots = isinstance(ctx, RobotLabelContext)
    if isinstance(ctx, RobotLabelContext):  # the objects' labels are re-derived; the arm is checked below
        ctx = ctx.base
    assert isinstance(ctx, LabelContext)  # a rigid-body (collision) dataset
    touches = robot_touches(ds) if robots else {}
    tracking: dict[str, list[np.ndarray]] = {r.name: [] for r in recipe.robots}
    creep: dict[int, float] = {}
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
        for robot in recipe.robots:
            start = checks.robot_action_start(ds.layout, robot.name)
            tracking[robot.name].append(tracking_error(ds.layout, robot, states, ep.actions, start))
        if robots:
            creep[ep.index] = max((checks.creep_before_touch(states, ds.layout, o, touches.get((ep.index, o), -1))
                                   for o in ds.layout.objects
                                   if o not in ctx.fixed and checks.at_rest(states, ds.layout, o, ctx.rest_speed)),
                                  default=0.0)
        wrong = checks.label_mismatches(states, info[ep.index]["labels"], ctx, bodies)
        mismatches.update(wrong)
        bad_episodes += bool(wrong)
        digests[checks.episode_digest(ep.states, ep.actions)] += 1
    n = max(len(gains), 1)
    residual = np.concatenate(residuals) if residuals else np.zeros(0)
    penetration = contact_penetration(ds)
    gain_values = np.array(list(gains.values()))
    found = {
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
    if not robots:
        return found
    # an arm does work on the objects all along: energy and impulse checks do not apply; tracking and causality do
    del found["energy_gain"], found["action_residual"]
    moved = sorted(e for e, d in creep.items() if d > checks.CREEP_TOL)
    found["tracking"] = {name: tracking_summary(np.concatenate(errors) if errors else np.zeros(0),
                                                "m" if robot.action_space == "ee_delta" else "rad")
                         for robot in recipe.robots for name, errors in [(robot.name, tracking[robot.name])]}
    found["causality"] = {"fraction": len(moved) / n, "episodes": moved[:20],
                          "worst": max(creep.values(), default=0.0), "tolerance": checks.CREEP_TOL}
    return found


def tracking_summary(errors: np.ndarray, unit: str) -> dict:
    """Median, 99th percentile and largest tracking error over every transition, in the action space's unit."""
    if not len(errors):
        return {"median": 0.0, "p99": 0.0, "max": 0.0, "transitions": 0, "unit": unit}
    return {"median": float(np.median(errors)), "p99": float(np.percentile(errors, 99)), "max": float(errors.max()),
            "transitions": len(errors), "unit": unit}


def robot_touches(ds: Dataset) -> dict[tuple[int, str], int]:
    """(episode, object) → first recorded step something other than the ground touches it, from the contacts
    table read column by column."""
    cols = {c: ds.column("contacts", c) for c in ("episode", "step", "body_a", "body_b")}
    return checks.first_touches(list(ds.layout.objects), cols["episode"], cols["step"], cols["body_a"], cols["body_b"])


def parameter_coverage(recipe: dict, info: dict[int, dict]) -> dict[str, dict]:
    """Histogram and filled-bin fraction of each randomized parameter over its declared range."""
    if not info:
        return {}
    n = len(info)
    bins = int(np.clip(n // 5, 4, 20))
    out = {}
    for name in next(iter(info.values()))["params"]:
        declared = checks.declared_range(checks.recipe_value(recipe, name))
        if declared is None:
            continue
        values = np.array([float(e["params"][name]) for e in info.values()])
        out[name] = checks.coverage(values, *declared, bins=bins)
    return out


def contact_penetration(ds: Dataset) -> np.ndarray:
    """Every contact's penetration depth, reading that one column file by file."""
    return ds.column("contacts", "penetration").astype(np.float64)
