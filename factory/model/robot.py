"""The world model of robot datasets: the arm's own dynamics, and its tool point as a body among the objects.

A robot's state block (joint positions and velocities, tool point, hand quaternion) and the action
form the graph's global features. A small network predicts the block's change over one recorded
interval from them (the arm is position-controlled and much heavier than what it pushes, so its
motion follows its commands, not the objects). Each robot's tool point then joins the relational
model's graph (factory.model.bodies) as a body node, a small held sphere whose velocity is the
tool's *predicted* move over the interval, so the objects' contact look-ahead sees the push coming;
the globals are broadcast to every node. Objects are predicted and integrated exactly as in the
relational model, and both parts train together on the same rollout loss.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import torch
from torch import nn

from factory.contract.rollout import STATE_PER_OBJECT, Layout, RobotBlock
from factory.model.bodies import (
    DYNAMIC_SIZE,
    EDGE_SIZE,
    SHAPES,
    STATIC_SIZE,
    Scene,
    body_graph,
    object_static,
)
from factory.model.graph import EncodeProcessDecode, Graph, mlp
from factory.model.relational import OUTPUTS, ObjectScales, integrate_objects, object_target

TOOL_RADIUS = 0.02  # m: the fingertips around the tool point, as the graph's contact features see them


def tool_static(robots: int) -> torch.Tensor:
    """Static node features of the tool nodes (robots, STATIC_SIZE): held spheres of TOOL_RADIUS."""
    row = [float(s == "sphere") for s in SHAPES] + [TOOL_RADIUS] * 3 + [0.0, 1.0, 1.0]
    return torch.tensor([row] * robots)


class RobotModel(nn.Module):
    node_mean: torch.Tensor
    node_std: torch.Tensor
    edge_mean: torch.Tensor
    edge_std: torch.Tensor
    out_mean: torch.Tensor
    out_std: torch.Tensor
    glob_mean: torch.Tensor
    glob_std: torch.Tensor
    arm_mean: torch.Tensor
    arm_std: torch.Tensor
    tools: torch.Tensor

    def __init__(self, scene: dict, record_dt: float, robots: list[dict], action_size: int, hidden: int = 64,
                 steps: int = 2, arm_hidden: int = 128):
        super().__init__()
        self.config = {"scene": scene, "record_dt": record_dt, "robots": robots, "action_size": action_size,
                       "hidden": hidden, "steps": steps, "arm_hidden": arm_hidden}
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in scene.items()}
        self.scene = Scene(**fields)
        self.blocks = tuple(RobotBlock(r["name"], tuple(r["joints"])) for r in robots)
        self.graph_scene = Scene(self.scene.objects + tuple(f"{b.name}.tool" for b in self.blocks),
                                 self.scene.ground, self.scene.ground_height, self.scene.ground_half)
        self.record_dt = record_dt
        self.split = STATE_PER_OBJECT * len(self.scene.objects)  # where the robots' blocks start
        robot_size = sum(b.size for b in self.blocks)
        glob = robot_size + action_size
        self.net = EncodeProcessDecode(STATIC_SIZE + DYNAMIC_SIZE + glob, EDGE_SIZE, OUTPUTS, hidden, steps)
        self.arm = mlp(glob, arm_hidden, robot_size, layers=2, norm=False)
        for name, size in (("node", STATIC_SIZE + DYNAMIC_SIZE), ("edge", EDGE_SIZE), ("out", OUTPUTS),
                           ("glob", glob), ("arm", robot_size)):
            self.register_buffer(f"{name}_mean", torch.zeros(size))
            self.register_buffer(f"{name}_std", torch.ones(size))
        self.register_buffer("tools", tool_static(len(self.blocks)))
        offsets, start = [], 0
        for b in self.blocks:
            n = len(b.joints)
            offsets.append((start + 2 * n, start + 2 * n + 3, start + 2 * n + 7))  # tool pos, quat, end
            start += b.size
        self.tool_spans = tuple(offsets)

    @classmethod
    def for_layout(cls, scene: Scene, layout: Layout, **config) -> RobotModel:
        return cls(asdict(scene), layout.record_dt, [b.to_dict() for b in layout.robots], layout.action_size,
                   **config)

    def _tool_states(self, robot: torch.Tensor, robot_next: torch.Tensor) -> torch.Tensor:
        """Each tool as a body state (B, R*13): its position and hand quaternion now, its velocity the move
        to `robot_next` over the interval, no spin."""
        parts = []
        for pos, quat, end in self.tool_spans:
            p = robot[:, pos:quat]
            parts += [p, robot[:, quat:end], (robot_next[:, pos:quat] - p) / self.record_dt, torch.zeros_like(p)]
        return torch.cat(parts, -1)

    def _graph(self, objects, robot, robot_next, static) -> Graph:
        b = objects.shape[0]
        state = torch.cat([objects, self._tool_states(robot, robot_next)], -1)
        push = state.new_zeros(b, 3 * len(self.graph_scene.objects))  # robots act through contacts, not impulses
        return body_graph(state, push, torch.cat([static, self.tools.expand(b, -1, -1)], 1), self.graph_scene,
                          self.record_dt)

    def _globals(self, robot: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return (torch.cat([robot, action], -1) - self.glob_mean) / self.glob_std

    def _next_robot(self, robot: torch.Tensor, glob: torch.Tensor) -> torch.Tensor:
        nxt = robot + self.arm(glob) * self.arm_std + self.arm_mean
        parts, start = [], 0
        for _, quat, end in self.tool_spans:
            q = nxt[:, quat:end]
            parts += [nxt[:, start:quat], q / q.norm(dim=-1, keepdim=True).clamp_min(1e-8)]
            start = end
        return torch.cat(parts, -1)

    @torch.no_grad()
    def set_normalization(self, state: torch.Tensor, action: torch.Tensor, static: torch.Tensor,
                          next_state: torch.Tensor) -> None:
        """Feature scales from training transitions; the tools' moves are the recorded ones."""
        robot, robot_next = state[:, self.split:], next_state[:, self.split:]
        for name, x in (("glob", torch.cat([robot, action], -1)), ("arm", robot_next - robot)):
            self._set(name, x)
        g = self._graph(state[:, :self.split], robot, robot_next, static)
        for name, x in (("node", g.nodes), ("edge", g.edges)):
            self._set(name, x.reshape(-1, x.shape[-1]))
        b, o = state.shape[0], len(self.scene.objects)
        s, n = state[:, :self.split].reshape(b, o, -1), next_state[:, :self.split].reshape(b, o, -1)
        target = object_target(s, n, s.new_zeros(b, o, 3), self.record_dt)
        picked = target[object_static(static, self.scene)[..., -1] < 0.5]
        self.out_mean.copy_(picked.mean(0))
        self.out_std.copy_(torch.cat([picked[:, :6].std(0).clamp_min(1e-4), picked[:, 6:].std(0).clamp_min(1e-7)]))

    def _set(self, name: str, flat: torch.Tensor) -> None:
        getattr(self, f"{name}_mean").copy_(flat.mean(0))
        std = flat.std(0)
        getattr(self, f"{name}_std").copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    def step(self, state: torch.Tensor, action: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        """Next state (B, S) in physical units: the robots' blocks first, then the objects they act on."""
        b, o = state.shape[0], len(self.scene.objects)
        objects, robot = state[:, :self.split], state[:, self.split:]
        glob = self._globals(robot, action)
        robot_next = self._next_robot(robot, glob)
        g = self._graph(objects, robot, robot_next, static)
        nodes = (g.nodes - self.node_mean) / self.node_std
        nodes = torch.cat([nodes, glob[:, None, :].expand(-1, nodes.shape[1], -1)], -1)
        g = Graph(nodes, (g.edges - self.edge_mean) / self.edge_std, g.senders, g.receivers)
        first = int(self.scene.ground)
        change = self.net(g)[:, first:first + o] * self.out_std + self.out_mean
        free = (object_static(static, self.scene)[..., -1:] < 0.5).to(state.dtype)
        s = objects.reshape(b, o, STATE_PER_OBJECT)
        nxt = integrate_objects(s, change, s.new_zeros(b, o, 3), free, self.record_dt)
        return torch.cat([nxt.reshape(b, -1), robot_next], -1)

    def rollout_loss(self, states: torch.Tensor, actions: torch.Tensor, static: torch.Tensor,
                     noise: float = 0.0) -> torch.Tensor:
        """The relational model's rollout loss on the objects plus the robots' blocks' error in arm-output stds;
        the first state's robot blocks get noise of `noise` such stds too."""
        scales = ObjectScales.of(self.out_std, len(self.scene.objects), self.record_dt)
        s = states[:, 0]
        if noise > 0:
            arm_noise = torch.randn_like(s[:, self.split:]) * noise * self.arm_std
            s = s + torch.cat([scales.jitter(s, noise, object_static(static, self.scene)[..., -1] < 0.5),
                               arm_noise], -1)
        loss = s.new_zeros(())
        for k in range(actions.shape[1]):
            s = self.step(s, actions[:, k], static)
            true = states[:, k + 1]
            loss = scales.add_error(loss, s, true) + (((s[:, self.split:] - true[:, self.split:]) / self.arm_std)
                                                      ** 2).mean()
        return loss / actions.shape[1]


def load_robot(ckpt: dict, device: str = "cpu") -> RobotModel:
    model = RobotModel(**ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device)
