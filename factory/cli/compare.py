"""`factory compare RECIPE --engines genesis,mujoco [--episodes N] --out DIR`."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="the same episodes on several engines: divergence, labels, laws",
                       description="Run the same episodes (same sampled parameters and actions) of a collision "
                       "recipe on each engine and write DIR/index.html and DIR/summary.json: trajectory "
                       "divergence against horizon, label agreement, outcome distributions and each "
                       "engine's residuals against analytic laws; for a robot recipe, the robots' joint and "
                       "tool gaps and their labels side by side. Each engine's dataset is kept in DIR/data/.")
    p.add_argument("recipe", type=Path)
    p.add_argument("--engines", default="genesis,mujoco", help="comma-separated; the first is the reference")
    p.add_argument("--episodes", type=int, help="episodes per engine (default: the recipe's)")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_compare)


def _compare(args: argparse.Namespace) -> int:
    from factory.compare import compare  # matplotlib loads only when a comparison runs
    from factory.recipe.loader import load_recipe

    recipe = load_recipe(args.recipe)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    summary = compare(recipe, engines, args.episodes or recipe.episodes, args.out)
    for other, div in summary["divergence"].items():
        agree = ", ".join(f"{k} {v['agreement']:.0%}" for k, v in summary["labels"][other].items())
        print(f"{other} vs {summary['reference']}: median gap at the end {div['median'][-1]:.3g} m; labels: {agree}")
        for name, gaps in summary.get("robots", {}).get(other, {}).get("robots", {}).items():
            print(f"  {name}: joint gap mean {gaps['joint_gap_rad']['mean']:.3g} rad, tool gap mean "
                  f"{gaps['tool_gap_m']['mean'] * 1000:.3g} mm")
    print(f"wrote {args.out / 'index.html'}")
    return 0
