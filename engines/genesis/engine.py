"""Run batches of collision episodes on one batched Genesis scene, built once per process.

Each env of the batch is one episode with its own sampled pose, velocity, mass and friction;
a batch smaller than `n_envs` is padded with copies of its last episode and the copies are
dropped, so the compiled scene never changes shape.
"""

from __future__ import annotations

import numpy as np

from engines.base import EngineInfo
from engines.genesis.contacts import ContactReader
from engines.genesis.scene import BuiltScene, build_scene, check_representable
from factory.errors import SimulationError
from factory.recipe import Recipe
from factory.rollout import STATE_PER_OBJECT, Layout, Rollout
from factory.sampling import EpisodeSpec, transition_impulses

_initialized_backend: str | None = None


def _genesis(backend: str):
    """Import and initialise Genesis once per process (it allows a single `gs.init`)."""
    global _initialized_backend
    import genesis as gs

    if _initialized_backend is None:
        gs.init(backend=gs.cpu if backend == "cpu" else gs.gpu, logging_level="warning", seed=0)
        _initialized_backend = backend
    elif _initialized_backend != backend:
        raise SimulationError(f"Genesis is already initialised on {_initialized_backend} in this process")
    return gs


class GenesisEngine:
    def __init__(self, recipe: Recipe):
        check_representable(recipe)
        self.recipe = recipe
        objects = tuple(o.name for o in recipe.scene.objects)
        bodies = (("ground",) if recipe.scene.ground else ()) + objects
        self.layout = Layout(objects, bodies, recipe.dt * recipe.outputs.record_every)
        self._built: BuiltScene | None = None

    def info(self) -> EngineInfo:
        import genesis as gs

        return EngineInfo("genesis", gs.__version__, self.recipe.engine.backend)

    def open(self) -> None:
        if self._built is None:
            gs = _genesis(self.recipe.engine.backend)
            self._built = build_scene(gs, self.recipe, self.recipe.n_envs)
            # `scene.reset()` keeps solver warm starts and contact caches, which would make an episode
            # depend on what ran before it in the same env slot; a checkpoint taken now restores all of it.
            self._pristine = self._built.scene.__getstate__()
            self._movable = [i for i, o in enumerate(self.recipe.scene.objects) if not o.fixed]
            self._movable_links = [self._built.objects[i].base_link.idx for i in self._movable]
            self._contacts = ContactReader(self._built, self.layout)

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
        built.scene.__setstate__(self._pristine)  # everything, warm starts included, as just built
        self._set_initial_state(padded)

        pushes = self._push_schedule(padded)
        every, n_rec = recipe.outputs.record_every, recipe.recorded_steps
        states = np.empty((n_envs, n_rec + 1, self.layout.state_size), np.float32)
        states[:, 0] = self._read_state()
        contact_parts: list = []
        solver = built.scene.sim.rigid_solver
        for step in range(recipe.steps):
            if step in pushes:
                solver.apply_links_external_wrench(force=pushes[step], links_idx=self._movable_links)
            built.scene.step()
            if (step + 1) % every == 0:
                k = (step + 1) // every
                states[:, k] = self._read_state()
                contact_parts.append(self._contacts.read(k))
        # Non-finite states stay in their rollouts: the runner quarantines those episodes one by one,
        # so one blown-up env does not cost the rest of its batch.
        per_env = self._contacts.split(contact_parts, n_envs)
        return [Rollout(spec.index, states[b], transition_impulses(spec.forces, recipe.dt, every), per_env[b])
                for b, spec in enumerate(specs)]

    def _push_schedule(self, specs: list[EpisodeSpec]) -> dict:
        """{step: (n_envs, n_movable, 3) force tensor} for the steps where any env is pushed."""
        import torch

        forces = np.stack([s.forces[:, self._movable] for s in specs])  # (B, steps, n_movable, 3)
        steps = np.flatnonzero(np.abs(forces).sum(axis=(0, 2, 3)) > 0)
        return {int(t): torch.as_tensor(forces[:, t], dtype=torch.float32) for t in steps}

    def _set_initial_state(self, specs: list[EpisodeSpec]) -> None:
        import torch

        built = self._built
        f32 = torch.float32
        for i, entity in enumerate(built.objects):
            obj = self.recipe.scene.objects[i]
            bodies = [s.bodies[i] for s in specs]
            entity.set_pos(torch.tensor([b.pos for b in bodies], dtype=f32), zero_velocity=True)
            entity.set_quat(torch.tensor([b.quat for b in bodies], dtype=f32), zero_velocity=True)
            entity.set_friction_ratio(torch.tensor([[b.friction] for b in bodies], dtype=f32))
            if not obj.fixed:
                entity.set_mass(torch.tensor([b.mass for b in bodies], dtype=f32))
                entity.set_dofs_velocity(torch.tensor([b.vel + b.ang_vel for b in bodies], dtype=f32))
        if built.ground is not None:
            built.ground.set_friction_ratio(torch.tensor([[s.ground_friction] for s in specs], dtype=f32))

    def _read_state(self) -> np.ndarray:
        """(n_envs, state_size): pos, quat, vel, ang_vel of every object, in layout order."""
        solver = self._built.scene.sim.rigid_solver
        links = [e.base_link.idx for e in self._built.objects]
        parts = [solver.get_links_pos(links), solver.get_links_quat(links),
                 solver.get_links_vel(links), solver.get_links_ang(links)]
        stacked = np.concatenate([p.cpu().numpy() for p in parts], axis=-1)  # (B, n_obj, 13)
        return stacked.reshape(stacked.shape[0], len(links) * STATE_PER_OBJECT)
