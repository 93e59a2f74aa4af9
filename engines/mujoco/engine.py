"""Run batches of rigid-collision episodes on MuJoCo through `mujoco.rollout`, in C, on threads.

Each episode of a batch gets its own model copy (its masses, frictions, contact softness) and its
initial state; `mujoco.rollout` steps them all with their applied forces on a pool of threads, one
MjData each, and returns every step's state and contact-sensor readings. No Python runs per step,
so a factory run steps at the bare engine's pace, and an episode's bytes depend only on its spec.
"""

from __future__ import annotations

import copy
import os
from dataclasses import replace

import mujoco
import numpy as np
from mujoco import rollout

from engines.gl import loaded_backend
from engines.mujoco.cameras import CameraRig, check_cameras
from engines.mujoco.episode import EpisodeSetup
from engines.mujoco.mjcf import check_representable, scene_model
from engines.mujoco.restitution import MAX_RESTITUTION
from engines.mujoco.robot_episode import RobotEpisodes
from engines.mujoco.robot_scene import robot_scene
from factory.contract.cameras import camera_blocks
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
        self._robots = robot_scene(recipe) if recipe.robots else None
        if self._robots is not None:  # robot links join the bodies; the robots' commands are the action
            parts = self._robots.robots
            self.layout = Layout(objects, self._robots.contacts.bodies, self.layout.record_dt,
                                 action_names_override=tuple(n for p in parts for n in p.action_names),
                                 robots=tuple(p.block for p in parts))
        if recipe.cameras:
            self.layout = replace(self.layout, cameras=camera_blocks(recipe.cameras))
            check_cameras(recipe.cameras, self._robots.model if self._robots is not None else None, self.layout)
        self.threads = getattr(recipe.engine, "threads", None) or default_threads()
        self._pool: rollout.Rollout | None = None
        self._rig: CameraRig | None = None

    def info(self) -> EngineInfo:
        return EngineInfo("mujoco", mujoco.__version__, "cpu", loaded_backend() if self.recipe.cameras else None)

    def open(self) -> None:
        if self._pool is not None:
            return
        random = [f.name for f in scene_fields(self.recipe) if is_random(f.value)]
        if random:  # compiling at a nominal value would silently mislabel every episode
            raise SimulationError(f"scene fields {', '.join(random)} are still distributions: build "
                                  "from `factory.scene_fields.pin_scene` (the runner does)")
        model = self._robots.model if self._robots is not None else None
        self._setup = EpisodeSetup(self.recipe, scene_model(self.recipe), self.layout, model)
        self._models = [copy.copy(self._setup.model) for _ in range(self.recipe.n_envs)]
        self._datas = [mujoco.MjData(self._setup.model) for _ in range(self.threads)]
        if self._robots is not None:
            self._robot_run = RobotEpisodes(self.recipe, self._setup, self._robots, self.threads)
        self._pool = rollout.Rollout(nthread=self.threads)
        if self.recipe.cameras:
            self._rig = CameraRig(self.recipe.cameras, self._setup.model, self.layout, self._qpos)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
            if self._robots is not None:
                self._robot_run.close()
            if self._rig is not None:
                self._rig.close()
                self._rig = None

    def run_batch(self, specs: list[EpisodeSpec]) -> list[Rollout]:
        self.open()
        if not 0 < len(specs) <= self.recipe.n_envs:
            raise ValueError(f"a batch holds 1..{self.recipe.n_envs} episodes, got {len(specs)}")
        setup, models = self._setup, self._models[:len(specs)]
        if self._robots is not None:  # closed loop, stepped from Python (`robot_episode`)
            rollouts = self._robot_run.run(models, specs)
        else:
            initial = setup.initial_states(models, specs)  # configures the models too
            control = setup.controls(specs)
            assert self._pool is not None
            states, readings = self._pool.rollout(models, self._datas, initial, control, nstep=self.recipe.steps,
                                                  control_spec=mujoco.mjtState.mjSTATE_XFRC_APPLIED)
            rollouts = setup.rollouts(specs, states, readings, initial)
        if self._rig is None:
            return rollouts
        rig = self._rig
        return [replace(r, frames=rig.film(m, r, s)) for m, r, s in zip(models, rollouts, specs, strict=True)]

    def _qpos(self, r: Rollout) -> np.ndarray:
        """An episode's recorded states as joint positions (T+1, nq), for rendering."""
        setup, objects = self._setup, self.recipe.scene.objects
        qpos = np.tile(setup.model.qpos0, (len(r.states), 1))
        for i, q in setup._qadr.items():
            qpos[:, q:q + 3] = self.layout.field(r.states, objects[i].name, "pos")
            qpos[:, q + 3:q + 7] = self.layout.field(r.states, objects[i].name, "quat")
        for part in self._robots.robots if self._robots is not None else ():
            start, _ = self.layout.robot_span(part.block.name)
            qpos[:, part.qadr] = r.states[:, start:start + len(part.block.joints)]
        return qpos
