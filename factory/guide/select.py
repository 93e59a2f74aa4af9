"""`factory run --guided-by DATASET`: which episodes a guided dataset runs, and what each weighs.

The guide dataset's trained model (its `report/model.pt`, or one trained now within a budget) is
scored on the guide's held-out episodes (validation, test, out-of-distribution); a regressor learns
how that per-episode error depends on the sampled parameters (`factory.model.regress`); candidates
drawn from the recipe's own distributions are weighted toward high predicted error and resampled
(`factory.guide.proposal`). With `balance`, a classifier of the label's rare value over the guide's
episodes steers instead, toward half the episodes holding it. The selection is written into the
recipe (`factory.recipe.guided`), with the guide's dataset and model hashes and every setting. A fit
that predicts no better than the mean (cross-validated R² ≤ 0) does not steer: the episodes are then
drawn from the recipe unchanged, each of weight 1, and the manifest says so (`fit.steered`).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from factory.contract.sampling import sample_episode, sample_episodes
from factory.errors import FactoryError, RecipeError, did_you_mean
from factory.generate.resume import RUN_FILE
from factory.guide.proposal import balance_weights, error_weights, importance_weights, select
from factory.model.episode_errors import episode_errors, model_kind
from factory.model.regress import MIN_EPISODES, choose_regressor
from factory.model.split import Split, param_values, quality_options, split_episodes
from factory.names import GUIDED_COLUMNS, column_key, is_param_column, param_name
from factory.recipe.guided import CANDIDATE_BASE, Guided
from factory.recipe.schema import Recipe
from factory.storage.dataset import Dataset
from factory.storage.location import Location
from factory.storage.manifest import MANIFEST

Target = Literal["rollout", "one-step", "both"]
TARGETS: tuple[Target, ...] = ("rollout", "one-step", "both")
MODEL = "report/model.pt"  # where `factory train` and `factory report` leave a dataset's model
BLOCK = 2**30  # candidates per block of the candidate stream
BLOCKS = CANDIDATE_BASE // BLOCK


@dataclass(frozen=True)
class GuideSettings:
    """How strongly and toward what a guided run leans (each recorded in the manifest)."""

    strength: float = 2.0  # α in q ∝ p·(ε + ê)^α; 0 leaves p unchanged (a cross-validated error model's
    # predictions are shrunk toward their mean: the square restores their spread)
    epsilon: float = 0.1  # ε, in units of the candidates' median predicted error
    explore: float = 0.25  # share of the episodes drawn from p unchanged
    pool: int = 16  # candidates drawn per episode
    target: Target = "rollout"  # which error: rollout (at `horizon`), one-step, or both (their geometric mean)
    horizon: int = 20  # rollout steps of the error
    balance: str | None = None  # a label: steer toward its rare value instead of toward error
    train_seconds: float = 60.0  # budget of the model trained when the guide has none
    seed: int = 0  # of that training and of the regressors
    block: int = 0  # which block of the candidate stream (each round of `factory loop` draws from its own)

    def check(self) -> list[str]:
        """Problems with the settings, each naming its option."""
        problems = []
        if self.strength < 0:
            problems.append(f"--strength must be >= 0, got {self.strength:g}")
        if self.epsilon <= 0:
            problems.append(f"--epsilon must be > 0, got {self.epsilon:g}")
        if not 0 <= self.explore < 1:
            problems.append(f"--explore must lie in [0, 1), got {self.explore:g}")
        if self.pool < 2:
            problems.append(f"--pool must be at least 2 candidates per episode, got {self.pool}")
        if not 0 <= self.block < BLOCKS:
            problems.append(f"block must lie in 0..{BLOCKS - 1}, got {self.block}")
        if self.horizon < 1:
            problems.append(f"--horizon must be at least 1, got {self.horizon}")
        return problems


def guided_recipe(recipe: Recipe, source: str, guide: Dataset, episodes: int, settings: GuideSettings,
                  out: Location | None = None, say: Callable[[str], None] = lambda _: None) -> Recipe:
    """`recipe` running `episodes` episodes chosen with `guide`; a run already started at `out` with
    the same guide and settings keeps the selection it recorded (so it resumes byte for byte)."""
    if problems := settings.check():
        raise RecipeError(source, problems)
    recipe = recipe.model_copy(update={"episodes": episodes, "guided": None})
    pool, first = episodes * settings.pool, settings.block * BLOCK
    if pool > BLOCK:
        raise RecipeError(source, [f"--pool × --episodes: {pool:,} candidates, more than a block's {BLOCK:,}"])
    specs = sample_episodes(recipe, [CANDIDATE_BASE + first + j for j in range(pool)])
    names = varying_parameters([s.params for s in specs])
    table = guide.episodes()
    check_guide(recipe, source, guide, table, names)
    checkpoint = None if settings.balance else guide_checkpoint(guide, settings, say)
    provenance = {"dataset": str(guide.location), "dataset_sha256": _sha256(guide.location.read_bytes(MANIFEST)),
                  "model_sha256": _sha256(checkpoint.read_bytes()) if checkpoint else None,
                  "settings": asdict(settings), "parameters": names}
    if out is not None and (recorded := _recorded(out, recipe, provenance)) is not None:
        say(f"resuming the guided selection recorded in {out}")
        return _with(recipe, recorded)
    x_pool = np.array([[s.params[n] for n in names] for s in specs])
    x_guide = np.stack([param_values(table, n) for n in names], 1)
    if settings.balance:
        weights, fit = _balance(table, x_guide, x_pool, settings, source)
    else:
        assert checkpoint is not None
        weights, fit = _toward_error(guide, checkpoint, table, x_guide, x_pool, settings)
    fit["steered"] = steers(fit["scores"][fit["regressor"]])
    if not fit["steered"]:  # a model that predicts worse than the mean would steer toward its own noise
        weights = np.ones_like(weights)
        say(f"guided by {guide.location}: no regressor predicts better than the mean (cross-validated R² "
            f"{fit['scores'][fit['regressor']]['r2']:.2f}): the episodes are drawn from the recipe unchanged")
    rng = np.random.default_rng([recipe.seed, zlib.crc32(b"guided selection"), settings.block])
    chosen = select(weights, episodes, settings.explore, rng)
    ratio = importance_weights(weights, chosen, settings.explore)
    say(f"guided by {guide.location}: {fit['regressor']} over {len(names)} parameters "
        f"(cross-validated {_score_line(fit['scores'][fit['regressor']])}); {episodes} of {pool} candidates, "
        f"importance weights {ratio.min():.2f}–{ratio.max():.2f}")
    guided = Guided(candidates=(first + chosen).tolist(), weights=ratio.tolist(), guide=provenance | {"fit": fit})
    return _with(recipe, guided)


def steers(score: dict[str, float]) -> bool:
    """Whether a fit is worth steering by: a cross-validated R² above zero (better than the mean)."""
    return score["r2"] > 0.0


def varying_parameters(params: list[dict[str, float]]) -> list[str]:
    """The parameters that differ between candidates: the vector an error model reads."""
    names = sorted(params[0])
    return [n for n in names if len({p[n] for p in params}) > 1]


def check_guide(recipe: Recipe, source: str, guide: Dataset, table, names: list[str]) -> None:
    """Refuse a guide whose episodes were not drawn over the same parameters as `recipe`'s, naming the difference."""
    ours = set(sample_episode(recipe, 0).params)
    theirs = {param_name(column_key(c)) for c in guide.manifest["episode_params"]}
    name = guide.manifest["recipe"]["name"]
    problems = []
    if missing := sorted(ours - theirs):
        problems.append(f"the guide {guide.location} (recipe '{name}') has no parameter {', '.join(missing)}")
    if extra := sorted(theirs - ours):
        problems.append(f"the guide {guide.location} (recipe '{name}') draws {', '.join(extra)}, which "
                        f"{recipe.name} does not{did_you_mean(extra[0], sorted(ours))}")
    if not problems and (fixed := [n for n in names if np.ptp(param_values(table, n)) == 0]):
        problems.append(f"the guide {guide.location} holds {', '.join(fixed)} fixed, which {recipe.name} draws: "
                        "its episodes cannot say how the error depends on them")
    if problems:
        raise RecipeError(source, [f"--guided-by: {p}; guide a recipe with a dataset of the same recipe"
                                   for p in problems])
    model_kind(guide)  # a dataset kind no model covers is refused in its one line


