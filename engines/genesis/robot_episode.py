"""Drive the robots of a batched Genesis scene: closed loop, one recorded step at a time.

Before each recorded step's physics steps, every env's robots read the true state, their policies
(`factory.contract.policies`, shared with every engine) give commands — or a random move for a
drawn share of steps — and each command becomes the recipe's action (IK over the robot's chain,
`kinematics`), the action gets the episode's noise and becomes joint position targets, set for the
whole batch in one call. Noise and chance come from each episode's own generators and every
env's arithmetic is its own, so an episode's bytes do not depend on its batch.
"""

from __future__ import annotations

import numpy as np

from engines.genesis import kinematics as kin
from engines.genesis.robot_scene import RobotParts
from factory.contract.policies import Command, Observation, act, random_command
from factory.contract.sampling import EpisodeSpec, episode_rng
from factory.recipe.schema import Recipe


class RobotDriver:
    """The robots' side of a batch: initial configurations, commands each recorded step, state blocks."""

    def __init__(self, recipe: Recipe, solver, parts: tuple[RobotParts, ...], movable: dict[str, int]):
        self.recipe, self.solver, self.parts = recipe, solver, parts
        self.movable = movable  # movable object name → solver link index
        self.objects = {o.name: o for o in recipe.scene.objects}

    def start(self, specs: list[EpisodeSpec]) -> None:
        """Each env's robots at their drawn configuration, at rest, holding it, gripper closed."""
        import torch

        self.specs = specs
        for i, part in enumerate(self.parts):
            q = np.array([[s.robots[i].initial.get(j, 0.0) for j in part.block.joints] for s in specs])
            local = list(part.dofs - part.entity.dof_start)
            part.entity.set_dofs_position(torch.as_tensor(q, dtype=torch.float32), local, zero_velocity=True)
            self._control(part, q[:, part.actuated], np.ones(len(specs)))
        q, pos, quat = self._read()
        self.first = [quat[:, p.ee].astype(np.float64) for p in self.parts]  # IK holds the first orientation
        self.tool_start = [self._tool(p, pos, quat) for p in self.parts]
        self.noise = [[episode_rng(self.recipe.seed, s.index, f"{p.recipe.name}.policy.noise") for s in specs]
                      for p in self.parts]
        self.chance = [[episode_rng(self.recipe.seed, s.index, f"{p.recipe.name}.policy.random") for s in specs]
                       for p in self.parts]
        self.actions: list[list[np.ndarray]] = [[] for _ in specs]

    def command(self, k: int) -> None:
        """Recorded step `k`'s actions for every env, applied as the robots' controls."""
        q_all, pos, quat = self._read()
        rows: list[list[np.ndarray]] = [[] for _ in self.specs]
        for i, part in enumerate(self.parts):
            q = q_all[:, part.dofs].astype(np.float64)
            tool = self._tool(part, pos, quat)
            targets, grip = np.empty((len(self.specs), len(part.actuated))), np.ones(len(self.specs))
            for b, spec in enumerate(self.specs):
                init = spec.robots[i]
                objects = {name: pos[b, link].astype(np.float64) for name, link in self.movable.items()}
                obs = Observation(step=k, steps=self.recipe.recorded_steps, q=q[b, part.actuated], tool=tool[b],
                                  tool_start=self.tool_start[i][b], objects=objects)
                luck = self.chance[i][b]
                if luck.random() < init.policy["random_share"]:
                    cmd = random_command(obs, luck)
                else:
                    cmd = act(part.recipe, init, obs, self.objects, {body.name: body.pos for body in spec.bodies})
                action = self._action(part, cmd, q[b], tool[b], quat[b, part.ee], self.first[i][b])
                std = part.recipe.policy.noise
                if std:
                    action = action + self.noise[i][b].normal(0.0, std, len(action))
                if part.recipe.gripper is not None:
                    if cmd.action is None:  # closed unless the policy says otherwise
                        action = np.append(action, 1.0 if cmd.gripper is None else cmd.gripper)
                    grip[b] = action[-1]
                targets[b] = self._targets(part, action, q[b], tool[b], quat[b, part.ee], self.first[i][b])
                rows[b].append(action)
            self._control(part, targets, grip)
        for b, row in enumerate(rows):
            self.actions[b].append(np.concatenate(row).astype(np.float32))

    def blocks(self) -> np.ndarray:
        """(B, size) every robot's state block: joint positions, velocities, tool point, ee orientation."""
        q, pos, quat = self._read()
        dq = self.solver.get_dofs_velocity().cpu().numpy()
        return np.concatenate([np.concatenate([q[:, p.dofs], dq[:, p.dofs], self._tool(p, pos, quat), quat[:, p.ee]],
                                              axis=1) for p in self.parts], axis=1).astype(np.float32)

    def episode_actions(self, b: int) -> np.ndarray:
        return np.array(self.actions[b], np.float32)

    def _read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = self.solver
        return s.get_dofs_position().cpu().numpy(), s.get_links_pos().cpu().numpy(), s.get_links_quat().cpu().numpy()

    @staticmethod
    def _tool(part: RobotParts, pos: np.ndarray, quat: np.ndarray) -> np.ndarray:
        """(B, 3) the tool point of every env, from the solver's ee link pose."""
        offset = part.chain.offset
        return np.stack([p + kin.quat_to_mat(r) @ offset for p, r in
                         zip(pos[:, part.ee].astype(np.float64), quat[:, part.ee].astype(np.float64), strict=True)])

    @staticmethod
    def _action(part: RobotParts, command: Command, q: np.ndarray, tool: np.ndarray, quat: np.ndarray,
                first: np.ndarray) -> np.ndarray:
        """The command in the robot's action space (before noise; a replayed action as it is)."""
        if command.action is not None:
            return np.asarray(command.action, np.float64)
        space, chain = part.recipe.action_space, part.chain
        target, joints = command.tool, command.joints  # exactly one is set
        if space == "ee_delta":
            if target is None:
                trial = q.copy()
                trial[part.actuated] = joints
                target = chain.tool(trial)
            return np.append(target - tool, command.yaw - kin.yaw(quat.astype(np.float64), first))
        if joints is None:
            start = first if command.turn is None else kin.quat_mul(np.asarray(command.turn, np.float64), first)
            joints = chain.solve(q, np.asarray(target), kin.turned(start, command.yaw))
        return joints if space == "joint_position" else joints - q[part.actuated]

    @staticmethod
    def _targets(part: RobotParts, action: np.ndarray, q: np.ndarray, tool: np.ndarray, quat: np.ndarray,
                 first: np.ndarray) -> np.ndarray:
        """Joint targets from an action: what the action means, whoever made it."""
        space, n = part.recipe.action_space, len(part.actuated)
        if space == "ee_delta":
            yaw = kin.yaw(quat.astype(np.float64), first) + action[3]
            targets = part.chain.solve(q, tool + action[:3], kin.turned(first, yaw))
        else:
            targets = action[:n] if space == "joint_position" else q[part.actuated] + action[:n]
        return np.clip(targets, part.limits[:, 0], part.limits[:, 1])

    @staticmethod
    def _control(part: RobotParts, targets: np.ndarray, grip: np.ndarray) -> None:
        """Position targets for the actuated joints and the gripper's control value (0 open .. 1 closed)."""
        import torch

        entity, base = part.entity, part.entity.dof_start
        actuated = list(part.dofs[part.actuated] - base)
        entity.control_dofs_position(torch.as_tensor(targets, dtype=torch.float32), actuated)
        g = part.recipe.gripper
        if g is not None and len(part.gripper):
            ctrl = g.open + (g.closed - g.open) * np.clip(grip, 0.0, 1.0)
            entity.control_dofs_position(torch.as_tensor(np.repeat(ctrl[:, None], len(part.gripper), 1),
                                                         dtype=torch.float32), list(part.gripper - base))
