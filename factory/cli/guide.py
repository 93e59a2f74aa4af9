"""The closed loop on the command line: `factory run --guided-by` options and `factory loop`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from factory.cli.options import load

if TYPE_CHECKING:
    from factory.recipe.schema import Recipe
    from factory.storage.location import Location

_DEFAULTS = {"strength": 2.0, "epsilon": 0.1, "explore": 0.25, "pool": 16, "target": "rollout", "horizon": 20,
             "train_seconds": 60.0}
"""GuideSettings' defaults, spelled here so `--help` needs no import of the guide (kept equal by a test)."""


def add_guide_options(p: argparse.ArgumentParser, guided_by: bool = True) -> None:
    """The options of a guided run (`factory.guide.select`); with `guided_by`, `factory run`'s choice of guide."""
    g = p.add_argument_group("guided generation (docs/guided.md)")
    if guided_by:
        g.add_argument("--guided-by", metavar="DATASET", help="draw the episodes from the recipe's distributions "
                       "reweighted toward where DATASET's trained model errs most (its report/model.pt, or one "
                       "trained within --guide-train-seconds); each episode stores its importance weight")
        g.add_argument("--balance", metavar="LABEL", help="with --guided-by: steer toward the rare value of the "
                       "yes/no LABEL instead, aiming at half the episodes")
    g.add_argument("--strength", type=float, default=_DEFAULTS["strength"],
                   help="α in q ∝ p·(ε + ê)^α (default %(default)s; 0 leaves the recipe's distribution unchanged)")
    g.add_argument("--epsilon", type=float, default=_DEFAULTS["epsilon"],
                   help="ε, in units of the median predicted error (default %(default)s)")
    g.add_argument("--explore", type=float, default=_DEFAULTS["explore"],
                   help="share of the episodes drawn from the recipe's distribution unchanged (default %(default)s)")
    g.add_argument("--pool", type=int, default=_DEFAULTS["pool"],
                   help="candidates drawn per episode (default %(default)s)")
    g.add_argument("--guide-target", dest="target", choices=["rollout", "one-step", "both"],
                   default=_DEFAULTS["target"], help="which error to chase (default %(default)s)")
    g.add_argument("--guide-horizon", dest="horizon", type=int, default=_DEFAULTS["horizon"],
                   help="rollout steps of that error (default %(default)s)")
    g.add_argument("--guide-train-seconds", dest="train_seconds", type=float, default=_DEFAULTS["train_seconds"],
                   help="training budget of the guide's model when it has none; in `factory loop`, of every model "
                   "(default %(default)s)")


def _settings(args: argparse.Namespace):
    from factory.guide.select import GuideSettings

    return GuideSettings(strength=args.strength, epsilon=args.epsilon, explore=args.explore, pool=args.pool,
                         target=args.target, horizon=args.horizon, balance=getattr(args, "balance", None),
                         train_seconds=args.train_seconds)


def guide_recipe(recipe: Recipe, args: argparse.Namespace, out: Location) -> Recipe:
    """The recipe with the guided selection of `args`, for `factory run`."""
    from factory.guide.select import guided_recipe
    from factory.storage.opener import open_dataset

    guide = open_dataset(args.guided_by)
    return guided_recipe(recipe, str(args.recipe), guide, args.episodes or recipe.episodes, _settings(args), out,
                         say=lambda m: print(m, flush=True))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("loop", help="run → train → guided run → merge → train, K rounds, beside a uniform arm",
                       description="Grow a dataset of RECIPE in K rounds of N episodes guided by its latest model, "
                       "beside a uniform dataset of the same size, and write the test error of both against "
                       "episodes (OUT/index.html, OUT/loop.json).")
    p.add_argument("recipe", type=Path, help="YAML recipe file or a shipped recipe's name")
    p.add_argument("--rounds", type=int, default=2, help="guided rounds after the first uniform dataset (default 2)")
    p.add_argument("--episodes", type=int, required=True, help="N: the first dataset's episodes and each round's")
    p.add_argument("--test-episodes", type=int, help="uniform test episodes both arms are scored on (default N)")
    p.add_argument("--out", type=Path, required=True, help="folder of every dataset, model and the page")
    p.add_argument("--train-steps", type=int, help="train every model for this many optimizer steps instead of "
                   "--guide-train-seconds: the same for both arms however busy the machine")
    add_guide_options(p, guided_by=False)
    p.set_defaults(func=_loop)


def _loop(args: argparse.Namespace) -> int:
    from factory.errors import RecipeError
    from factory.guide.loop import LoopPlan, run_loop

    recipe = load(args.recipe)
    problems = [f"--{name} must be at least 1, got {value}" for name, value in
                (("rounds", args.rounds), ("episodes", args.episodes), ("test-episodes", args.test_episodes),
                 ("train-steps", args.train_steps))
                if value is not None and value < 1] + _settings(args).check()
    if problems:
        raise RecipeError(str(args.recipe), problems)
    plan = LoopPlan(args.rounds, args.episodes, args.test_episodes or args.episodes, args.train_seconds,
                    args.train_steps)
    result = run_loop(recipe, str(args.recipe), plan, args.out, _settings(args), say=lambda m: print(m, flush=True))
    last = result["rounds"][-1]
    print(f"after {args.rounds} rounds ({last['episodes']} episodes): {args.horizon}-step error "
          f"{last['uniform']['rollout']:.4g} m uniform, {last['guided']['rollout']:.4g} m guided; "
          f"wrote {args.out / 'index.html'} and {args.out / 'loop.json'}")
    return 0
