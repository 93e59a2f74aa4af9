"""One episode on one MjModel/MjData pair: set the sampled values, step, record.

Every per-episode value (masses and inertias, fixed poses, each pair's friction and softness, the
initial state) is written before the episode and the data is reset, so an episode's bytes do not
depend on what ran before it on this pair, nor on which thread runs it.
"""

from __future__ import annotations

import mujoco
import numpy as np

from engines.mujoco.contacts import ContactLog
from engines.mujoco.mjcf import MIN_FRICTION, SceneModel
from engines.mujoco.restitution import pair_restitution, solref_for
from factory.generate.sampling import EpisodeSpec, transition_impulses
from factory.recipe.distributions import nominal
from factory.recipe.schema import Recipe
from factory.rollout import Layout, Rollout


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


class EpisodeRunner:
    def __init__(self, recipe: Recipe, scene: SceneModel, layout: Layout):
        self.recipe, self.scene, self.layout = recipe, scene, layout
        self.model = mujoco.MjModel.from_xml_string(scene.xml)
        self.data = mujoco.MjData(self.model)
        m = self.model
        objects = recipe.scene.objects
        self._body = np.array([m.body(o.name).id for o in objects])
        self._free = [i for i, o in enumerate(objects) if not o.fixed]
        self._qadr = {i: int(m.jnt_qposadr[m.body_jntadr[self._body[i]]]) for i in self._free}
        self._vadr = {i: int(m.jnt_dofadr[m.body_jntadr[self._body[i]]]) for i in self._free}
        self._mass0 = m.body_mass.copy()
        self._inertia0 = m.body_inertia.copy()
        self._body_of_geom = np.array([scene.bodies.index(m.geom(g).name) for g in range(m.ngeom)], np.int16)
        ground = recipe.scene.ground
        self._restitution = [o.restitution for o in objects]
        self._ground_restitution = ground.restitution if ground is not None else None

    # ------------------------------------------------------------------ setup
    def _configure(self, spec: EpisodeSpec) -> None:
        m, scene = self.model, self.scene
        for i, body in zip(range(len(spec.bodies)), spec.bodies):
            b = self._body[i]
            if i in self._qadr:
                m.body_mass[b] = body.mass
                m.body_inertia[b] = self._inertia0[b] * (body.mass / self._mass0[b])
            else:
                m.body_pos[b], m.body_quat[b] = body.pos, body.quat
        has_ground = scene.bodies[0] == "ground"
        friction = ([spec.ground_friction] if has_ground else []) + [b.friction for b in spec.bodies]
        restitution = ([self._drawn(spec, "ground", self._ground_restitution)] if has_ground else []) + [
            self._drawn(spec, b.name, e) for b, e in zip(spec.bodies, self._restitution)]
        for p, (a, b) in enumerate(scene.pairs):
            m.pair_friction[p, :2] = max(friction[a], friction[b], MIN_FRICTION)  # the larger, as on Genesis
            m.pair_solref[p] = solref_for(pair_restitution(restitution[a], restitution[b]), self.recipe.dt)
        mujoco.mj_setConst(m, self.data)  # inverse weights follow the new masses

    @staticmethod
    def _drawn(spec: EpisodeSpec, name: str, value) -> float | None:
        """This episode's restitution of `name`: the drawn value where sampling drew one."""
        if value is None:
            return None
        return spec.params.get(f"{name}.restitution", nominal(value))

    def _initial_state(self, spec: EpisodeSpec) -> None:
        d = self.data
        mujoco.mj_resetData(self.model, d)
        for i in self._free:
            body, q, v = spec.bodies[i], self._qadr[i], self._vadr[i]
            d.qpos[q:q + 3], d.qpos[q + 3:q + 7] = body.pos, body.quat
            d.qvel[v:v + 3] = body.vel
            # a free joint's angular velocity is in the body frame: rotate the world-frame value back
            inverse = np.array(body.quat) * np.array([1.0, -1.0, -1.0, -1.0])
            d.qvel[v + 3:v + 6] = rotate(inverse, np.array(body.ang_vel))

    # ------------------------------------------------------------------ running
    def run(self, spec: EpisodeSpec) -> Rollout:
        self._configure(spec)
        self._initial_state(spec)
        m, d, recipe = self.model, self.data, self.recipe
        every, n_rec = recipe.outputs.record_every, recipe.recorded_steps
        qpos = np.empty((n_rec + 1, m.nq))
        qvel = np.empty((n_rec + 1, m.nv))
        qpos[0], qvel[0] = d.qpos, d.qvel
        pushed = np.abs(spec.forces).sum(axis=(1, 2)) > 0
        pushed_chunks = pushed.reshape(n_rec, every).any(axis=1)
        contacts = ContactLog(self._body_of_geom)
        bodies = self._body[self._free]
        blown_up = n_rec + 1
        for k in range(n_rec):
            if pushed_chunks[k]:
                for t in range(k * every, (k + 1) * every):
                    d.xfrc_applied[bodies, :3] = spec.forces[t, self._free]
                    mujoco.mj_step(m, d)
                d.xfrc_applied[bodies, :3] = 0.0
            else:
                mujoco.mj_step(m, d, every)
            qpos[k + 1], qvel[k + 1] = d.qpos, d.qvel
            contacts.grab(d, k + 1)
            if d.warning[mujoco.mjtWarning.mjWARN_BADQACC].number:  # MuJoCo reset the data: not this episode any more
                blown_up = k + 1
                break
        states = self._states(spec, qpos, qvel)
        states[blown_up:] = np.nan  # the runner quarantines it
        return Rollout(spec.index, states, transition_impulses(spec.forces, recipe.dt, every),
                       contacts.build())

    def _states(self, spec: EpisodeSpec, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """(T+1, state_size) in layout order from recorded joint positions and velocities."""
        n = len(qpos)
        per_object = np.zeros((n, len(spec.bodies), 13))
        for i, body in enumerate(spec.bodies):
            if i in self._qadr:
                q, v = self._qadr[i], self._vadr[i]
                per_object[:, i, :7] = qpos[:, q:q + 7]
                per_object[:, i, 7:10] = qvel[:, v:v + 3]
                per_object[:, i, 10:] = rotate(qpos[:, q + 3:q + 7], qvel[:, v + 3:v + 6])
            else:
                per_object[:, i, :3], per_object[:, i, 3:7] = body.pos, body.quat
        return per_object.reshape(n, -1).astype(np.float32)
