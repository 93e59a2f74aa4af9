"""One episode's model and start, and its Rollout from what `mujoco.rollout` returned.

Every per-episode value (masses and inertias, fixed poses, each pair's friction and softness, the
initial state) is written into the episode's own model copy and a reset data, so an episode's bytes
do not depend on what ran before it, nor on which thread steps it.
"""

from __future__ import annotations

import mujoco
import numpy as np

from engines.mujoco.contacts import batch_contacts
from engines.mujoco.mjcf import MIN_FRICTION, SceneModel
from engines.mujoco.restitution import pair_restitution, solref_for
from factory.contract.rollout import Layout, Rollout
from factory.contract.sampling import EpisodeSpec, transition_impulses
from factory.recipe.distributions import nominal
from factory.recipe.schema import Recipe

STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS  # what `mujoco.rollout` starts from and returns: time, qpos, qvel, ...


def rotate(quat: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Rotate vectors (..., 3) by unit quaternions (..., 4) in (w, x, y, z) order."""
    w, q = quat[..., :1], quat[..., 1:]
    t = 2.0 * _cross(q, vec)
    return vec + w * t + _cross(q, t)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.cross for (..., 3) arrays, without its axis juggling (a tenth of an episode's time)."""
    ax, ay, az = a[..., 0], a[..., 1], a[..., 2]
    bx, by, bz = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], axis=-1)


