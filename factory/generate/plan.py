"""Split a run into shards (fixed episode ranges, one set of files each) and batches (one engine call).

Shard boundaries depend only on the episode count and `outputs.shard_size`, never on how many
workers or envs run them, so the same recipe always yields the same files. A batch runs on one
built scene, so for an engine that shares its scene across a batch, a batch only holds episodes
that drew the same scene-shaping values.
"""

from __future__ import annotations

from dataclasses import dataclass

from factory.generate.sampling import scene_draws
from factory.recipe.schema import Recipe


@dataclass(frozen=True)
class Shard:
    id: int
    start: int  # first episode index
    stop: int  # one past the last

    @property
    def episodes(self) -> range:
        return range(self.start, self.stop)


def plan_shards(episodes: int, shard_size: int) -> list[Shard]:
    return [Shard(i, start, min(start + shard_size, episodes))
            for i, start in enumerate(range(0, episodes, shard_size))]


@dataclass(frozen=True)
class Batch:
    scene: tuple[tuple[str, float], ...]  # scene-shaping values all its episodes share; () if not shared
    episodes: list[int]


def plan_batches(recipe: Recipe, shard: Shard, shared_scene: bool = True) -> list[Batch]:
    """Batches of at most `n_envs` episodes covering the shard, one scene per batch.

    Episodes are grouped by their scene (in order of each scene's first episode) and batched in
    index order within it; with `shared_scene` False every episode brings its own scene values.
    """
    scenes: dict[tuple[tuple[str, float], ...], list[int]] = {}
    for i in shard.episodes:
        scenes.setdefault(tuple(scene_draws(recipe, i).items()) if shared_scene else (), []).append(i)
    n = recipe.n_envs
    return [Batch(scene, episodes[s:s + n]) for scene, episodes in scenes.items()
            for s in range(0, len(episodes), n)]
