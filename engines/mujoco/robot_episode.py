"""Run robot episodes on MuJoCo: closed loop, one recorded step at a time.

A policy reads the state at each recorded step, so the episode cannot be handed to
`mujoco.rollout` whole: each recorded step, every robot's command (the policy's, or a random move
for a drawn share of steps) becomes its action with the episode's action noise, the action becomes
actuator targets, and `mj_step` runs `record_every` steps in C. Each episode runs on its own model
copy and a reset data, with noise and chance from its own generators, so its bytes do not depend on
its batch.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import mujoco
import numpy as np

from engines.mujoco import ik
from engines.mujoco.contacts import batch_contacts
from engines.mujoco.episode import STATE, EpisodeSetup
from engines.mujoco.robot_scene import RobotParts, RobotScene
from factory.contract.policies import Command, Observation, act, random_command
from factory.contract.rollout import Rollout
from factory.contract.sampling import EpisodeSpec, episode_rng
from factory.recipe.schema import Recipe


class RobotEpisodes:
    """Runs batches of robot episodes on the models `EpisodeSetup` configures, episodes on `threads`
    threads (`mj_step` releases the GIL; the policy and IK take turns holding it)."""

    def __init__(self, recipe: Recipe, setup: EpisodeSetup, scene: RobotScene, threads: int):
        self.recipe, self.setup, self.scene = recipe, setup, scene
        self.datas = [mujoco.MjData(scene.model) for _ in range(recipe.n_envs)]
        self.scratches = [mujoco.MjData(scene.model) for _ in range(recipe.n_envs)]  # where IK works
        self.objects = {o.name: o for o in recipe.scene.objects}
        self.free = {recipe.scene.objects[i].name: setup._qadr[i] for i in setup._free}
        self.pool = ThreadPoolExecutor(threads) if threads > 1 else None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()

    def run(self, models: list, specs: list[EpisodeSpec]) -> list[Rollout]:
        initial = self.setup.initial_states(models, specs)  # configures each model for its episode
        jobs = list(zip(models, self.datas, self.scratches, specs, initial, strict=False))
        runs = list(self.pool.map(lambda job: self._episode(*job), jobs) if self.pool else
                    (self._episode(*job) for job in jobs))
        states = np.stack([r[0] for r in runs])
        readings = np.stack([r[2] for r in runs])
        nq, nv = self.setup.nq, self.setup.nv
        qpos, qvel = states[..., 1:1 + nq], states[..., 1 + nq:1 + nq + nv]
        objects = self.setup._states(specs, qpos, qvel)
        robots = np.stack([r[3] for r in runs])
        out = np.concatenate([objects, robots], axis=-1)
        every, dt = self.recipe.outputs.record_every, self.recipe.dt
        clock = np.diff(states[..., 0], axis=1)  # MuJoCo resets a diverging simulation: see EpisodeSetup.rollouts
        for b, reset in zip(*np.nonzero(np.abs(clock - every * dt) > dt / 2), strict=True):
            out[b, reset + 1:] = np.nan
        contacts = batch_contacts(readings, self.scene.contacts)
        return [Rollout(spec.index, out[b], runs[b][1], contacts[b]) for b, spec in enumerate(specs)]

    def _episode(self, m, d, scratch, spec: EpisodeSpec, state: np.ndarray):
        """(physics states (T+1, nstate), actions (T, A), sensor readings (T, ·), robot blocks (T+1, ·))."""
        recipe, steps = self.recipe, self.recipe.recorded_steps
        mujoco.mj_setState(m, d, state, STATE)
        for part, init in zip(self.scene.robots, spec.robots, strict=True):
            d.qpos[part.qadr] = [init.initial.get(j, 0.0) for j in part.block.joints]
            velocity = part.recipe.action_space == "joint_velocity"
            d.ctrl[part.actuators] = 0.0 if velocity else d.qpos[part.qadr[part.actuated]]  # hold the start
            if part.gripper is not None and part.recipe.gripper is not None:
                d.ctrl[part.gripper] = part.recipe.gripper.closed
            for equality, qadr in part.holds:
                m.eq_data[equality, 0] = d.qpos[qadr]  # q = its start (the polynomial's constant)
        carries = [p.carry for p in self.scene.robots if p.carry is not None]
        if carries:  # a tilt's container: held where it starts
            mujoco.mj_kinematics(m, d)
            for equality in carries:
                _weld_as_is(m, d, equality)
        mujoco.mj_forward(m, d)
        quats = [d.xquat[p.ee].copy() for p in self.scene.robots]  # IK holds the first orientation
        tools = [ik.tool_point(d, p) for p in self.scene.robots]
        noise = [episode_rng(recipe.seed, spec.index, f"{p.recipe.name}.policy.noise") for p in self.scene.robots]
        chance = [episode_rng(recipe.seed, spec.index, f"{p.recipe.name}.policy.random") for p in self.scene.robots]
        start = {b.name: b.pos for b in spec.bodies}
        nstate = mujoco.mj_stateSize(m, STATE)
        physics = np.empty((steps + 1, nstate))
        readings = np.empty((steps, m.nsensordata))
        blocks = np.empty((steps + 1, sum(p.block.size for p in self.scene.robots)), np.float32)
        actions = []
        mujoco.mj_getState(m, d, physics[0], STATE)
        blocks[0] = self._blocks(d)
        for k in range(steps):
            row = []
            for part, init, quat, tool, rng, luck in zip(self.scene.robots, spec.robots, quats, tools, noise, chance,
                                                         strict=True):
                obs = self._observe(d, part, k, tool)
                if luck.random() < init.policy["random_share"]:
                    command = random_command(obs, luck)
                else:
                    command = act(part.recipe, init, obs, self.objects, start)
                action = self._action(m, d, scratch, part, command, quat)
                std = part.recipe.policy.noise
                if std:
                    action = action + rng.normal(0.0, std, len(action))
                if part.gripper is not None and command.action is None:  # closed unless the policy says otherwise
                    action = np.append(action, 1.0 if command.gripper is None else command.gripper)
                self._apply(m, d, scratch, part, action, quat)
                row.append(action)
            actions.append(np.concatenate(row))
            mujoco.mj_step(m, d, nstep=recipe.outputs.record_every)
            readings[k] = d.sensordata
            mujoco.mj_kinematics(m, d)  # the ee pose at the state the step ended in
            mujoco.mj_getState(m, d, physics[k + 1], STATE)
            blocks[k + 1] = self._blocks(d)
        return physics, np.array(actions, np.float32), readings, blocks

    def _observe(self, d: mujoco.MjData, part: RobotParts, k: int, tool_start: np.ndarray) -> Observation:
        return Observation(step=k, steps=self.recipe.recorded_steps,
                           q=d.qpos[part.qadr[part.actuated]].copy(), tool=ik.tool_point(d, part),
                           tool_start=tool_start,
                           objects={name: d.qpos[q:q + 3].copy() for name, q in self.free.items()})

    def _action(self, m, d: mujoco.MjData, scratch: mujoco.MjData, part: RobotParts, command: Command,
                quat: np.ndarray) -> np.ndarray:
        """The command in the robot's action space (before noise; a replayed action as it is)."""
        if command.action is not None:
            return command.action
        space, q = part.recipe.action_space, d.qpos[part.qadr[part.actuated]]
        tool, joints = command.tool, command.joints  # exactly one is set
        if space == "ee_delta":
            if tool is None:
                tool = ik.forward(m, scratch, d.qpos, part, np.asarray(joints))
            return np.append(tool - ik.tool_point(d, part), command.yaw - ik.yaw(d.xquat[part.ee], quat))
        if joints is None:
            first = quat if command.turn is None else ik.rotated(command.turn, quat)
            joints = ik.solve(m, scratch, d.qpos, part, np.asarray(tool), ik.turned(first, command.yaw))
        if space == "joint_velocity":  # reach the target in one recorded step
            return (joints - q) / (self.recipe.dt * self.recipe.outputs.record_every)
        return joints if space == "joint_position" else joints - q

    def _apply(self, m, d: mujoco.MjData, scratch: mujoco.MjData, part: RobotParts, action: np.ndarray,
               quat: np.ndarray) -> None:
        """Actuator targets from an action: what the action means, whoever made it."""
        space, q = part.recipe.action_space, d.qpos[part.qadr[part.actuated]]
        if space == "ee_delta":
            yaw = ik.yaw(d.xquat[part.ee], quat) + action[3]
            targets = ik.solve(m, scratch, d.qpos, part, ik.tool_point(d, part) + action[:3], ik.turned(quat, yaw))
        elif space == "joint_velocity":
            targets = action[:len(part.actuated)]
        else:
            n = len(part.actuated)
            targets = action[:n] if space == "joint_position" else q + action[:n]
        d.ctrl[part.actuators] = targets if space == "joint_velocity" else np.clip(targets, part.limits[:, 0],
                                                                                   part.limits[:, 1])
        g = part.recipe.gripper
        if part.gripper is not None and g is not None:
            d.ctrl[part.gripper] = g.open + (g.closed - g.open) * float(np.clip(action[-1], 0.0, 1.0))

    def _blocks(self, d: mujoco.MjData) -> np.ndarray:
        """Every robot's state block: joint positions, joint velocities, tool point, ee orientation."""
        return np.concatenate([np.concatenate([d.qpos[p.qadr], d.qvel[p.dadr], ik.tool_point(d, p), d.xquat[p.ee]])
                               for p in self.scene.robots]).astype(np.float32)


def _weld_as_is(m: mujoco.MjModel, d: mujoco.MjData, equality: int) -> None:
    """Set a weld's relative pose to its two bodies' pose now (body2 in body1's frame), so it holds them so."""
    one, two = m.eq_obj1id[equality], m.eq_obj2id[equality]
    inverse = np.zeros(4)
    mujoco.mju_negQuat(inverse, d.xquat[one])
    m.eq_data[equality, 0:3] = 0.0  # the anchor: body2's origin
    m.eq_data[equality, 3:6] = d.xmat[one].reshape(3, 3).T @ (d.xpos[two] - d.xpos[one])
    mujoco.mju_mulQuat(m.eq_data[equality, 6:10], inverse, d.xquat[two])
