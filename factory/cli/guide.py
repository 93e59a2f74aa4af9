"""The closed loop on the command line: `factory run --guided-by` options and `factory loop`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from factory.recipe.schema import Recipe
    from factory.storage.location import Location

_DEFAULTS = {"strength": 1.0, "epsilon": 0.1, "explore": 0.25, "pool": 16, "target": "rollout", "horizon": 20,
             "train_seconds": 60.0}
"""GuideSettings' defaults, spelled here so `--help` needs no import of the guide (kept equal by a test)."""


def add_guide_options(p: argparse.ArgumentParser) -> None:
    """`factory run`'s options of a guided run (`factory.guide.select`)."""
    g = p.add_argument_group("guided generation (docs/guided.md)")
    g.add_argument("--guided-by", metavar="DATASET", help="draw the episodes from the recipe's distributions "
                   "reweighted toward where DATASET's trained model errs most (its report/model.pt, or one trained "
                   "within --guide-train-seconds); each episode stores its importance weight")
    g.add_argument("--balance", metavar="LABEL", help="with --guided-by: steer toward the rare value of the yes/no "
                   "LABEL instead, aiming at half the episodes")
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
                   help="training budget of the guide's model when it has none (default %(default)s)")


def guide_recipe(recipe: Recipe, args: argparse.Namespace, out: Location) -> Recipe:
    """The recipe with the guided selection of `args`, for `factory run`."""
    from factory.guide.select import GuideSettings, guided_recipe
    from factory.storage.opener import open_dataset

    settings = GuideSettings(strength=args.strength, epsilon=args.epsilon, explore=args.explore, pool=args.pool,
                             target=args.target, horizon=args.horizon, balance=args.balance,
                             train_seconds=args.train_seconds)
    guide = open_dataset(args.guided_by)
    return guided_recipe(recipe, str(args.recipe), guide, args.episodes or recipe.episodes, settings, out,
                         say=lambda m: print(m, flush=True))