def guide_checkpoint(guide: Dataset, settings: GuideSettings, say: Callable[[str], None]) -> Path:
    """The guide's trained model: its report's, or one trained now within `settings.train_seconds`."""
    path = guide.root / MODEL
    if path.is_file():
        return path
    from factory.model.particle_train import train_particles
    from factory.model.rigid_train import train_relational
    from factory.model.split import episode_info
    from factory.model.train import TrainConfig

    table = guide.episodes()
    split = split_episodes(table, quality_options(guide).holdout, seed=settings.seed)
    config = TrainConfig(seed=settings.seed, max_seconds=settings.train_seconds, batch_size=64)
    say(f"{guide.location} has no {MODEL}: training one within {settings.train_seconds:g} s")
    if model_kind(guide) == "particle":
        train_particles(guide, split, config, out=path)
    else:
        train_relational(guide, split, episode_info(table), config, out=path)
    return path


def held_out(checkpoint: Path) -> list[int]:
    """The episodes the model at `checkpoint` was not trained on: validation, test, out of distribution."""
    import torch

    split = Split(**torch.load(checkpoint, map_location="cpu", weights_only=False)["split"])
    return sorted(split.val + split.test + split.ood)


def _toward_error(guide: Dataset, checkpoint: Path, table, x_guide: np.ndarray, x_pool: np.ndarray,
                  settings: GuideSettings) -> tuple[np.ndarray, dict[str, Any]]:
    ids = held_out(checkpoint)
    if len(ids) < MIN_EPISODES:
        raise FactoryError(f"{guide.location}: its model {checkpoint} left {len(ids)} episodes out of training, and "
                           f"the error model learns from at least {MIN_EPISODES}; guide with a bigger dataset "
                           "(`factory train` leaves 30% out)")
    errors = episode_errors(guide, checkpoint, ids, settings.horizon)
    row = {int(e): k for k, e in enumerate(np.asarray(table["episode"].to_numpy()))}
    x = x_guide[[row[int(e)] for e in errors.episodes]]
    y = target_values(errors.one_step, errors.rollout, settings.target)
    model, scores = choose_regressor(x, y, settings.seed)
    predicted = np.exp(model.predict(x_pool))
    fit = {"regressor": model.name, "scores": scores, "episodes": len(ids), "target": settings.target,
           "horizon": errors.horizon, "guide_error": {"mean": float(np.exp(y).mean()),
                                                      "median": float(np.median(np.exp(y)))}}
    return error_weights(predicted, settings.strength, settings.epsilon), fit


