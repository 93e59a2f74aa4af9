"""Split a run into shards (fixed episode ranges, one set of files each) and batches (one engine call).

Shard boundaries depend only on the episode count and `outputs.shard_size`, never on how many
workers or envs run them, so the same recipe always yields the same files.
"""

from __future__ import annotations

from dataclasses import dataclass


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


def plan_batches(shard: Shard, n_envs: int) -> list[range]:
    """Consecutive episode ranges of at most `n_envs` episodes covering the shard."""
    return [range(s, min(s + n_envs, shard.stop)) for s in range(shard.start, shard.stop, n_envs)]
