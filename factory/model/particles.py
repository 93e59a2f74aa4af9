"""A learned particle simulator for fluids and cloth vertices, after Sanchez-Gonzalez et al. 2020
("Learning to Simulate Complex Physics with Graph Networks"): message passing over a radius graph,
predicting each particle's acceleration, trained with random-walk noise on its input history.

Inputs are position histories (G graphs, N particles, C+1 frames, D dims) and, for recorded scenes,
what drives the points from outside: clipped distances to the walls (tank or ground), the rigid
objects' centres relative to each point, and the action (the movers' velocity) as a global feature.
factory.model.particle_data reads them from a dataset; factory.model.particle_train fits the model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn


def radius_graph(pos: torch.Tensor, radius: float) -> torch.Tensor:
    """Directed edges (2, E) between distinct particles closer than `radius`, for (G, N, D)
    positions; node ids are flat (g * N + i). O(N²) per graph: fine up to a few thousand particles."""
    g, n, _ = pos.shape
    close = torch.cdist(pos, pos) < radius
    close &= ~torch.eye(n, dtype=torch.bool, device=pos.device)
    graph, src, dst = close.nonzero(as_tuple=True)
    return torch.stack([graph * n + src, graph * n + dst])


def _mlp(inp: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inp, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                         nn.Linear(hidden, out))


class ParticleModel(nn.Module):
    """Encode (recent velocities; relative displacements) → process (message passing) → decode
    (acceleration). Only relative positions enter, so predictions are translation invariant."""

    def __init__(self, dims: int = 3, history: int = 3, radius: float = 0.05, hidden: int = 64,
                 steps: int = 3, movers: int = 0, actions: int = 0,
                 lower: list[float] | None = None, upper: list[float] | None = None):
        super().__init__()
        self.config = {"dims": dims, "history": history, "radius": radius, "hidden": hidden, "steps": steps,
                       "movers": movers, "actions": actions, "lower": lower, "upper": upper}
        self.radius, self.history = radius, history
        walls = 2 * dims if lower is not None else 0
        self.node_in = _mlp(dims * history + walls + dims * movers + actions, hidden, hidden)
        self.edge_in = _mlp(dims + 1, hidden, hidden)
        self.edge_steps = nn.ModuleList(_mlp(3 * hidden, hidden, hidden) for _ in range(steps))
        self.node_steps = nn.ModuleList(_mlp(2 * hidden, hidden, hidden) for _ in range(steps))
        self.decode = _mlp(hidden, hidden, dims)
        self.register_buffer("vel_std", torch.ones(()))
        self.register_buffer("acc_mean", torch.zeros(dims))
        self.register_buffer("acc_std", torch.ones(()))
        self.register_buffer("pos_std", torch.ones(()))
        self.register_buffer("action_mean", torch.zeros(actions))
        self.register_buffer("action_std", torch.ones(actions))
        self.register_buffer("lower", torch.tensor(lower if lower is not None else [0.0] * dims))
        self.register_buffer("upper", torch.tensor(upper if upper is not None else [0.0] * dims))

    def set_normalization(self, positions: torch.Tensor, actions: torch.Tensor | None = None) -> None:
        """Velocity, acceleration and spatial scales from training positions (G, N, T, D), and the
        action's mean and std from training actions (rows, A)."""
        vel = positions.diff(dim=2)
        acc = vel.diff(dim=2)
        self.vel_std.fill_(vel.std().clamp_min(1e-8))
        self.acc_mean.copy_(acc.reshape(-1, acc.shape[-1]).mean(0))
        self.acc_std.fill_(acc.std().clamp_min(1e-8))
        self.pos_std.fill_(positions.std().clamp_min(1e-8))
        if actions is not None and actions.shape[-1]:
            self.action_mean.copy_(actions.mean(0))
            self.action_std.copy_(torch.where(actions.std(0) > 1e-6, actions.std(0), torch.ones(())))

    def node_features(self, window: torch.Tensor, movers: torch.Tensor | None = None,
                      action: torch.Tensor | None = None) -> torch.Tensor:
        """Per point: normalized velocity history, then (when configured) wall distances clipped at
        one radius, movers' centres relative to the point, and the normalized action."""
        g, n, _, d = window.shape
        current = window[:, :, -1]
        parts = [(window.diff(dim=2) / self.vel_std).reshape(g, n, -1)]
        if self.config["lower"] is not None:
            parts += [((current - self.lower) / self.radius).clamp(0, 1),
                      ((self.upper - current) / self.radius).clamp(0, 1)]
        if self.config["movers"]:
            parts.append(((movers[:, None] - current[:, :, None]) / self.pos_std).reshape(g, n, -1))
        if self.config["actions"]:
            parts.append(((action - self.action_mean) / self.action_std)[:, None].expand(g, n, -1))
        return torch.cat(parts, -1)

    def forward(self, window: torch.Tensor, movers: torch.Tensor | None = None,
                action: torch.Tensor | None = None) -> torch.Tensor:
        """Normalized acceleration (G, N, D) from a position window (G, N, history+1, D), the
        movers' centres (G, K, D) and the action (G, A)."""
        g, n, _, d = window.shape
        current = window[:, :, -1]
        edges = radius_graph(current, self.radius)
        flat = current.reshape(g * n, d)
        rel = (flat[edges[0]] - flat[edges[1]]) / self.radius
        h = self.node_in(self.node_features(window, movers, action).reshape(g * n, -1))
        e = self.edge_in(torch.cat([rel, rel.norm(dim=-1, keepdim=True)], -1))
        for edge_mlp, node_mlp in zip(self.edge_steps, self.node_steps):
            e = e + edge_mlp(torch.cat([e, h[edges[0]], h[edges[1]]], -1))
            messages = torch.zeros_like(h).index_add_(0, edges[1], e)
            h = h + node_mlp(torch.cat([h, messages], -1))
        return self.decode(h).reshape(g, n, d)

    def loss(self, window: torch.Tensor, target: torch.Tensor, noise: float = 0.0,
             movers: torch.Tensor | None = None, action: torch.Tensor | None = None) -> torch.Tensor:
        """MSE of normalized acceleration; `noise` (in velocity-std units) perturbs the history as
        a random walk. As in the paper, the target moves with the last noisy position, so the model
        learns to correct noisy velocities rather than to snap positions back."""
        if noise > 0:
            steps = torch.randn_like(window[:, :, 1:]) * noise * self.vel_std / window.shape[2] ** 0.5
            walk = torch.cat([torch.zeros_like(window[:, :, :1]), steps.cumsum(2)], 2)
            window = window + walk
            target = target + walk[:, :, -1:]  # keep the next position fixed relative to the noisy history
        acc = target[:, :, 0] - 2 * window[:, :, -1] + window[:, :, -2]
        return torch.mean((self(window, movers, action) - (acc - self.acc_mean) / self.acc_std) ** 2)

    def step(self, window: torch.Tensor, movers: torch.Tensor | None = None,
             action: torch.Tensor | None = None) -> torch.Tensor:
        """Next positions (G, N, D): semi-implicit Euler with the predicted acceleration."""
        acc = self(window, movers, action) * self.acc_std + self.acc_mean
        vel = window[:, :, -1] - window[:, :, -2] + acc
        return window[:, :, -1] + vel


