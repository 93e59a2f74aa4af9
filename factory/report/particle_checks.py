"""Model-free checks of a fluid or cloth dataset, in one streaming pass over its episodes.

The rigid checks (penetration, energy, push response) have no meaning for sampled particles;
what does: finite numbers, points staying inside the walls that hold them (the tank, or above the
ground) as `particles_conserved` claims, a liquid keeping its volume (`volume_ratio`), labels that the label functions re-derive from the
recorded points, no repeated episodes, and parameter coverage.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from factory import checks
from factory.labels import FluidContext, episode_context
from factory.labels.cloth import cloth_episode_labels
from factory.labels.fluid import fluid_episode_labels, inside
from factory.model.particle_data import iter_point_episodes, scene_bounds
from factory.recipe.distributions import support
from factory.recipe.schema import Recipe
from factory.report.data_checks import parameter_coverage
from factory.storage.dataset import Dataset


def check_particles(ds: Dataset, info: dict[int, dict]) -> dict:
    """Numbers for the verdict and the report: one value per check, plus the episodes behind it."""
    recipe = ds.manifest["recipe"]
    parsed = Recipe.model_validate(recipe)
    context_of = episode_context(parsed, ds.layout)
    lower, upper = (np.asarray(b) for b in scene_bounds(recipe))
    slack = support((parsed.scene.fluid or parsed.scene.cloth).particle_size)[1]
    min_ratio = parsed.quality.min_volume_ratio
    bad_values, escaped, not_conserved, compressed = 0, [], [], []
    mismatches: Counter[str] = Counter()
    bad_episodes, digests = 0, Counter()
    for ep in iter_point_episodes(ds, velocities=True):
        bad_values += checks.nonfinite(ep.pos, ep.vel, ep.movers, ep.actions)
        pos = np.nan_to_num(ep.pos, nan=np.inf)
        if not inside(pos, lower - slack, upper + slack).all():
            escaped.append(ep.index)
        labels = info[ep.index]["labels"]
        if labels.get("particles_conserved") is False:
            not_conserved.append(ep.index)
        ctx = context_of(info[ep.index]["params"])
        derived = (fluid_episode_labels(ep.pos, ep.vel, ctx) if isinstance(ctx, FluidContext)
                   else cloth_episode_labels(ep.pos, ctx))
        wrong = [k for k, v in derived.items() if k in labels and not checks.agrees(v, labels[k])]
        if isinstance(ctx, FluidContext) and derived["volume_ratio"] < min_ratio:
            compressed.append(ep.index)
        mismatches.update(wrong)
        bad_episodes += bool(wrong)
        digests[checks.episode_digest(ep.pos.reshape(len(ep.pos), -1), ep.actions)] += 1
    n = max(sum(digests.values()), 1)
    return {
        "episodes": sum(digests.values()),
        "nonfinite": bad_values,
        "points_escaped": {"fraction": len(set(escaped) | set(not_conserved)) / n, "outside_walls": escaped[:10],
                           "labelled_not_conserved": not_conserved[:10]},
        **({"compressed": {"fraction": len(compressed) / n, "episodes": compressed[:10], "min_volume_ratio": min_ratio}}
           if parsed.kind == "fluid" else {}),
        "label_mismatch": {"fraction": bad_episodes / n, "by_label": dict(mismatches)},
        "duplicates": {"fraction": sum(c - 1 for c in digests.values()) / n},
        "coverage": parameter_coverage(recipe, info),
    }
