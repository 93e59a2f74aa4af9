"""`factory recipes`: the recipes shipped with the package, by the names `factory run NAME` takes."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recipes", help="list the shipped recipes (run one by name: factory run push_target)",
                       description="List the recipes shipped with the package: name, kind, engine, episodes, "
                       "steps and description. `factory run NAME`, `validate NAME` and `compare NAME` take a name "
                       "from this list as well as a path.")
    p.add_argument("--paths", action="store_true", help="also print each recipe's file")
    p.set_defaults(func=_recipes)


def _recipes(args: argparse.Namespace) -> int:
    from factory.errors import RecipeError
    from factory.recipe.loader import load_recipe
    from factory.recipe.shipped import recipes_dir, shipped_recipes

    rows: list[tuple[str, ...]] = []
    for name, path in shipped_recipes().items():
        try:
            r = load_recipe(path)
            rows.append((name, r.kind, r.engine.type, f"{r.episodes:,}", f"{r.steps:,}", r.description, str(path)))
        except RecipeError as exc:
            rows.append((name, "?", "?", "?", "?", f"does not load: {exc.problems[0]}", str(path)))
    if not rows:
        print(f"no shipped recipes found (looked in {recipes_dir()})")
        return 1
    head = ("NAME", "KIND", "ENGINE", "EPISODES", "STEPS")
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(len(head))]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + "  DESCRIPTION")
    for row in rows:
        cells = [str(c).rjust(w) if i in (3, 4) else str(c).ljust(w)
                 for i, (c, w) in enumerate(zip(row[:5], widths, strict=True))]
        print("  ".join(cells) + "  " + row[5] + (f"\n    {row[6]}" if args.paths else ""))
    return 0
