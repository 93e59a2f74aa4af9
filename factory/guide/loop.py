"""`factory loop`: run → train → guided run → merge → train, for K rounds, beside a uniform arm.

Both arms start from the same uniform dataset of N episodes and add N episodes a round: the uniform arm
runs the recipe for N·(k+1) episodes, the guided arm merges in N episodes guided by its latest model
(each round from its own block of the candidate stream, so no candidate repeats). Every model trains
with the same settings and budget, without the recipe's out-of-distribution holdout (every episode
may train: the loop's question is which data teaches more), and is scored on the same uniform test
episodes (another seed of the recipe). `loop.json` and `index.html` hold the error against episodes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from factory.export.merge import merge
from factory.generate.runner import run
from factory.guide.page import write_page
from factory.guide.select import MODEL, GuideSettings, guided_recipe
from factory.model.episode_errors import episode_errors, model_kind
from factory.model.split import episode_info, split_episodes
from factory.model.train import TrainConfig
from factory.recipe.schema import Recipe
from factory.storage.location import location
from factory.storage.opener import open_dataset

TEST_SEED_OFFSET = 1_000_003  # the test episodes' seed: the recipe's plus this


@dataclass(frozen=True)
class LoopPlan:
    rounds: int
    episodes: int  # N: the first dataset's size and each round's addition
    test_episodes: int
    train_seconds: float
    train_steps: int | None = None  # instead of the time budget: the same for every model however busy the machine


def run_loop(recipe: Recipe, source: str, plan: LoopPlan, out: Path, settings: GuideSettings,
             say: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Both arms for `plan.rounds` rounds under `out`; return (and write) the error against episodes."""
    out.mkdir(parents=True, exist_ok=True)
    test = out / "test"
    run(recipe.model_copy(update={"seed": recipe.seed + TEST_SEED_OFFSET}), test, episodes=plan.test_episodes)
    first = out / "uniform-0"
    run(recipe, first, episodes=plan.episodes)
    model_kind(open_dataset(first))  # a kind no model covers stops here, in one line
    rows = [_scored(0, plan, first, first, test, settings)]
    guided = first
    for k in range(1, plan.rounds + 1):
        say(f"round {k}: uniform and guided arms, {plan.episodes * (k + 1)} episodes each")
        uniform = out / f"uniform-{k}"
        run(recipe, uniform, episodes=plan.episodes * (k + 1))
        added = out / f"guided-{k}-added"
        chosen = guided_recipe(recipe, source, open_dataset(guided), plan.episodes, replace(settings, block=k),
                               out=location(added), say=say)
        run(chosen, added)
        merged = out / f"guided-{k}"
        if not (merged / "manifest.json").is_file():
            merge([guided, added], merged)
        guided = merged
        rows.append(_scored(k, plan, uniform, guided, test, settings))
    result = {"recipe": recipe.name, "plan": asdict(plan), "settings": asdict(settings),
              "test": {"path": str(test), "episodes": plan.test_episodes, "seed": recipe.seed + TEST_SEED_OFFSET},
              "rounds": rows}
    (out / "loop.json").write_text(json.dumps(result, indent=1) + "\n")
    write_page(result, out)
    return result


def _scored(k: int, plan: LoopPlan, uniform: Path, guided: Path, test: Path, settings: GuideSettings
            ) -> dict[str, Any]:
    """Round k: each arm's model (trained once, kept beside its data) scored on the test episodes."""
    arms = {"uniform": uniform, "guided": guided}
    scores = {name: _error(_trained(path, plan, settings.seed), test, settings.horizon) for name, path in arms.items()}
    return {"round": k, "episodes": open_dataset(guided).manifest["counts"]["episodes"]} | scores


def _trained(path: Path, plan: LoopPlan, seed: int) -> Path:
    """The dataset's model at MODEL, trained now (no holdout bands) unless an earlier pass left it."""
    checkpoint = path / MODEL
    if checkpoint.is_file():
        return checkpoint
    from factory.model.particle_train import train_particles
    from factory.model.rigid_train import train_relational

    ds = open_dataset(path)
    table = ds.episodes()
    split = split_episodes(table, {}, seed=seed)
    config = TrainConfig(seed=seed, epochs=10_000, batch_size=64, max_steps=plan.train_steps,
                         max_seconds=None if plan.train_steps else plan.train_seconds)
    if model_kind(ds) == "particle":
        train_particles(ds, split, config, out=checkpoint)
    else:
        train_relational(ds, split, episode_info(table), config, out=checkpoint)
    return checkpoint


def _error(model: Path, test: Path, horizon: int) -> dict[str, float]:
    ds = open_dataset(test)
    errors = episode_errors(ds, model, ds.episodes()["episode"].to_pylist(), horizon)
    return {"rollout": float(errors.rollout.mean()), "one_step": float(errors.one_step.mean())}
