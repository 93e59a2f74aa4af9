"""The one protocol every engine adapter implements."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol

from factory.contract.rollout import Layout, Rollout
from factory.contract.sampling import EpisodeSpec
from factory.recipe.schema import Recipe


@dataclass(frozen=True)
class EngineInfo:
    name: str
    version: str
    backend: str
    renderer: str | None = None  # the GL backend cameras render with; absent without cameras

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class Engine(Protocol):
    """Simulates batches of episodes; knows nothing of storage.

    Lifecycle: `Engine(recipe)` checks the recipe is representable (raising `EngineUnsupported`
    before anything is built), `open()` builds the scene once, `run_batch()` runs up to
    `recipe.n_envs` episodes at a time, `close()` frees the engine.
    """

    layout: Layout
    shares_scene: bool
    """True if every env of a batch runs on one built scene, so scene-shaping fields
    (`factory.recipe.scene_fields`) must be equal across a batch; the runner groups episodes accordingly.
    An adapter whose stepping runs on several threads says how many in `threads` (1 when absent): a
    `factory run` writes beside the engine only on a core those threads leave free."""

    def __init__(self, recipe: Recipe) -> None: ...
    def info(self) -> EngineInfo: ...
    def open(self) -> None: ...
    def run_batch(self, specs: list[EpisodeSpec]) -> list[Rollout]: ...
    def close(self) -> None: ...
