"""Replay: simulate stored episodes again from the manifest alone (recipe, seed, engine) and compare
them with what the dataset holds, bit for bit.

Checksums prove the bytes are the ones written; replay proves they are what the engine produces. An
episode depends only on (recipe, seed, index), so each is re-run alone and must match exactly on the
same engine, engine version and platform.
"""

from __future__ import annotations

import platform as host
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from factory.contract.rollout import Layout
from factory.generate.plan import Shard
from factory.generate.shard import sample_shard, simulate_shard
from factory.recipe.schema import Recipe
from factory.storage.dataset import Dataset


@dataclass(frozen=True)
class Replayed:
    """One episode's verdict: identical, or where it first differs."""

    episode: int
    identical: bool
    step: int | None = None  # first differing recorded state
    field: str | None = None  # its first differing state column (or point field)

    def __str__(self) -> str:
        if self.identical:
            return f"episode {self.episode}: identical"
        return f"episode {self.episode}: different from step {self.step}, field {self.field}"

    def to_dict(self) -> dict[str, Any]:
        return {"episode": self.episode, "identical": self.identical,
                **({} if self.identical else {"step": self.step, "field": self.field})}


@dataclass(frozen=True)
class Replay:
    """One replay: each episode's verdict, and the engine, platform and time it ran on."""

    results: list[Replayed]
    engine: dict[str, str]
    platform: str = field(default_factory=host.platform)
    python: str = field(default_factory=host.python_version)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def identical(self) -> bool:
        return all(r.identical for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        """What `validity.json` records of it (`factory.certify.documents.record_replay`)."""
        return {"at": self.at, "engine": self.engine, "platform": self.platform, "python": self.python,
                "identical": self.identical, "episodes": [r.to_dict() for r in self.results]}


def choose(ds: Dataset, count: int, named: Sequence[int] = (), seed: int | None = None) -> list[int]:
    """The episodes to replay: those `named`, else `count` stored ones drawn at random."""
    stored = sorted(int(e) for e in ds.column("episodes", "episode"))
    if named:
        missing = sorted(set(named) - set(stored))
        if missing:
            raise ValueError(f"episodes {missing[:10]} are not in {ds.location}")
        return list(named)
    return sorted(random.Random(seed).sample(stored, min(count, len(stored))))


def replay(ds: Dataset, episodes: Sequence[int]) -> Replay:
    """Re-simulate `episodes` of `ds` one at a time and compare every recorded array."""
    recipe = Recipe.model_validate(ds.manifest["recipe"])
    stored = {r.index: r for r in ds.records(episodes)}
    out, engine = [], dict(ds.manifest["engine"])
    for index in episodes:
        shard = Shard(-1, index, index + 1)
        simulated, built = simulate_shard(recipe, shard, sample_shard(recipe, shard))
        engine = built.info().to_dict()
        fresh = simulated.batches[0][2][0]
        mine = stored[index].rollout
        arrays = [("state", fresh.states, mine.states), ("action", fresh.actions, mine.actions),
                  *((name, fresh.points[name], mine.points[name]) for name in ds.layout.points)]
        out.append(first_difference(index, arrays, ds.layout))
    return Replay(out, engine)


def first_difference(index: int, arrays: list[tuple[str, np.ndarray, np.ndarray]], layout: Layout) -> Replayed:
    """The earliest step at which any array differs in its bytes, and the field there (a state column,
    an action column, or a point field's particle / vertex)."""
    found: tuple[int, str] | None = None
    for name, fresh, stored in arrays:
        fresh, stored = np.asarray(fresh, np.float32), np.asarray(stored, np.float32)
        if fresh.shape != stored.shape:
            return Replayed(index, False, 0, f"{name} shape {stored.shape} (replayed {fresh.shape})")
        differs = fresh.view(np.uint32) != stored.view(np.uint32)
        steps = np.flatnonzero(differs.reshape(len(differs), -1).any(axis=1))
        if len(steps) and (found is None or steps[0] < found[0]):
            step = int(steps[0])
            column = int(np.flatnonzero(differs[step].reshape(-1))[0])
            names = {"state": layout.state_names, "action": layout.action_names}.get(name)
            found = (step, f"{name} {names[column]}" if names else f"{name}[{column // 3}]")
    return Replayed(index, True) if found is None else Replayed(index, False, *found)

