"""Run batches of episodes (collision, fluid, cloth) on one batched Genesis scene, built once per process.

Each env of the batch is one episode with its own sampled pose, velocity, mass and friction, and
for particle scenes its own liquid/sheet placement and mover velocities;
a batch smaller than `n_envs` is padded with copies of its last episode and the copies are
dropped, so the compiled scene never changes shape.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import replace

import numpy as np

from engines.genesis.cameras import Film, check_cameras, renderer
from engines.genesis.carry import Carry
from engines.genesis.contacts import ContactReader
from engines.genesis.particles import PointsDriver
from engines.genesis.robot_episode import RobotDriver
from engines.genesis.robot_scene import robot_blocks, robot_links, robot_parts
from engines.genesis.scene import BuiltScene, build_scene, check_representable
from factory.contract.cameras import camera_blocks
from factory.contract.engine import EngineInfo
from factory.contract.rollout import STATE_PER_OBJECT, Layout, Rollout
from factory.contract.sampling import (
    EpisodeSpec,
    transition_impulses,
    transition_velocities,
)
from factory.errors import SimulationError
from factory.recipe.containers import Tilt, movers
from factory.recipe.distributions import is_random
from factory.recipe.robots import held_containers
from factory.recipe.scene_fields import scene_fields
from factory.recipe.schema import GenesisEngine as GenesisConfig
from factory.recipe.schema import Recipe

_initialized_backend: str | None = None


def _genesis(backend: str):
    """Import and initialise Genesis once per process (it allows a single `gs.init`)."""
    global _initialized_backend
    import genesis as gs

    if _initialized_backend is None:
        gs.init(backend=gs.cpu if backend == "cpu" else gs.gpu, logging_level="warning", seed=0)
        if os.environ.get("FACTORY_GENESIS_FAST_MATH") != "1":
            # Genesis compiles with fast math, which lets the compiler reorder float operations
            # differently per batch size: a liquid episode's bytes then depended on n_envs.
            import quadrants.lang.impl as quadrants_impl

            quadrants_impl.current_cfg().fast_math = False
        _initialized_backend = backend
    elif _initialized_backend != backend:
        raise SimulationError(f"Genesis is already initialised on {_initialized_backend} in this process")
    return gs


def _checkpoint(gs, scene):
    """The scene's state right after the build, for `_restore` to put back before every batch.

    `scene.reset()` keeps solver warm starts, contact caches and the rigid links' derived arrays (the
    forces a liquid last exerted on them among them), which made an episode depend on what ran before
    it in the same env slot. Genesis exports a whole scene only without SPH and PBD; for those the
    checkpoint holds each solver it can export (the rigid one), and the reset covers the rest.
    """
    try:
        return scene.__getstate__()
    except gs.GenesisException:
        saved = {}
        for solver in scene.sim.active_solvers:
            with contextlib.suppress(gs.GenesisException):  # SPH and PBD particles: `scene.reset()` puts them back
                saved[solver] = solver.__getstate__()
        return saved


@contextlib.contextmanager
def _errors_only():
    """Genesis' log shows errors only inside the block."""
    logger = logging.getLogger("genesis")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _restore(scene, checkpoint) -> None:
    if not isinstance(checkpoint, dict):
        scene.__setstate__(checkpoint)
        return
    scene.reset()
    solver = scene.sim.rigid_solver
    solver.collider.reset(cache_only=False)
    solver.constraint_solver.reset()
    for solver, state in checkpoint.items():
        solver.__setstate__(state)


def layout_of(recipe: Recipe) -> Layout:
    """What a state and an action hold for this recipe, known before anything is built."""
    objects = tuple(o.name for o in recipe.scene.objects)
    bodies = (("ground",) if recipe.scene.ground else ()) + objects
    record_dt = recipe.dt * recipe.outputs.record_every
    section = recipe.scene.fluid or recipe.scene.cloth
    prefix = "particle" if recipe.kind == "fluid" else "vertex"
    points = (f"{prefix}_pos", f"{prefix}_vel") if section else ()
    n_points = section.record_points if section else 0
    if recipe.robots:  # robot links join the bodies; the robots' commands are the action (a pour's liquid: points)
        return Layout(objects, bodies + robot_links(recipe), record_dt, points, n_points, robots=robot_blocks(recipe),
                      action_names_override=tuple(n for r in recipe.robots for n in r.action_names))
    if recipe.kind == "collision":
        return Layout(objects, bodies, record_dt)
    actions = tuple(f"{a.object}.{'ang_vel' if isinstance(a, Tilt) else 'velocity'}.{c}"
                    for a in movers(recipe.actions) for c in "xyz")
    return Layout(objects, bodies, record_dt, points, n_points, actions)


