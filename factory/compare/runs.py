"""Run one recipe on each engine and read every episode back as arrays."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from factory.contract.rollout import Layout
from factory.generate.runner import run
from factory.names import episode_row, param_name
from factory.recipe.schema import Recipe
from factory.storage.base import column_array
from factory.storage.opener import open_dataset


@dataclass(frozen=True)
class EngineRun:
    """One engine's episodes: states (E, T+1, S), actions (E, T, A), per-episode params and labels."""

    engine: str
    version: str
    index: np.ndarray  # (E,) episode indices (quarantined episodes are missing)
    layout: Layout
    states: np.ndarray
    actions: np.ndarray
    params: list[dict[str, float]]  # by name: 'ball.mass'
    labels: list[dict[str, Any]]
    max_force: np.ndarray  # (E,) strongest contact force of each episode, N


def on_engine(recipe: Recipe, engine: str) -> Recipe:
    """The recipe with its engine swapped (engine options other than the type are the engine's own)."""
    same = recipe.engine.type == engine
    data = recipe.model_dump(mode="json") | {
        "engine": recipe.engine.model_dump(mode="json") if same else {"type": engine},
        "outputs": recipe.outputs.model_dump() | {"formats": ["parquet"]}}
    return Recipe.model_validate(data)


def run_engine(recipe: Recipe, engine: str, episodes: int, out: Path) -> EngineRun:
    manifest = run(on_engine(recipe, engine), out, episodes=episodes, overwrite=True)
    ds = open_dataset(out)
    t = ds.transitions()
    rows = ds.episodes().to_pylist()
    n_episodes, n_steps = len(rows), recipe.recorded_steps
    state = column_array(t["state"]).reshape(n_episodes, n_steps, -1)
    last = column_array(t["next_state"]).reshape(n_episodes, n_steps, -1)[:, -1:]
    params, labels = [], []
    for r in rows:
        keyed, named = episode_row(r)
        params.append({param_name(k): v for k, v in keyed.items()})
        labels.append(named)
    force = np.asarray(t["max_contact_force"].to_numpy(), float).reshape(n_episodes, n_steps).max(axis=1)
    info = manifest["engine"]
    return EngineRun(engine, str(info.get("version", "?")), np.array([r["episode"] for r in rows]), ds.layout,
                     np.concatenate([state, last], axis=1), column_array(t["action"]).reshape(n_episodes, n_steps, -1),
                     params, labels, force)


def aligned(runs: list[EngineRun]) -> list[EngineRun]:
    """Each run cut to the episodes every engine kept, in the same order."""
    common = sorted(set.intersection(*(set(r.index.tolist()) for r in runs)))

    def cut(r: EngineRun) -> EngineRun:
        pick = np.searchsorted(r.index, common)
        return EngineRun(r.engine, r.version, r.index[pick], r.layout, r.states[pick], r.actions[pick],
                         [r.params[i] for i in pick], [r.labels[i] for i in pick], r.max_force[pick])

    return [cut(r) for r in runs]
