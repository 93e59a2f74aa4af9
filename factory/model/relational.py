"""An object-centric world model for rigid bodies, after Interaction Networks (Battaglia et al. 2016)
and GNS (Sanchez-Gonzalez et al. 2020).

Bodies are nodes and every pair an edge (factory.model.bodies); an encode-process-decode graph
network predicts each body's change of linear and angular velocity over one recorded interval
beyond what its push gives (J/m, exact), and a position correction; the velocities are integrated
to the next state (trapezoidal positions plus the correction, which stands for what the
trapezoid cannot know: when within the recorded interval a push or a contact happened;
quaternions rotated by the mean angular velocity). Shared node and edge
functions make the prediction equivariant to the order of objects and let what is learned about
one pair serve every pair. Trained on short rollouts from noised states (`rollout_loss`), so it
learns to pull its own drifting predictions back instead of compounding them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from factory.contract.rollout import STATE_PER_OBJECT
from factory.model.bodies import (
    DYNAMIC_SIZE,
    EDGE_SIZE,
    STATIC_SIZE,
    Scene,
    body_graph,
    object_static,
)
from factory.model.graph import EncodeProcessDecode, Graph
from factory.model.kinematics import integrate_quat

OUTPUTS = 9  # per body: change of linear and of angular velocity, position correction


class RelationalModel(nn.Module):
    node_mean: torch.Tensor
    node_std: torch.Tensor
    edge_mean: torch.Tensor
    edge_std: torch.Tensor
    out_mean: torch.Tensor
    out_std: torch.Tensor

    def __init__(self, scene: dict, record_dt: float, hidden: int = 64, steps: int = 2):
        super().__init__()
        self.config = {"scene": scene, "record_dt": record_dt, "hidden": hidden, "steps": steps}
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in scene.items()}
        self.scene = Scene(**fields)
        self.record_dt = record_dt
        self.net = EncodeProcessDecode(STATIC_SIZE + DYNAMIC_SIZE, EDGE_SIZE, OUTPUTS, hidden, steps)
        for name, size in (("node", STATIC_SIZE + DYNAMIC_SIZE), ("edge", EDGE_SIZE), ("out", OUTPUTS)):
            self.register_buffer(f"{name}_mean", torch.zeros(size))
            self.register_buffer(f"{name}_std", torch.ones(size))

    @classmethod
    def for_scene(cls, scene: Scene, record_dt: float, **config) -> RelationalModel:
        return cls(asdict(scene), record_dt, **config)

    @torch.no_grad()
    def set_normalization(self, state: torch.Tensor, action: torch.Tensor, static: torch.Tensor,
                          next_state: torch.Tensor) -> None:
        """Feature scales from training transitions (rows, S), (rows, A), (rows, N, F), (rows, S); the
        output scale pools each velocity component over the moving objects."""
        g = body_graph(state, action, static, self.scene, self.record_dt)
        for name, x in (("node", g.nodes), ("edge", g.edges)):
            flat = x.reshape(-1, x.shape[-1])
            if len(flat) < 2:  # a lone object has no edges: they keep scale 1 (std of nothing warns, and is NaN)
                continue
            getattr(self, f"{name}_mean").copy_(flat.mean(0))
            std = flat.std(0)
            getattr(self, f"{name}_std").copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))
        target = self._target(state, action, static, next_state)
        moving = object_static(static, self.scene)[..., -1] < 0.5
        picked = target[moving]
        self.out_mean.copy_(picked.mean(0))
        self.out_std.copy_(torch.cat([picked[:, :6].std(0).clamp_min(1e-4), picked[:, 6:].std(0).clamp_min(1e-7)]))

    def _target(self, state, action, static, next_state) -> torch.Tensor:
        """What the network must predict, (B, O, 9): the change of (vel, ang_vel) less the push's J/m,
        and the next position less the trapezoid of the true velocities."""
        b, o = state.shape[0], len(self.scene.objects)
        s, n = state.reshape(b, o, -1), next_state.reshape(b, o, -1)
        return object_target(s, n, self._push(action, static, b, o), self.record_dt)

    def _push(self, action, static, b, o) -> torch.Tensor:
        if action.shape[-1] != 3 * o:
            return action.new_zeros(b, o, 3)
        return action.reshape(b, o, 3) / object_static(static, self.scene)[..., -3].exp()[..., None]

    def forward(self, state: torch.Tensor, action: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        """Normalized outputs (B, O, 9) of the objects: velocity changes, position correction."""
        g = body_graph(state, action, static, self.scene, self.record_dt)
        g = Graph((g.nodes - self.node_mean) / self.node_std, (g.edges - self.edge_mean) / self.edge_std,
                  g.senders, g.receivers)
        return self.net(g)[:, int(self.scene.ground):]

    def step(self, state: torch.Tensor, action: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        """Next state (B, S) in physical units; fixed objects stay where they are."""
        b, o = state.shape[0], len(self.scene.objects)
        s = state.reshape(b, o, STATE_PER_OBJECT)
        change = self(state, action, static) * self.out_std + self.out_mean
        free = (object_static(static, self.scene)[..., -1:] < 0.5).to(state.dtype)
        return integrate_objects(s, change, self._push(action, static, b, o), free, self.record_dt).reshape(b, -1)

    def rollout_loss(self, states: torch.Tensor, actions: torch.Tensor, static: torch.Tensor,
                     noise: float = 0.0) -> torch.Tensor:
        """Mean normalized error over a K-step rollout of windows (B, K+1, S), (B, K, A).

        The first state's velocities get Gaussian noise of `noise` output-stds (positions the
        same held for one interval); each step's error is the next velocities' error in
        output-stds plus the position error in (output-std × dt), against the recorded states."""
        scales = ObjectScales.of(self.out_std, len(self.scene.objects), self.record_dt)
        s = states[:, 0]
        if noise > 0:
            s = s + scales.jitter(s, noise, object_static(static, self.scene)[..., -1] < 0.5)
        loss = s.new_zeros(())
        for k in range(actions.shape[1]):
            s = self.step(s, actions[:, k], static)
            loss = scales.add_error(loss, s, states[:, k + 1])
        return loss / actions.shape[1]


def object_target(s: torch.Tensor, n: torch.Tensor, push: torch.Tensor, dt: float) -> torch.Tensor:
    """What the network predicts per object from states s, n (B, O, 13) and pushes' J/m (B, O, 3): the change of
    (vel, ang_vel) less the push, and the next position less the trapezoid of the true velocities."""
    trapezoid = s[..., 0:3] + (s[..., 7:10] + n[..., 7:10]) / 2 * dt
    return torch.cat([n[..., 7:10] - s[..., 7:10] - push, n[..., 10:] - s[..., 10:], n[..., 0:3] - trapezoid], -1)


def integrate_objects(s: torch.Tensor, change: torch.Tensor, push: torch.Tensor, free: torch.Tensor,
                      dt: float) -> torch.Tensor:
    """Next object states (B, O, 13) from states, predicted changes (B, O, 9) in physical units, pushes' J/m
    and a free mask (B, O, 1): velocities changed, positions by the trapezoid plus the correction,
    quaternions rotated by the mean spin; fixed objects held."""
    vel = s[..., 7:10] + (change[..., :3] + push) * free
    omega = s[..., 10:13] + change[..., 3:6] * free
    pos = s[..., 0:3] + (s[..., 7:10] + vel) / 2 * dt + change[..., 6:] * free
    quat = integrate_quat(s[..., 3:7], (s[..., 10:13] + omega) / 2, dt)
    quat = quat / quat.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    return torch.cat([pos, quat, vel, omega], -1)


@dataclass(frozen=True)
class ObjectScales:
    """How the rollout loss weighs the objects' part of a state (the first O*13 entries): velocities in
    output-stds, positions in output-std × dt."""

    vel_scale: torch.Tensor
    pos_scale: torch.Tensor
    moving: torch.Tensor  # bool masks over the objects' part of the state
    placed: torch.Tensor

    @classmethod
    def of(cls, out_std: torch.Tensor, objects: int, dt: float) -> ObjectScales:
        per_object = torch.zeros(STATE_PER_OBJECT, dtype=torch.bool, device=out_std.device)
        per_object[7:] = True
        moving, placed = per_object.repeat(objects), torch.zeros_like(per_object)
        placed[:3] = True
        return cls(out_std[:6].repeat(objects), out_std[:3].repeat(objects) * dt, moving, placed.repeat(objects))

    def jitter(self, s: torch.Tensor, noise: float, free: torch.Tensor) -> torch.Tensor:
        """Gaussian noise (B, O*13) of `noise` scales on free objects' velocities and positions."""
        b = s.shape[0]
        jitter = torch.zeros_like(s[:, :len(self.moving)])
        jitter[:, self.moving] = torch.randn(b, int(self.moving.sum()), device=s.device) * noise * self.vel_scale
        jitter[:, self.placed] = torch.randn(b, int(self.placed.sum()), device=s.device) * noise * self.pos_scale
        return jitter * free.to(s.dtype).repeat_interleave(STATE_PER_OBJECT, -1)

    def add_error(self, loss: torch.Tensor, s: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
        """`loss` plus the mean squared scaled error of the objects' velocities and that of their positions."""
        width = len(self.moving)  # a robot's block may follow the objects'
        s, true = s[:, :width], true[:, :width]
        return loss + (((s[:, self.moving] - true[:, self.moving]) / self.vel_scale) ** 2).mean() \
            + (((s[:, self.placed] - true[:, self.placed]) / self.pos_scale) ** 2).mean()


class StepModel(Protocol):
    """What a predictor needs of a graph model: the relational model or the robot model."""

    def eval(self) -> StepModel: ...

    def to(self, device: str) -> StepModel: ...

    def step(self, state: torch.Tensor, action: torch.Tensor, static: torch.Tensor) -> torch.Tensor: ...


class RelationalPredictor:
    """The numpy `Predictor` interface over a trained model; static features looked up by episode."""

    name = "model"

    def __init__(self, model: StepModel, static: dict[int, np.ndarray], device: str = "cpu"):
        self.model, self.static, self.device = model.eval().to(device), static, device

    @torch.no_grad()
    def predict(self, state: np.ndarray, action: np.ndarray, episode: np.ndarray) -> np.ndarray:
        t = lambda x: torch.as_tensor(np.array(x, np.float32), device=self.device)  # noqa: E731
        static = np.stack([self.static[int(e)] for e in np.atleast_1d(episode)])
        return self.model.step(t(state), t(action), t(static)).cpu().numpy()


def load_relational(ckpt: dict, device: str = "cpu") -> RelationalModel:
    model = RelationalModel(**ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device)