def _config(recipe: Recipe) -> GenesisConfig:
    """The recipe's `engine:` section: a Genesis one, as the registry picks this engine by its type."""
    assert isinstance(recipe.engine, GenesisConfig), recipe.engine.type
    return recipe.engine


class GenesisEngine:
    shares_scene = True  # geometry, particle spacing and materials are fixed when the scene is built

    def __init__(self, recipe: Recipe):
        if recipe.cameras:
            check_cameras(recipe)
        check_representable(recipe)
        self.recipe = recipe
        self.layout = replace(layout_of(recipe), cameras=camera_blocks(recipe.cameras))
        self._built: BuiltScene | None = None
        self._film: Film | None = None

    def info(self) -> EngineInfo:
        import genesis as gs

        return EngineInfo("genesis", gs.__version__, _config(self.recipe).backend,
                          renderer() if self.recipe.cameras else None)

    def open(self) -> None:
        if self._built is None:
            random = [f.name for f in scene_fields(self.recipe) if is_random(f.value)]
            if random:  # building at a nominal value would silently mislabel every episode
                raise SimulationError(f"scene fields {', '.join(random)} are still distributions: build "
                                      "from `factory.scene_fields.pin_scene` (the runner does)")
            gs = _genesis(_config(self.recipe).backend)
            self._built = build_scene(gs, self.recipe, self.recipe.n_envs)
            self._robots = self._robot_driver() if self.recipe.robots else None  # its gains before the checkpoint
            with _errors_only():  # Genesis warns that a checkpoint leaves the cameras out: they stay in the scene
                self._pristine = _checkpoint(gs, self._built.scene)
            self._movable = [i for i, o in enumerate(self.recipe.scene.objects) if not o.fixed]
            self._movable_links = [self._built.objects[i].base_link.idx for i in self._movable]
            self._object_links = np.array([e.base_link.idx for e in self._built.objects])
            self._contacts = ContactReader(self._built, self.layout)
            self._points = PointsDriver(self._built, self.recipe)
            self._carry = self._carrier()
            if self.recipe.cameras:
                self._film = Film(self._built, self.recipe, self.layout)

    def close(self) -> None:
        if self._built is not None:
            self._built.scene.destroy()
            self._built = None

    # ------------------------------------------------------------------ running
    def run_batch(self, specs: list[EpisodeSpec]) -> list[Rollout]:
        self.open()
        n_envs, recipe = self.recipe.n_envs, self.recipe
        if not 0 < len(specs) <= n_envs:
            raise ValueError(f"a batch holds 1..{n_envs} episodes, got {len(specs)}")
        padded = specs + [specs[-1]] * (n_envs - len(specs))
        built = self._built
        assert built is not None
        _restore(built.scene, self._pristine)
        self._set_initial_state(padded)
        self._points.start(padded)
        if self._robots is not None:
            self._robots.start(padded)
        if self._carry is not None:  # after the robots: it grips where their hands start
            self._carry.start(padded)

        pushes = self._push_schedule(padded)
        velocities = np.stack([s.velocities for s in padded])  # (B, steps, n_moves, 3)
        every, n_rec = recipe.outputs.record_every, recipe.recorded_steps
        states = np.empty((n_envs, n_rec + 1, self.layout.state_size), np.float32)
        points = {name: np.empty((n_envs, n_rec + 1, self.layout.n_points, 3), np.float32)
                  for name in self.layout.points}
        self._record(0, states, points)
        contact_parts: list = []
        solver = built.scene.sim.rigid_solver
        seen: list = []  # contact reads since the last recorded state (elastic scenes read every Genesis step)
        for step in range(recipe.steps):
            if self._points.moves or self._carry is not None:
                self._points.before_step(step, velocities[:, step], self._carry.poses() if self._carry else None)
            if self._robots is not None and step % every == 0:  # closed loop: the policies read the state
                self._robots.command(step // every)
            for _ in range(built.reads):
                if step in pushes:  # a wrench lasts one Genesis step: held over the whole recipe step
                    solver.apply_links_external_wrench(force=pushes[step], links_idx=self._movable_links)
                built.scene.step()
                if built.reads > 1:
                    seen.append(self._contacts.read(0))  # its step is set when recorded
            if (step + 1) % every == 0:
                k = (step + 1) // every
                self._record(k, states, points)
                contact_parts.append(self._contacts.read(k) if built.reads == 1 else ContactReader.latest(seen, k))
                seen = []
        # Non-finite states stay in their rollouts: the runner quarantines those episodes one by one,
        # so one blown-up env does not cost the rest of its batch.
        per_env = self._contacts.split(contact_parts, n_envs)
        robots = self._robots
        rollouts = [Rollout(spec.index, states[b], robots.episode_actions(b) if robots else self._actions(spec),
                            per_env[b], {name: values[b] for name, values in points.items()}, self._points.index)
                    for b, spec in enumerate(specs)]
        film = self._film
        return rollouts if film is None else [replace(r, frames=film.film(r, s)) for r, s in zip(rollouts, specs,
                                                                                               strict=True)]

    def _actions(self, spec: EpisodeSpec) -> np.ndarray:
        every = self.recipe.outputs.record_every
        if self.recipe.kind == "collision":
            return transition_impulses(spec.forces, self.recipe.dt, every)
        return transition_velocities(spec.velocities, every)

    def _robot_driver(self) -> RobotDriver:
        assert self._built is not None
        parts = tuple(robot_parts(r, e, b) for r, e, b in zip(self.recipe.robots, self._built.robots,
                                                                self.layout.robots, strict=True))
        movable = {o.name: e.base_link.idx for o, e in zip(self.recipe.scene.objects, self._built.objects, strict=True)
                   if not o.fixed}
        return RobotDriver(self.recipe, self._built.scene.sim.rigid_solver, parts, movable)

    def _carrier(self) -> Carry | None:
        """The containers the robots hold, each to its holder's ee link (None when none is held)."""
        held = held_containers(self.recipe)
        if not held or self._robots is None or self._built is None:
            return None
        hands = {part.recipe.name: part.ee for part in self._robots.parts}
        names = [o.name for o in self.recipe.scene.objects]
        holds = {names.index(obj): hands[robot] for obj, robot in held.items()}
        return Carry(self._built.scene.sim.rigid_solver, holds)

    def _record(self, k: int, states: np.ndarray, points: dict[str, np.ndarray]) -> None:
        objects = self._read_state()
        states[:, k, :objects.shape[1]] = objects
        if self._robots is not None:
            states[:, k, objects.shape[1]:] = self._robots.blocks()
        if points:
            pos, vel = self._points.read()
            points[self.layout.points[0]][:, k] = pos
            points[self.layout.points[1]][:, k] = vel

    def _push_schedule(self, specs: list[EpisodeSpec]) -> dict:
        """{step: (n_envs, n_movable, 3) force tensor} for the steps where any env is pushed."""
        import torch

        forces = np.stack([s.forces[:, self._movable] for s in specs])  # (B, steps, n_movable, 3)
        steps = np.flatnonzero(np.abs(forces).sum(axis=(0, 2, 3)) > 0)
        return {int(t): torch.as_tensor(forces[:, t], dtype=torch.float32) for t in steps}

    def _set_initial_state(self, specs: list[EpisodeSpec]) -> None:
        import torch

        built = self._built
        assert built is not None
        f32 = torch.float32
        held = held_containers(self.recipe)  # driven: its mass is the driven cup's
        for i, entity in enumerate(built.objects):
            obj = self.recipe.scene.objects[i]
            bodies = [s.bodies[i] for s in specs]
            entity.set_pos(torch.tensor([b.pos for b in bodies], dtype=f32), zero_velocity=True)
            entity.set_quat(torch.tensor([b.quat for b in bodies], dtype=f32), zero_velocity=True)
            entity.set_friction_ratio(torch.tensor([[b.friction] for b in bodies], dtype=f32))
            if not obj.fixed and obj.name not in held:
                entity.set_mass(torch.tensor([b.mass for b in bodies], dtype=f32))
                entity.set_dofs_velocity(torch.tensor([b.vel + b.ang_vel for b in bodies], dtype=f32))
        if built.ground is not None:
            built.ground.set_friction_ratio(torch.tensor([[s.ground_friction] for s in specs], dtype=f32))

    def _read_state(self) -> np.ndarray:
        """(n_envs, state_size): pos, quat, vel, ang_vel of every object, in layout order.

        Reads every link and picks ours in numpy: Genesis' getters with a link list cost far more a
        call than reading whole arrays.
        """
        assert self._built is not None
        solver = self._built.scene.sim.rigid_solver
        parts = [get().cpu().numpy() for get in (solver.get_links_pos, solver.get_links_quat,
                                                 solver.get_links_vel, solver.get_links_ang)]
        stacked = np.concatenate(parts, axis=-1)[:, self._object_links]  # (B, n_obj, 13)
        return stacked.reshape(stacked.shape[0], len(self._object_links) * STATE_PER_OBJECT)