def windows(positions: torch.Tensor, history: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All (history+1)-frame input windows and their next frame from trajectories (G, N, T, D):
    windows (W, N, history+1, D), targets (W, N, 1, D)."""
    t = positions.shape[2]
    idx = torch.arange(history + 1)[None] + torch.arange(t - history - 1)[:, None]
    win = positions[:, :, idx].permute(0, 2, 1, 3, 4).reshape(-1, positions.shape[1], history + 1,
                                                               positions.shape[-1])
    nxt = positions[:, :, history + 1:].permute(0, 2, 1, 3).reshape(-1, positions.shape[1], 1,
                                                                   positions.shape[-1])
    return win, nxt


class ParticlePredictor:
    """The numpy predictor interface of factory.model.particle_evaluate over a trained model."""

    name = "model"

    def __init__(self, model: ParticleModel, device: str = "cpu"):
        self.model, self.device = model.eval().to(device), device

    @torch.no_grad()
    def predict(self, window: np.ndarray, movers: np.ndarray, action: np.ndarray) -> np.ndarray:
        t = [torch.as_tensor(np.asarray(a), dtype=torch.float32, device=self.device) for a in (window, movers, action)]
        return self.model.step(*t).cpu().numpy()


def load_checkpoint(path: Path, device: str = "cpu") -> tuple[ParticleModel, dict]:
    ckpt = torch.load(path, map_location=device, weights_only=False)
    model = ParticleModel(**ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device), ckpt