def target_values(one_step: np.ndarray, rollout: np.ndarray, target: Target) -> np.ndarray:
    """The log of the error the regressor learns (errors span decades; their logs are closer to normal)."""
    floor = 1e-12
    logs = {"rollout": np.log(rollout + floor), "one-step": np.log(one_step + floor)}
    return logs[target] if target in logs else (logs["rollout"] + logs["one-step"]) / 2


def _balance(table, x_guide: np.ndarray, x_pool: np.ndarray, settings: GuideSettings,
             source: str) -> tuple[np.ndarray, dict[str, Any]]:
    name = settings.balance
    assert name is not None
    labels = [c for c in table.column_names if c not in GUIDED_COLUMNS and not is_param_column(c)]
    if name not in table.column_names:
        raise RecipeError(source, [f"--balance: the guide has no label '{name}'{did_you_mean(name, labels)}"])
    values = np.asarray(table[name].to_numpy(zero_copy_only=False))
    if values.dtype != bool:
        raise RecipeError(source, [f"--balance: '{name}' is not a yes/no label (its values are {values.dtype})"])
    rare = bool(values.mean() < 0.5)
    y = (values == rare).astype(np.float64)
    if len(y) < MIN_EPISODES or y.sum() < 2:
        raise RecipeError(source, [f"--balance: '{name}' is {rare} in {int(y.sum())} of the guide's {len(y)} "
                                   f"episodes; a classifier needs at least 2 of them and {MIN_EPISODES} episodes"])
    model, scores = choose_regressor(x_guide, y, settings.seed, classify=True)
    p_rare = np.clip(model.predict(x_pool), 0.0, 1.0)
    weights, share = balance_weights(p_rare, 0.5, settings.explore)
    fit = {"regressor": model.name, "scores": scores, "episodes": len(y), "label": name, "rare_value": rare,
           "guide_share": float(y.mean()), "expected_share": share}
    return weights, fit


def _score_line(score: dict[str, float]) -> str:
    return f"R² {score['r2']:.2f}, rank correlation {score['spearman']:.2f}"


def _with(recipe: Recipe, guided: Guided) -> Recipe:
    return Recipe.model_validate(recipe.model_dump() | {"guided": guided.model_dump()})


def _recorded(out: Location, recipe: Recipe, provenance: dict[str, Any]) -> Guided | None:
    """The selection a run at `out` recorded, when it came from this recipe, guide and settings."""
    if not out.exists() or not out.is_file(RUN_FILE):
        return None
    record = json.loads(out.read_bytes(RUN_FILE))["recipe"]
    guided = record.pop("guided", None)
    if guided is None or record != recipe.model_dump(mode="json"):
        return None
    if {k: v for k, v in guided.get("guide", {}).items() if k != "fit"} != json.loads(json.dumps(provenance)):
        return None
    return Guided.model_validate(guided)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
