"""One recipe's episodes on several engines, measured against the first: the summary `factory compare` writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.errors import RecipeError
from factory.recipe.schema import Recipe


def compare(recipe: Recipe, engines: list[str], episodes: int, out: Path) -> dict:
    """Run `episodes` episodes of `recipe` on each engine and write out/index.html and out/summary.json."""
    from factory.compare import (  # matplotlib loads only when a comparison runs
        laws,
        metrics,
        page,
        robots,
    )
    from factory.compare.runs import aligned, run_engine

    if recipe.kind != "collision":
        raise RecipeError(recipe.name, [f"kind: compare measures rigid collisions; this recipe is '{recipe.kind}'"])
    if len(engines) < 2 or len(set(engines)) != len(engines):
        raise RecipeError("factory compare",
                          [f"--engines: give two or more different engines, got '{','.join(engines)}'"])
    runs = aligned([run_engine(recipe, e, episodes, out / "data" / e) for e in engines])
    fixed = frozenset(o.name for o in recipe.scene.objects if o.fixed)
    ref, others = runs[0], runs[1:]
    summary: dict[str, Any] = {
        "recipe": recipe.name, "engines": engines, "reference": ref.engine, "episodes": len(ref.index),
        "versions": {r.engine: r.version for r in runs},
        "divergence": {r.engine: metrics.divergence(ref, r, fixed) for r in others},
        "labels": {r.engine: metrics.label_agreement(ref, r) for r in others},
        "distributions": {r.engine: metrics.distribution_distances(ref, r, fixed) for r in others},
        "laws": {r.engine: laws.residuals(r, recipe) for r in runs},
    }
    if recipe.robots:
        summary["robots"] = {r.engine: robots.robot_comparison(ref, r, recipe) for r in others}
    summary["horizon"] = {o: {"1cm": metrics.horizon_within(d, 0.01), "5cm": metrics.horizon_within(d, 0.05)}
                          for o, d in summary["divergence"].items()}
    page.write(summary, {r.engine: metrics.outcomes(r, fixed) for r in runs}, out)
    return summary
