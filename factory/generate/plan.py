"""Split a run into shards (fixed episode ranges, one set of files each) and batches (one engine call).

Shard boundaries depend only on the episode count and `outputs.shard_size`, never on how many
workers or envs run them, so the same recipe always yields the same files. A batch runs on one
built scene, so for an engine that shares its scene across a batch, a batch only holds episodes
that drew the same scene-shaping values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from factory.contract.rollout import Layout
from factory.contract.sampling import scene_draws
from factory.errors import RecipeError
from factory.recipe.schema import MAX_EPISODES, MAX_SHARDS, Recipe

MEMORY_SHARE = 0.25  # of this machine's RAM that the shards a run holds at once may take
SHARDS_IN_MEMORY = 3  # simulating one, writing one, one finished awaiting its receipt


@dataclass(frozen=True)
class Shard:
    id: int
    start: int  # first episode index
    stop: int  # one past the last

    @property
    def episodes(self) -> range:
        return range(self.start, self.stop)


def check_scale(recipe: Recipe, episodes: int, layout: Layout, source: str = "<recipe>") -> None:
    """Refuse a run whose plan, or whose shards in memory, would not fit this machine, before any
    memory is spent on it: planning lists every shard, and a shard's episodes are held until written."""
    problems = []
    if not 1 <= episodes <= MAX_EPISODES:
        problems.append(f"episodes: {episodes:,} is outside 1..{MAX_EPISODES:,}; split the work into datasets "
                        "and `factory merge` them")
    elif -(-episodes // recipe.outputs.shard_size) > MAX_SHARDS:
        problems.append(f"outputs.shard_size: {episodes:,} episodes in shards of {recipe.outputs.shard_size} "
                        f"make more than {MAX_SHARDS:,} shards; raise shard_size")
    need = SHARDS_IN_MEMORY * shard_bytes(recipe, layout)
    have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if need > MEMORY_SHARE * have:
        problems.append(f"outputs.shard_size: {recipe.outputs.shard_size} episodes × {recipe.recorded_steps + 1} "
                        f"recorded states would hold ~{need / 2**30:,.1f} GiB in memory, over "
                        f"{MEMORY_SHARE:.0%} of this machine's {have / 2**30:,.0f} GiB; lower shard_size, "
                        "steps, record_points or camera resolutions, or raise outputs.record_every or cameras' every")
    if problems:
        raise RecipeError(source, problems)


def shard_bytes(recipe: Recipe, layout: Layout) -> int:
    """Memory a shard's rollouts take before they are written: states, actions and points as float32,
    and camera frames, twice over (the arrays and the tables built from them)."""
    per_state = layout.state_size + layout.action_size + 3 * layout.n_points * len(layout.points)
    episodes, states = max(recipe.outputs.shard_size, recipe.n_envs), recipe.recorded_steps + 1
    frames = sum(len(c.steps(states)) * c.width * c.height * (3 * ("rgb" in c.streams) + 4 * ("depth" in c.streams)
                                                              + ("segmentation" in c.streams))
                 for c in layout.cameras)
    return 2 * episodes * (4 * states * per_state + frames)


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
