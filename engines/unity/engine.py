"""Run batches of episodes on a Unity build through ML-Agents, restarting builds that crash or hang.

A build runs K agents at once (K copies of the scene, ML-Agents' "training areas"); each agent
is an episode slot. A batch of up to `n_envs` episodes runs K at a time, every slot from a full
reset; a chunk smaller than K is padded with copies of its last episode whose results are
dropped, so an episode's data never depends on which slot, chunk or worker ran it.
"""

from __future__ import annotations

import logging

import numpy as np
from mlagents_envs.base_env import ActionTuple

from engines.unity.connection import (
    RECOVERABLE,
    Connection,
    PortInUse,
    check_build_exists,
    connect,
    port_of,
)
from engines.unity.labels import contacts_by_slot
from engines.unity.ports import PortClaim
from engines.unity.protocol import param_key
from engines.unity.scene import (
    check_representable,
    episode_parameters,
    make_layout,
    scene_parameters,
    unity_config,
    vector_map,
)
from factory.contract.engine import EngineInfo
from factory.contract.rollout import Rollout
from factory.contract.sampling import EpisodeSpec, transition_impulses
from factory.errors import EngineUnsupported, SimulationError
from factory.recipe.schema import Recipe

log = logging.getLogger(__name__)
MAX_WORKERS = 64  # worker ids tried from the first one before giving up