class EpisodeSetup:
    """Knows where the recipe's things are in the compiled model; configures copies of it per episode."""

    def __init__(self, recipe: Recipe, scene: SceneModel, layout: Layout, model: mujoco.MjModel | None = None):
        """`model`: the scene compiled with more in it (robots, `robot_scene`); by default `scene.xml`'s."""
        self.recipe, self.scene, self.layout = recipe, scene, layout
        self.model = model if model is not None else mujoco.MjModel.from_xml_string(scene.xml)  # episodes copy it
        self.data = mujoco.MjData(self.model)  # scratch data for setting up initial states
        m = self.model
        self.nq, self.nv = m.nq, m.nv
        objects = recipe.scene.objects
        self._body = np.array([m.body(o.name).id for o in objects])
        self._free = [i for i, o in enumerate(objects) if not o.fixed]
        self._qadr = {i: int(m.jnt_qposadr[m.body_jntadr[self._body[i]]]) for i in self._free}
        self._vadr = {i: int(m.jnt_dofadr[m.body_jntadr[self._body[i]]]) for i in self._free}
        self._mass0 = m.body_mass.copy()
        self._inertia0 = m.body_inertia.copy()
        ground = recipe.scene.ground
        self._restitution = [o.restitution for o in objects]
        self._ground_restitution = ground.restitution if ground is not None else None

    # ------------------------------------------------------------------ setup
    def configure(self, m, spec: EpisodeSpec) -> None:
        """Write the episode's masses, fixed poses and pair contact parameters into model `m`."""
        scene = self.scene
        for i, body in zip(range(len(spec.bodies)), spec.bodies, strict=True):
            b = self._body[i]
            if i in self._qadr:
                m.body_mass[b] = body.mass
                m.body_inertia[b] = self._inertia0[b] * (body.mass / self._mass0[b])
            else:
                m.body_pos[b], m.body_quat[b] = body.pos, body.quat
        has_ground = scene.bodies[0] == "ground"
        friction = ([spec.ground_friction] if has_ground else []) + [b.friction for b in spec.bodies]
        restitution = ([self._drawn(spec, "ground", self._ground_restitution)] if has_ground else []) + [
            self._drawn(spec, b.name, e) for b, e in zip(spec.bodies, self._restitution, strict=True)]
        for p, k in enumerate(scene.geom_pairs):
            a, b = scene.pairs[k]
            m.pair_friction[p, :2] = max(friction[a], friction[b], MIN_FRICTION)  # the larger, as on Genesis
            m.pair_solref[p] = solref_for(pair_restitution(restitution[a], restitution[b]), self.recipe.dt)
        mujoco.mj_setConst(m, self.data)  # inverse weights follow the new masses (data is scratch here)

    @staticmethod
    def _drawn(spec: EpisodeSpec, name: str, value) -> float | None:
        """This episode's restitution of `name`: the drawn value where sampling drew one."""
        if value is None:
            return None
        return spec.params.get(f"{name}.restitution", nominal(value))

    def initial_states(self, models: list, specs: list[EpisodeSpec]) -> np.ndarray:
        """Configure each model for its episode; the episodes' states at step 0 (B, nstate), as
        `mujoco.rollout` takes them."""
        shape = (len(specs), len(self._free))
        quat = np.array([[s.bodies[i].quat for i in self._free] for s in specs], float).reshape(*shape, 4)
        ang_vel = np.array([[s.bodies[i].ang_vel for i in self._free] for s in specs], float).reshape(*shape, 3)
        # a free joint's angular velocity is in the body frame: rotate the world-frame values back (for the
        # whole batch at once: numpy's call overhead would dominate one body's rotation)
        local = rotate(quat * np.array([1.0, -1.0, -1.0, -1.0]), ang_vel)
        return np.stack([self._initial_state(m, spec, w) for m, spec, w in zip(models, specs, local, strict=True)])

    def initial_state(self, m, spec: EpisodeSpec) -> np.ndarray:
        """One episode's state at step 0, with model `m` configured and `self.data` left in that state."""
        return self.initial_states([m], [spec])[0]

    def _initial_state(self, m, spec: EpisodeSpec, ang_local: np.ndarray) -> np.ndarray:
        self.configure(m, spec)
        d = self.data
        mujoco.mj_resetData(m, d)
        for k, i in enumerate(self._free):
            body, q, v = spec.bodies[i], self._qadr[i], self._vadr[i]
            d.qpos[q:q + 3], d.qpos[q + 3:q + 7] = body.pos, body.quat
            d.qvel[v:v + 3] = body.vel
            d.qvel[v + 3:v + 6] = ang_local[k]
        state = np.empty(mujoco.mj_stateSize(m, STATE))
        mujoco.mj_getState(m, d, state, STATE)
        return state

    # ------------------------------------------------------------------ batches
    def controls(self, specs: list[EpisodeSpec]) -> np.ndarray:
        """The episodes' applied forces per step, (B, steps, nbody * 6) as mjSTATE_XFRC_APPLIED: a push
        is J/dt for one step, so it delivers the impulse J during that transition (as on Genesis)."""
        control = np.zeros((len(specs), self.recipe.steps, self.model.nbody, 6))
        control[:, :, self._body[self._free], :3] = np.stack([s.forces for s in specs])[:, :, self._free]
        return control.reshape(len(specs), self.recipe.steps, -1)

    def rollouts(self, specs: list[EpisodeSpec], states: np.ndarray, readings: np.ndarray,
                 initial: np.ndarray) -> list[Rollout]:
        """The batch's Rollouts from `mujoco.rollout`'s output: states (B, steps, nstate), sensor
        readings (B, steps, nsensordata), and the initial states (B, nstate); converted for the whole
        batch at once (element-wise, so an episode's values do not depend on its batch)."""
        every, dt = self.recipe.outputs.record_every, self.recipe.dt
        recorded = np.concatenate([initial[:, None], states[:, every - 1::every]], axis=1)
        qpos, qvel = recorded[..., 1:1 + self.nq], recorded[..., 1 + self.nq:1 + self.nq + self.nv]  # after the time
        out = self._states(specs, qpos, qvel)
        # MuJoCo resets a diverging simulation (mjWARN_BADQACC), which sends its clock back to 0:
        # from there the states are not this episode's, and NaN has the runner quarantine it
        clock = np.diff(recorded[..., 0], axis=1)
        for b, reset in zip(*np.nonzero(np.abs(clock - every * dt) > dt / 2), strict=True):
            out[b, reset + 1:] = np.nan  # (the first reset of an episode covers any later one)
        contacts = batch_contacts(readings[:, every - 1::every], self.scene)
        actions = transition_impulses(np.stack([s.forces for s in specs]), dt, every)
        return [Rollout(spec.index, out[b], actions[b], contacts[b]) for b, spec in enumerate(specs)]

    def _states(self, specs: list[EpisodeSpec], qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """(B, T+1, state_size) in layout order from recorded joint positions and velocities (B, T+1, ·)."""
        batch, n = qpos.shape[:2]
        per_object = np.zeros((batch, n, len(self.recipe.scene.objects), 13))
        for i in range(per_object.shape[2]):
            if i in self._qadr:
                q, v = self._qadr[i], self._vadr[i]
                per_object[:, :, i, :7] = qpos[..., q:q + 7]
                per_object[:, :, i, 7:10] = qvel[..., v:v + 3]
                per_object[:, :, i, 10:] = rotate(qpos[..., q + 3:q + 7], qvel[..., v + 3:v + 6])
            else:
                per_object[:, :, i, :3] = np.array([s.bodies[i].pos for s in specs])[:, None]
                per_object[:, :, i, 3:7] = np.array([s.bodies[i].quat for s in specs])[:, None]
        return per_object.reshape(batch, n, -1).astype(np.float32)
