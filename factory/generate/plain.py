"""The executor of a plain `factory run` (no `--workers`, no `--scheduler`): the cores it owns, used.

Genesis steps its kernels on one thread per process (`QD_NUM_THREADS`, read at import, is left unset:
threads change a particle scene's bytes, README "Threads"). For rigid collisions that thread is most
of the work and the write-behind helper fills the second core with labels and writes (README
"Benchmarks"). A liquid or a sheet is different: stepping is nearly all the work, so one stepping
process would leave every other core idle. So a plain run of a
particle recipe with more than one shard to do runs them on a local dask cluster of one worker
process per core (at most one per shard). A
shard's bytes depend only on its recipe, seed and episode range, so the dataset is the same as one
process would write.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from factory.generate.distributed import DaskExecutor
from factory.generate.plan import Shard
from factory.generate.runner import run_write_behind
from factory.generate.shard import Progress
from factory.generate.write_behind import usable_cores
from factory.recipe.schema import Recipe
from factory.storage.location import Location

PARTICLE_KINDS = ("fluid", "cloth")


def local_workers(recipe: Recipe, shards: int, cores: int, genesis_threads: int = 1) -> int:
    """Worker processes a plain run of `shards` shards starts on `cores` cores; 0: this process steps
    them all, with a write-behind helper (collision recipes, MuJoCo, whose rollout threads already fill
    the cores, Unity, Genesis on a GPU, which one process drives, and a single shard)."""
    engine = recipe.engine
    if engine.type != "genesis" or engine.backend != "cpu" or recipe.kind not in PARTICLE_KINDS:
        return 0
    workers = min(shards, cores // max(genesis_threads, 1))
    return workers if workers > 1 else 0


def genesis_threads() -> int:
    """Kernel threads of each Genesis process: `QD_NUM_THREADS` where the user set it, else one."""
    value = os.environ.get("QD_NUM_THREADS", "1")
    return int(value) if value.isdigit() and int(value) > 0 else 1


class PlainExecutor:
    """Executor (see `factory.generate.runner.Executor`) choosing between `run_write_behind` and one
    local dask worker per core, by `local_workers`."""

    def __init__(self, say: Callable[[str], None] = print):
        self.say = say

    def __call__(self, recipe: Recipe, out: Location, shards: list[Shard],
                 progress: Progress | None = None) -> Iterator[dict[str, Any]]:
        workers = local_workers(recipe, len(shards), usable_cores(), genesis_threads())
        if not workers:
            yield from run_write_behind(recipe, out, shards, progress)
            return
        self.say(f"{len(shards)} shards of a {recipe.kind} recipe: {workers} worker processes, one per core "
                 f"(Genesis steps particles on one thread per process; --workers N to choose)")
        yield from DaskExecutor(workers, say=self.say)(recipe, out, shards, progress)
