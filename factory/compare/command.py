"""`factory compare RECIPE --engines genesis,mujoco [--episodes N] --out DIR`."""

from __future__ import annotations

import argparse
from pathlib import Path

from factory.errors import RecipeError
from factory.recipe.schema import Recipe


def compare(recipe: Recipe, engines: list[str], episodes: int, out: Path) -> dict:
    """Run `episodes` episodes of `recipe` on each engine and write out/index.html and out/summary.json."""
    from factory.compare import (  # matplotlib loads only when a comparison runs
        laws,
        metrics,
        page,
    )
    from factory.compare.runs import aligned, run_engine

    if recipe.kind != "collision":
        raise RecipeError(recipe.name, [f"kind: compare measures rigid collisions; this recipe is '{recipe.kind}'"])
    if len(engines) < 2 or len(set(engines)) != len(engines):
        raise RecipeError("factory compare", [f"--engines: give two or more different engines, got '{','.join(engines)}'"])
    runs = aligned([run_engine(recipe, e, episodes, out / "data" / e) for e in engines])
    fixed = frozenset(o.name for o in recipe.scene.objects if o.fixed)
    ref, others = runs[0], runs[1:]
    summary = {
        "recipe": recipe.name, "engines": engines, "reference": ref.engine, "episodes": len(ref.index),
        "versions": {r.engine: r.version for r in runs},
        "divergence": {r.engine: metrics.divergence(ref, r, fixed) for r in others},
        "labels": {r.engine: metrics.label_agreement(ref, r) for r in others},
        "distributions": {r.engine: metrics.distribution_distances(ref, r, fixed) for r in others},
        "laws": {r.engine: laws.residuals(r, recipe) for r in runs},
    }
    summary["horizon"] = {o: {"1cm": metrics.horizon_within(d, 0.01), "5cm": metrics.horizon_within(d, 0.05)}
                          for o, d in summary["divergence"].items()}
    page.write(summary, {r.engine: metrics.outcomes(r, fixed) for r in runs}, out)
    return summary


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="the same episodes on several engines: divergence, labels, laws",
                       description="Run the same episodes (same sampled parameters and actions) of a collision "
                       "recipe on each engine and write DIR/index.html and DIR/summary.json: trajectory "
                       "divergence against horizon, label agreement, outcome distributions and each "
                       "engine's residuals against analytic laws. Each engine's dataset is kept in DIR/data/.")
    p.add_argument("recipe", type=Path)
    p.add_argument("--engines", default="genesis,mujoco", help="comma-separated; the first is the reference")
    p.add_argument("--episodes", type=int, help="episodes per engine (default: the recipe's)")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_compare)


def _compare(args: argparse.Namespace) -> int:
    from factory.recipe.loader import load_recipe

    recipe = load_recipe(args.recipe)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    summary = compare(recipe, engines, args.episodes or recipe.episodes, args.out)
    for other, div in summary["divergence"].items():
        agree = ", ".join(f"{k} {v['agreement']:.0%}" for k, v in summary["labels"][other].items())
        print(f"{other} vs {summary['reference']}: median gap at the end {div['median'][-1]:.3g} m; labels: {agree}")
    print(f"wrote {args.out / 'index.html'}")
    return 0