class UnityEngine:
    shares_scene = False  # each agent resizes its own objects from its episode's parameters

    def __init__(self, recipe: Recipe, *, worker: int = 0):
        """`worker` offsets the first worker id tried; ids already claimed on this machine are skipped."""
        if recipe.robots:
            raise EngineUnsupported("robots: the Unity adapter's builds simulate rigid bodies pushed by impulses; "
                                    "they have no articulated robot to load or command: use engine: mujoco")
        if recipe.cameras:
            raise EngineUnsupported("cameras: the Unity kit sends vector observations only (builds run with "
                                    "-nographics); no frames come back: use engine: mujoco")
        self.layout = make_layout(recipe)
        check_representable(recipe, self.layout)
        self.recipe, self.cfg = recipe, unity_config(recipe)
        if self.cfg.file_name is not None:
            check_build_exists(self.cfg.file_name)
        self.worker_id = self.cfg.worker_id + worker  # the id actually used is set by open()
        self._map = vector_map(recipe, self.layout)
        self._conn: Connection | None = None
        self._claim: PortClaim | None = None
        self.restarts = 0

    def info(self) -> EngineInfo:
        import mlagents_envs

        where = "editor" if self.cfg.file_name is None else f"build:{self.cfg.file_name}"
        return EngineInfo("unity", f"mlagents-envs {mlagents_envs.__version__}", where)

    @property
    def port(self) -> int | None:
        return self._conn.port if self._conn else None

    def open(self) -> None:
        """Connect on the first worker id whose port no other worker or process holds."""
        if self._conn is not None:
            return
        first = self.worker_id
        tries = 1 if self.cfg.file_name is None else MAX_WORKERS  # the Editor has one fixed port
        for worker_id in range(first, first + tries):
            claim = PortClaim.try_claim(port_of(self.cfg, worker_id))
            if claim is None:
                continue
            try:
                self._conn = connect(self.cfg, worker_id, self.recipe.seed, scene_parameters(self.recipe),
                                     self._map.obs_size, len(self._map.action_from_impulse))
            except PortInUse:
                claim.release()
                continue
            except BaseException:
                claim.release()
                raise
            self.worker_id, self._claim = worker_id, claim
            return
        raise SimulationError(f"no free Unity port: worker ids {first}..{first + tries - 1} (ports "
                              f"{port_of(self.cfg, first)}..{port_of(self.cfg, first + tries - 1)}) are all taken; "
                              "set engine.base_port to a free range")

    def close(self, abort: bool = False) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.abort() if abort else conn.close()
        if self._claim is not None:
            self._claim.release()
            self._claim = None

    # ------------------------------------------------------------------ running
    def run_batch(self, specs: list[EpisodeSpec]) -> list[Rollout]:
        if not 0 < len(specs) <= self.recipe.n_envs:
            raise ValueError(f"a batch holds 1..{self.recipe.n_envs} episodes, got {len(specs)}")
        rollouts: list[Rollout] = []
        while len(rollouts) < len(specs):
            self.open()
            assert self._conn is not None
            rollouts += self._run_recovering(specs[len(rollouts):len(rollouts) + self._conn.agents])
        return rollouts

    def _run_recovering(self, specs: list[EpisodeSpec]) -> list[Rollout]:
        """Run one chunk; if the build dies or hangs, restart it and run the whole chunk again."""
        failures = 0
        while True:
            try:
                self.open()
                return self._run_chunk(specs)
            except RECOVERABLE as exc:
                port = self.port
                self.close(abort=True)
                failures += 1
                episodes = [s.index for s in specs]
                if self.cfg.file_name is None:
                    raise SimulationError(f"the Unity Editor on port {port} stopped answering during episodes "
                                          f"{episodes} ({type(exc).__name__}); press Play and run again") from exc
                if failures > self.cfg.max_restarts:
                    raise SimulationError(f"the Unity build on worker {self.worker_id} failed {failures} times on "
                                          f"episodes {episodes}; last error: {type(exc).__name__}: {exc}") from exc
                self.restarts += 1
                log.warning("Unity build on worker %d failed (%s: %s); restarting it and redoing episodes %s",
                            self.worker_id, type(exc).__name__, exc, episodes)

    def _run_chunk(self, specs: list[EpisodeSpec]) -> list[Rollout]:
        conn, recipe, vmap = self._conn, self.recipe, self._map
        assert conn is not None
        padded = specs + [specs[-1]] * (conn.agents - len(specs))
        for slot, spec in enumerate(padded):
            for name, value in episode_parameters(recipe, spec).items():
                conn.params.set_float_parameter(param_key(slot, name), float(value))
        impulses = np.stack([s.forces.reshape(recipe.steps, -1) for s in padded]) * recipe.dt
        actions = vmap.actions(impulses).astype(np.float32)  # (slots, steps, action entries)
        every = recipe.outputs.record_every
        states = np.empty((conn.agents, recipe.recorded_steps + 1, self.layout.state_size), np.float32)

        conn.labels.drain()
        conn.env.reset()
        slots, obs = self._observe(0)
        states[:, 0] = vmap.states(obs)
        for step in range(recipe.steps):
            conn.env.set_actions(conn.behavior, ActionTuple(continuous=actions[slots, step]))
            conn.env.step()
            slots, obs = self._observe(step + 1)
            if (step + 1) % every == 0:
                states[:, (step + 1) // every] = vmap.states(obs)
        if not np.isfinite(states).all():
            raise SimulationError(f"Unity sent NaN or inf states in episodes {[s.index for s in specs]}")
        contacts = contacts_by_slot(conn.labels.drain(), self.layout, len(specs), every)
        return [Rollout(spec.index, states[b], transition_impulses(spec.forces, recipe.dt, every), contacts[b])
                for b, spec in enumerate(specs)]

    def _observe(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """(slot of each agent in decision order, observations in slot order); checks every slot is in step."""
        conn = self._conn
        assert conn is not None
        obs = conn.env.get_steps(conn.behavior)[0].obs[0]
        slots = obs[:, 0].astype(int)
        if sorted(slots.tolist()) != list(range(conn.agents)) or (obs[:, 1] != step).any():
            got = sorted(zip(slots.tolist(), obs[:, 1].tolist(), strict=True))
            raise SimulationError(f"Unity agents are out of step: expected slots 0..{conn.agents - 1} at step "
                                  f"{step}, got (slot, step) {got}; "
                                  "agents need a DecisionRequester with Decision Period 1 and Max Step 0")
        by_slot = np.empty_like(obs)
        by_slot[slots] = obs
        return slots, by_slot
