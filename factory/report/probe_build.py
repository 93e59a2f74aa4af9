"""`factory probes` and the report's probe scores: probe items for a dataset's episodes, and the
answers predictors give through their whole-episode rollouts."""

from __future__ import annotations

import json
from pathlib import Path

from factory.checks import bodies_for
from factory.errors import FactoryError
from factory.labels import LabelContext, RobotLabelContext, label_context
from factory.model.baselines import Predictor
from factory.model.evaluate import episode_rollouts
from factory.model.pieces import EpisodeArrays, iter_episodes
from factory.recipe.schema import Recipe
from factory.report.probes import (
    describe_actions,
    describe_scene,
    particle_probes,
    read_answer,
    rigid_probes,
    score,
)
from factory.storage.dataset import Dataset


def episode_probes(ds: Dataset, info: dict[int, dict], ep: EpisodeArrays | None, index: int) -> list[dict]:
    """Every probe item of one episode, numbered within it, with the scene and action in words."""
    recipe = ds.manifest["recipe"]
    params, labels = info[index]["params"], info[index]["labels"]
    objects = ds.layout.objects
    if ep is not None:
        items = rigid_probes(recipe, labels, rigid_context(recipe, ds), ep.states)
        robots = [r["name"] for r in recipe.get("robots", ())]
        action = (f"The robot {', '.join(repr(r) for r in robots)} acts on the scene by its commands." if robots
                  else describe_actions(ep.actions, objects, ds.layout.record_dt))
    else:
        items, action = particle_probes(recipe, labels), "The recipe's scripted actions act on the scene."
    scene = describe_scene(recipe, params, ep.states[0] if ep is not None else None, objects)
    return [{"id": f"{recipe['name']}-{index}-{k}", "episode": index, **item, "scene": scene, "action": action}
            for k, item in enumerate(items)]


def rigid_context(recipe: dict, ds: Dataset) -> LabelContext:
    """The collision labels' context of a rigid dataset, robots' datasets included (their objects are asked
    about; the arm is what acts)."""
    ctx = label_context(Recipe.model_validate(recipe), ds.layout)
    if isinstance(ctx, RobotLabelContext):
        return ctx.base
    if not isinstance(ctx, LabelContext):
        raise FactoryError(f"a '{recipe.get('kind')}' dataset has no rigid-body probes")
    return ctx


def dataset_probes(ds: Dataset, info: dict[int, dict], episodes: list[int] | None = None) -> list[dict]:
    ids = sorted(info) if episodes is None else episodes
    if ds.manifest["recipe"].get("kind", "collision") in ("fluid", "cloth"):
        return [item for e in ids for item in episode_probes(ds, info, None, e)]
    return [item for ep in iter_episodes(ds, ids) for item in episode_probes(ds, info, ep, ep.index)]


def write_probes(items: list[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(i) + "\n" for i in items))


def probe_scores(ds: Dataset, info: dict[int, dict], predictors: list[Predictor], episodes: list[int]) -> dict:
    """Accuracy per probe kind of each predictor's rollouts, the recorded states, majority and chance."""
    eps = list(iter_episodes(ds, episodes))
    if not eps:
        return {}
    recipe = ds.manifest["recipe"]
    ctx = rigid_context(recipe, ds)
    runs = {"truth-readout": [e.states for e in eps]} | {p.name: episode_rollouts(p, eps) for p in predictors}
    items: list[dict] = []
    answers: dict[str, list] = {run: [] for run in runs}
    for k, ep in enumerate(eps):
        bodies = bodies_for(recipe, info[ep.index]["params"])
        for item in episode_probes(ds, info, ep, ep.index):
            items.append(item)
            for run, trajectories in runs.items():
                answers[run].append(read_answer(item, trajectories[k], ep.actions, ctx, bodies))
    return score(items, answers)
