"""Run batches of rigid-collision episodes on MuJoCo, one MjModel/MjData pair per thread.

MuJoCo steps one world per MjData and releases the GIL inside `mj_step`, so a batch is spread
over a pool of threads, each with its own model copy; an episode's bytes depend only on its spec.
"""

from __future__ import annotations

import os
import queue
from concurrent.futures import ThreadPoolExecutor

import mujoco

from engines.base import EngineInfo
from engines.mujoco.episode import EpisodeRunner
from engines.mujoco.mjcf import check_representable, scene_model
from engines.mujoco.restitution import MAX_RESTITUTION
from factory.errors import SimulationError
from factory.generate.sampling import EpisodeSpec
from factory.recipe.distributions import is_random
from factory.recipe.scene_fields import scene_fields
from factory.recipe.schema import Recipe
from factory.rollout import Layout, Rollout


def default_threads() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class MuJoCoEngine:
    shares_scene = True  # object sizes are compiled into the model; a scene variant compiles in milliseconds

    def __init__(self, recipe: Recipe):
        check_representable(recipe, MAX_RESTITUTION)
        self.recipe = recipe
        objects = tuple(o.name for o in recipe.scene.objects)
        bodies = (("ground",) if recipe.scene.ground else ()) + objects
        self.layout = Layout(objects, bodies, recipe.dt * recipe.outputs.record_every)
        self.threads = getattr(recipe.engine, "threads", None) or default_threads()
        self._runners: queue.SimpleQueue[EpisodeRunner] | None = None
        self._pool: ThreadPoolExecutor | None = None

    def info(self) -> EngineInfo:
        return EngineInfo("mujoco", mujoco.__version__, "cpu")

    def open(self) -> None:
        if self._pool is not None:
            return
        random = [f.name for f in scene_fields(self.recipe) if is_random(f.value)]
        if random:  # compiling at a nominal value would silently mislabel every episode
            raise SimulationError(f"scene fields {', '.join(random)} are still distributions: build "
                                  "from `factory.scene_fields.pin_scene` (the runner does)")
        scene = scene_model(self.recipe)
        self._runners = queue.SimpleQueue()
        for _ in range(self.threads):
            self._runners.put(EpisodeRunner(self.recipe, scene, self.layout))
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="mujoco")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool, self._runners = None, None

    def run_batch(self, specs: list[EpisodeSpec]) -> list[Rollout]:
        self.open()
        if not 0 < len(specs) <= self.recipe.n_envs:
            raise ValueError(f"a batch holds 1..{self.recipe.n_envs} episodes, got {len(specs)}")
        return list(self._pool.map(self._run_one, specs))

    def _run_one(self, spec: EpisodeSpec) -> Rollout:
        runner = self._runners.get()  # whichever pair is free: the result does not depend on it
        try:
            return runner.run(spec)
        finally:
            self._runners.put(runner)
