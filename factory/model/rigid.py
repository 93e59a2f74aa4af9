"""A small MLP world model for rigid bodies: (state, action) → normalized correction.

The model predicts what constant-velocity kinematics gets wrong (pushes, friction, contacts),
normalized per feature: targets stay near zero, and integrating velocity into position, which an
MLP learns poorly from absolute inputs, is done exactly. Normalization lives in buffers, so a
checkpoint is self-contained.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import nn

from factory.contract.rollout import STATE_PER_OBJECT, Layout
from factory.model.kinematics import constant_velocity
from factory.model.stats import scale

QUAT_OFFSET = 3  # quat follows pos inside each object's 13 numbers
VEL_OFFSET = 7  # then linear and angular velocity


class RigidModel(nn.Module):
    state_mean: torch.Tensor
    state_std: torch.Tensor
    action_mean: torch.Tensor
    action_std: torch.Tensor
    residual_mean: torch.Tensor
    residual_std: torch.Tensor
    quat_start: torch.Tensor
    velocity_mask: torch.Tensor

    def __init__(self, state_size: int, action_size: int, record_dt: float, hidden: int = 256,
                 layers: int = 3):
        super().__init__()
        self.config = {"state_size": state_size, "action_size": action_size, "record_dt": record_dt,
                       "hidden": hidden, "layers": layers}
        self.record_dt = record_dt
        dims = [state_size + action_size] + [hidden] * layers
        blocks: list[nn.Module] = []
        for a, b in itertools.pairwise(dims):
            blocks += [nn.Linear(a, b), nn.SiLU()]
        self.net = nn.Sequential(*blocks, nn.Linear(dims[-1], state_size))
        for name, size in (("state", state_size), ("action", action_size), ("residual", state_size)):
            self.register_buffer(f"{name}_mean", torch.zeros(size))
            self.register_buffer(f"{name}_std", torch.ones(size))
        objects = range(state_size // STATE_PER_OBJECT)
        quat = [o * STATE_PER_OBJECT + QUAT_OFFSET for o in objects]
        self.register_buffer("quat_start", torch.tensor(quat, dtype=torch.long))
        moving = torch.zeros(state_size)
        for o in objects:
            moving[o * STATE_PER_OBJECT + VEL_OFFSET:(o + 1) * STATE_PER_OBJECT] = 1.0
        self.register_buffer("velocity_mask", moving)

    @classmethod
    def for_dataset(cls, layout: Layout, stats: dict, **config) -> RigidModel:
        model = cls(layout.state_size, layout.action_size, layout.record_dt, **config)
        for name in ("state", "action", "residual"):
            mean, std = scale(stats, name)
            getattr(model, f"{name}_mean").copy_(torch.from_numpy(mean))
            getattr(model, f"{name}_std").copy_(torch.from_numpy(std))
        return model

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Normalized correction to constant velocity."""
        x = torch.cat([(state - self.state_mean) / self.state_std,
                       (action - self.action_mean) / self.action_std], -1)
        return self.net(x)

    def target(self, state: torch.Tensor, next_state: torch.Tensor) -> torch.Tensor:
        return (next_state - constant_velocity(state, self.record_dt) - self.residual_mean) / self.residual_std

    def loss(self, state: torch.Tensor, action: torch.Tensor, next_state: torch.Tensor,
             noise: float = 0.0) -> torch.Tensor:
        """MSE on the normalized correction. `noise` (in state-std units) perturbs the input
        velocities, the way a rollout's own errors would, and the target still leads to the true
        next state: the model learns to pull drifting velocities back. Positions are left clean,
        since their residuals are far smaller than any useful noise."""
        if noise > 0:
            jitter = torch.randn_like(state) * noise * self.state_std * self.velocity_mask
            state_in, target = state + jitter, self.target(state + jitter, next_state)
        else:
            state_in, target = state, self.target(state, next_state)
        return torch.mean((self(state_in, action) - target) ** 2)

    def step(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Next state in physical units, quaternions renormalized."""
        nxt = constant_velocity(state, self.record_dt) + self(state, action) * self.residual_std + self.residual_mean
        idx = self.quat_start[:, None] + torch.arange(4, device=state.device)
        q = nxt[..., idx]
        q = q / q.norm(dim=-1, keepdim=True).clamp_min(1e-8)
        return nxt.index_copy(-1, idx.reshape(-1), q.reshape(*q.shape[:-2], -1))


class TorchPredictor:
    """The numpy `Predictor` interface over a trained model, for evaluation beside baselines."""

    name = "mlp"

    def __init__(self, model: RigidModel, device: str = "cpu"):
        self.model, self.device = model.eval().to(device), device

    @torch.no_grad()
    def predict(self, state: np.ndarray, action: np.ndarray, episode: np.ndarray | None = None) -> np.ndarray:
        s = torch.tensor(np.asarray(state), dtype=torch.float32, device=self.device)
        a = torch.tensor(np.asarray(action), dtype=torch.float32, device=self.device)
        return self.model.step(s, a).cpu().numpy()


def load_checkpoint(path, device: str = "cpu") -> tuple[RigidModel, dict]:
    ckpt = torch.load(path, map_location=device, weights_only=False)
    model = RigidModel(**ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device), ckpt
