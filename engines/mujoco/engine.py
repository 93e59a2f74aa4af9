"""Run batches of rigid-collision episodes on MuJoCo through `mujoco.rollout`, in C, on threads.

Each episode of a batch gets its own model copy (its masses, frictions, contact softness) and its
initial state; `mujoco.rollout` steps them all with their applied forces on a pool of threads, one
MjData each, and returns every step's state and contact-sensor readings. No Python runs per step,
so a factory run steps at the bare engine's pace, and an episode's bytes depend only on its spec.
"""

from __future__ import annotations

import copy
import os

import mujoco
from mujoco import rollout

from engines.mujoco.episode import EpisodeSetup
from engines.mujoco.mjcf import check_representable, scene_model
from engines.mujoco.restitution import MAX_RESTITUTION
from factory.contract.engine import EngineInfo
from factory.contract.rollout import Layout, Rollout
from factory.contract.sampling import EpisodeSpec
from factory.errors import SimulationError
from factory.recipe.distributions import is_random
from factory.recipe.scene_fields import scene_fields
from factory.recipe.schema import Recipe


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
        self._pool: rollout.Rollout | None = None

    def info(self) -> EngineInfo:
        return EngineInfo("mujoco", mujoco.__version__, "cpu")

    def open(self) -> None:
        if self._pool is not None:
            return
        random = [f.name for f in scene_fields(self.recipe) if is_random(f.value)]
        if random:  # compiling at a nominal value would silently mislabel every episode
            raise SimulationError(f"scene fields {', '.join(random)} are still distributions: build "
                                  "from `factory.scene_fields.pin_scene` (the runner does)")
        self._setup = EpisodeSetup(self.recipe, scene_model(self.recipe), self.layout)
        self._models = [copy.copy(self._setup.model) for _ in range(self.recipe.n_envs)]
        self._datas = [mujoco.MjData(self._setup.model) for _ in range(self.threads)]
        self._pool = rollout.Rollout(nthread=self.threads)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def run_batch(self, specs: list[EpisodeSpec]) -> list[Rollout]:
        self.open()
        if not 0 < len(specs) <= self.recipe.n_envs:
            raise ValueError(f"a batch holds 1..{self.recipe.n_envs} episodes, got {len(specs)}")
        setup, models = self._setup, self._models[:len(specs)]
        initial = setup.initial_states(models, specs)  # configures the models too
        control = setup.controls(specs)
        assert self._pool is not None
        states, readings = self._pool.rollout(models, self._datas, initial, control, nstep=self.recipe.steps,
                                              control_spec=mujoco.mjtState.mjSTATE_XFRC_APPLIED)
        return setup.rollouts(specs, states, readings, initial)
