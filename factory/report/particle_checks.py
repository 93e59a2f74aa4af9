"""Model-free checks of a fluid or cloth dataset, in one streaming pass over its episodes.

The rigid checks (penetration, energy, push response) have no meaning for sampled particles;
what does: finite numbers, points staying inside the walls that hold them (the tank, or above the
ground) as `particles_conserved` claims, a liquid keeping its volume (`volume_ratio`), labels that the
label functions re-derive from the
recorded points, scripted movers moving as their actions say (the particle analogue of the rigid
push response: shuffled actions fail it), no repeated episodes, and parameter coverage.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from factory import checks
from factory.contract.rollout import Layout
from factory.labels import FluidContext, episode_context, particle_context
from factory.labels.cloth import ClothContext, cloth_episode_labels
from factory.labels.fluid import fluid_episode_labels, inside
from factory.model.particle_data import iter_point_episodes, scene_bounds
from factory.recipe.distributions import support
from factory.recipe.schema import Recipe
from factory.report.data_checks import parameter_coverage
from factory.storage.dataset import Dataset


def mover_residuals(centres: np.ndarray, actions: np.ndarray, layout: Layout, eps: float = 1e-3) -> np.ndarray:
    """|Δx/dt − v| / max(|v|, |Δx/dt|) of every scripted mover on every transition where it moves or
    its action `v` (the `object.velocity.*` columns) says it should, from its recorded centres
    (T+1, K, 3) and the actions (T, A). A kinematic mover follows its velocity exactly (0); an
    action belonging to another transition usually does not (≈1)."""
    names = layout.action_names
    out = []
    for k, obj in enumerate(layout.objects):
        if f"{obj}.velocity.x" not in names:
            continue
        i = names.index(f"{obj}.velocity.x")
        v, moved = actions[:, i:i + 3], np.diff(centres[:, k], axis=0) / layout.record_dt
        scale = np.maximum(np.linalg.norm(v, axis=-1), np.linalg.norm(moved, axis=-1))
        active = scale > eps
        out.append(np.linalg.norm(moved - v, axis=-1)[active] / scale[active])
    return np.concatenate(out) if out else np.zeros(0)


def check_particles(ds: Dataset, info: dict[int, dict]) -> dict:
    """Numbers for the verdict and the report: one value per check, plus the episodes behind it."""
    recipe = ds.manifest["recipe"]
    parsed = Recipe.model_validate(recipe)
    context_of = episode_context(parsed, ds.layout)
    lower, upper = (np.asarray(b) for b in scene_bounds(recipe))
    section = parsed.scene.fluid or parsed.scene.cloth
    assert section is not None  # a fluid or cloth dataset
    slack = support(section.particle_size)[1]
    min_ratio = parsed.quality.min_volume_ratio
    bad_values, escaped, not_conserved, compressed = 0, [], [], []
    mismatches: Counter[str] = Counter()
    bad_episodes, residuals = 0, []
    digests: Counter[str] = Counter()
    for ep in iter_point_episodes(ds, velocities=True):
        bad_values += checks.nonfinite(ep.pos, ep.vel, ep.movers, ep.actions)
        pos = np.nan_to_num(ep.pos, nan=np.inf)
        if not inside(pos, lower - slack, upper + slack).all():
            escaped.append(ep.index)
        labels = info[ep.index]["labels"]
        if labels.get("particles_conserved") is False:
            not_conserved.append(ep.index)
        ctx = particle_context(context_of(info[ep.index]["params"]))
        if isinstance(ctx, FluidContext):
            derived = fluid_episode_labels(ep.pos, ep.vel, ctx, ep.states)
        else:
            assert isinstance(ctx, ClothContext)
            derived = cloth_episode_labels(ep.pos, ctx)
        wrong = [k for k, v in derived.items() if k in labels and not checks.agrees(v, labels[k])]
        if isinstance(ctx, FluidContext) and derived["volume_ratio"] < min_ratio:
            compressed.append(ep.index)
        mismatches.update(wrong)
        residuals.append(mover_residuals(ep.movers[:, :, :3], ep.actions, ds.layout))
        bad_episodes += bool(wrong)
        digests[checks.episode_digest(ep.pos.reshape(len(ep.pos), -1), ep.actions)] += 1
    n = max(sum(digests.values()), 1)
    moving = np.concatenate([np.zeros(0), *residuals])
    return {
        "episodes": sum(digests.values()),
        "nonfinite": bad_values,
        "points_escaped": {"fraction": len(set(escaped) | set(not_conserved)) / n, "outside_walls": escaped[:10],
                           "labelled_not_conserved": not_conserved[:10]},
        **({"compressed": {"fraction": len(compressed) / n, "episodes": compressed[:10], "min_volume_ratio": min_ratio}}
           if parsed.kind == "fluid" else {}),
        "label_mismatch": {"fraction": bad_episodes / n, "by_label": dict(mismatches)},
        **({"mover_residual": {"median": float(np.median(moving)), "transitions": len(moving)}} if len(moving) else {}),
        "duplicates": {"fraction": sum(c - 1 for c in digests.values()) / n},
        "coverage": parameter_coverage(recipe, info),
    }
