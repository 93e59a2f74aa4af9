"""A learned particle simulator for fluids and cloth vertices, after Sanchez-Gonzalez et al. 2020
("Learning to Simulate Complex Physics with Graph Networks"): message passing over a radius graph,
predicting each particle's acceleration, trained with random-walk noise on its input history.

Inputs are position histories (G graphs, N particles, C+1 frames, D dims) and, for recorded scenes,
what drives the points from outside: clipped distances to the walls (tank or ground), the rigid
objects' centres relative to each point with their distance and shape (radius, box size), and the
action (the movers' velocity) as a global feature. Cloth adds its mesh edges (factory.model.mesh)
beside the radius edges, after MeshGraphNets (Pfaff et al. 2021). Predicted points stay inside the
walls, which the engines enforce as hard limits too.
factory.model.particle_data reads them from a dataset; factory.model.particle_train fits the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import nn

from factory.model.graph import EncodeProcessDecode, Graph
from factory.model.mesh import mesh_edges
from factory.model.particle_data import SHAPE_KEYS

SHAPE_SIZE = len(SHAPE_KEYS)
REST_CLIP = 3.0  # radii: how far into the first state's shape its bounds are told apart


def radius_graph(pos: torch.Tensor, radius: float) -> torch.Tensor:
    """Directed edges (2, E) between distinct particles closer than `radius`, for (G, N, D)
    positions; node ids are flat (g * N + i). On the CPU a k-d tree per graph (it finds only the
    close pairs), elsewhere all pairs at once (O(N²) per graph: fine up to a few thousand particles)."""
    _g, n, _ = pos.shape
    if pos.device.type == "cpu":
        found = []
        for k, p in enumerate(pos.detach().numpy()):
            pairs = cKDTree(p).query_pairs(radius, output_type="ndarray")
            found.append(np.concatenate([pairs, pairs[:, ::-1]]).T + k * n)
        return torch.from_numpy(np.concatenate(found, 1) if found else np.zeros((2, 0), np.int64))
    close = torch.cdist(pos, pos) < radius
    close &= ~torch.eye(n, dtype=torch.bool, device=pos.device)
    graph, src, dst = close.nonzero(as_tuple=True)
    return torch.stack([graph * n + src, graph * n + dst])


class ParticleModel(nn.Module):
    """Encode (velocity history, wall distances, movers, action; relative displacements) → process
    (message passing, `factory.model.graph`) → decode (acceleration). Only relative positions enter,
    so predictions are translation invariant, and summed messages make them equivariant to the
    order of the points.

    With `mesh` (cloth, after MeshGraphNets, Pfaff et al. 2021) every edge also carries the two
    points' offset in rest (mesh) space and its length, and the sheet's triangle edges join the
    radius (world) edges, flagged as such: a mesh edge says "these two are tied" however far apart
    the sheet has stretched, a world edge with a long rest offset says "another part of the sheet
    touches here".
    """

    vel_std: torch.Tensor
    acc_mean: torch.Tensor
    acc_std: torch.Tensor
    pos_std: torch.Tensor
    action_mean: torch.Tensor
    action_std: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor
    wall_gap: torch.Tensor
    mover_gap: torch.Tensor

    def __init__(self, dims: int = 3, history: int = 3, radius: float = 0.05, hidden: int = 64,
                 steps: int = 3, movers: int = 0, actions: int = 0,
                 lower: list[float] | None = None, upper: list[float] | None = None, mesh: bool = False,
                 rest_bounds: bool = False):
        super().__init__()
        self.config: dict[str, Any] = {
            "dims": dims, "history": history, "radius": radius, "hidden": hidden, "steps": steps,
            "movers": movers, "actions": actions, "lower": lower, "upper": upper, "mesh": mesh,
            "rest_bounds": rest_bounds}
        self.radius, self.history, self.mesh, self.rest_bounds = radius, history, mesh, rest_bounds
        walls = 2 * dims if lower is not None else 0
        self.net = EncodeProcessDecode(dims * history + 1 + walls + 2 * dims * rest_bounds
                                       + (dims + 1 + SHAPE_SIZE) * movers + actions,
                                       (dims + 1) * (2 if mesh else 1) + mesh, dims, hidden, steps, factored=True)
        self.register_buffer("vel_std", torch.ones(()))
        self.register_buffer("acc_mean", torch.zeros(dims))
        self.register_buffer("acc_std", torch.ones(()))
        self.register_buffer("pos_std", torch.ones(()))
        self.register_buffer("action_mean", torch.zeros(actions))
        self.register_buffer("action_std", torch.ones(actions))
        self.register_buffer("lower", torch.tensor(lower if lower is not None else [0.0] * dims))
        self.register_buffer("upper", torch.tensor(upper if upper is not None else [0.0] * dims))
        self.register_buffer("wall_gap", torch.zeros(2, dims))  # closest recorded approach to lower, upper
        self.register_buffer("mover_gap", torch.zeros(movers))  # … and to each spherical mover's surface

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

    def set_clearance(self, positions: list[torch.Tensor], movers: list[torch.Tensor]) -> None:
        """How close recorded points come to the walls and to spherical movers' surfaces (the
        engines keep a particle radius away), from training trajectories (T, N, D) and their
        movers (T, K, D + SHAPE_SIZE); at most one graph radius, so unseen ranges stay open."""
        d = self.config["dims"]
        if self.config["lower"] is not None:
            low = torch.stack([(p - self.lower).amin((0, 1)) for p in positions]).amin(0)
            high = torch.stack([(self.upper - p).amin((0, 1)) for p in positions]).amin(0)
            self.wall_gap.copy_(torch.stack([low, high]).clamp(0, self.radius))
        if self.config["movers"]:
            gaps = [((p[:, :, None] - m[:, None, :, :d]).norm(dim=-1) - m[:, None, :, d]).amin((0, 1))
                    for p, m in zip(positions, movers, strict=True)]
            self.mover_gap.copy_(torch.stack(gaps).amin(0).clamp(0, self.radius))

    def node_features(self, window: torch.Tensor, movers: torch.Tensor | None = None,
                      action: torch.Tensor | None = None, age: torch.Tensor | None = None,
                      rest: torch.Tensor | None = None) -> torch.Tensor:
        """Per point: normalized velocity history and the share of it that was recorded (`age` (G,):
        recorded steps before the window's last frame; None: all; the first state's history is
        extrapolated, and the first step of a scene, started from rest, differs from any later), then
        (when configured) wall distances clipped at
        one radius, where the point sat in the first state's shape (`rest` (G, N, D): its offsets to
        that shape's bounding box, in radii, clipped at REST_CLIP), movers' centres relative to the
        point, their distance and shape (movers (G, K, D + SHAPE_SIZE): centres, then shapes), all
        in position-std units, and the normalized action.

        The rest offsets are what the first step needs: an SPH liquid starts from a squeezed
        lattice and bursts in its first interval by an amount set by where each particle sits in
        the block (much of constant velocity's one-step error on a dam break), and a sheet's
        border vertices move unlike its inner ones."""
        g, n, _, d = window.shape
        current = window[:, :, -1]
        known = torch.ones(g, device=window.device) if age is None else (age.to(window) / self.history).clamp(0, 1)
        parts = [(window.diff(dim=2) / self.vel_std).reshape(g, n, -1), known[:, None, None].expand(g, n, 1)]
        if self.config["lower"] is not None:
            parts += [((current - self.lower) / self.radius).clamp(0, 1),
                      ((self.upper - current) / self.radius).clamp(0, 1)]
        if self.rest_bounds:
            assert rest is not None
            parts += [((rest - rest.amin(1, keepdim=True)) / self.radius).clamp(0, REST_CLIP),
                      ((rest.amax(1, keepdim=True) - rest) / self.radius).clamp(0, REST_CLIP)]
        if self.config["movers"]:
            assert movers is not None
            rel = (movers[:, None, :, :d] - current[:, :, None]) / self.pos_std
            shape = (movers[:, None, :, d:] / self.pos_std).expand(g, n, -1, -1)
            parts.append(torch.cat([rel, rel.norm(dim=-1, keepdim=True), shape], -1).reshape(g, n, -1))
        if self.config["actions"]:
            assert action is not None
            parts.append(((action - self.action_mean) / self.action_std)[:, None].expand(g, n, -1))
        return torch.cat(parts, -1)

    def graph(self, window: torch.Tensor, movers: torch.Tensor | None = None, action: torch.Tensor | None = None,
              age: torch.Tensor | None = None, rest: torch.Tensor | None = None,
              mesh: torch.Tensor | None = None) -> Graph:
        """The input graph of G scenes as one graph of G·N nodes: radius edges on the current
        positions, plus, with `mesh`, the mesh edges `mesh` (2, E) over flat node ids and every
        edge's rest-space offset from `rest` (G, N, D)."""
        g, n, _, d = window.shape
        current = window[:, :, -1]
        world = radius_graph(current, self.radius)
        edges = world
        if self.mesh:
            assert mesh is not None
            edges = torch.cat([world, mesh.to(world)], 1)
        flat = current.reshape(g * n, d)
        rel = (flat[edges[0]] - flat[edges[1]]) / self.radius
        feats = [rel, rel.norm(dim=-1, keepdim=True)]
        if self.mesh:
            assert rest is not None
            flat_rest = rest.reshape(g * n, d)
            u = (flat_rest[edges[0]] - flat_rest[edges[1]]) / self.radius
            is_mesh = torch.zeros(edges.shape[1], 1, dtype=rel.dtype, device=rel.device)
            is_mesh[world.shape[1]:] = 1
            feats += [u, u.norm(dim=-1, keepdim=True), is_mesh]
        nodes = self.node_features(window, movers, action, age, rest).reshape(g * n, -1)
        return Graph(nodes, torch.cat(feats, -1), edges[0], edges[1])

    def forward(self, window: torch.Tensor, movers: torch.Tensor | None = None, action: torch.Tensor | None = None,
                age: torch.Tensor | None = None, rest: torch.Tensor | None = None,
                mesh: torch.Tensor | None = None) -> torch.Tensor:
        """Normalized acceleration (G, N, D) from a position window (G, N, history+1, D), the
        movers' centres and shapes (G, K, D + SHAPE_SIZE), the action (G, A), the windows' ages (G,)
        and, for a mesh model, rest positions and mesh edges."""
        g, n, _, d = window.shape
        return self.net(self.graph(window, movers, action, age, rest, mesh)).reshape(g, n, d)

    def loss(self, window: torch.Tensor, target: torch.Tensor, noise: float = 0.0,
             movers: torch.Tensor | None = None, action: torch.Tensor | None = None, age: torch.Tensor | None = None,
             rest: torch.Tensor | None = None, mesh: torch.Tensor | None = None,
             weight: torch.Tensor | None = None) -> torch.Tensor:
        """MSE of normalized acceleration (each graph's mean times its `weight` (G,), if given);
        `noise` (in velocity-std units) perturbs the history as a random walk. As in the paper,
        the target moves with the last noisy position, so the model learns to correct noisy
        velocities rather than to snap positions back."""
        if noise > 0:
            steps = torch.randn_like(window[:, :, 1:]) * noise * self.vel_std / window.shape[2] ** 0.5
            walk = torch.cat([torch.zeros_like(window[:, :, :1]), steps.cumsum(2)], 2)
            window = window + walk
            target = target + walk[:, :, -1:]  # keep the next position fixed relative to the noisy history
        acc = target[:, :, 0] - 2 * window[:, :, -1] + window[:, :, -2]
        err = ((self(window, movers, action, age, rest, mesh) - (acc - self.acc_mean) / self.acc_std) ** 2).mean((1, 2))
        return (err * weight).mean() if weight is not None else err.mean()

    def step(self, window: torch.Tensor, movers: torch.Tensor | None = None, action: torch.Tensor | None = None,
             age: torch.Tensor | None = None, rest: torch.Tensor | None = None,
             mesh: torch.Tensor | None = None) -> torch.Tensor:
        """Next positions (G, N, D): semi-implicit Euler with the predicted acceleration, held
        inside the walls (the tank, the ground) and outside spherical movers (where the step
        leaves them), no closer than recorded points came: the engines enforce both as hard limits."""
        acc = self(window, movers, action, age, rest, mesh) * self.acc_std + self.acc_mean
        nxt = 2 * window[:, :, -1] - window[:, :, -2] + acc
        if self.config["lower"] is not None:
            nxt = torch.maximum(torch.minimum(nxt, self.upper - self.wall_gap[1]), self.lower + self.wall_gap[0])
        d = self.config["dims"]
        for k in range(self.config["movers"]):
            assert movers is not None
            centre, radius = movers[:, None, k, :d], movers[:, None, k, d:d + 1]
            away = nxt - centre
            dist = away.norm(dim=-1, keepdim=True).clamp_min(1e-9)
            need = radius + self.mover_gap[k]
            nxt = torch.where((radius > 0) & (dist < need), centre + away / dist * need, nxt)
        return nxt


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
        self._mesh: tuple[bytes, torch.Tensor] | None = None

    @torch.no_grad()
    def predict(self, window: np.ndarray, movers: np.ndarray, action: np.ndarray, age: np.ndarray,
                rest: np.ndarray) -> np.ndarray:
        """`rest` (N, 3): the episode's rest shape, shared by the G windows (all of one episode)."""
        w, m, a, ag = (torch.as_tensor(np.asarray(x), dtype=torch.float32, device=self.device)
                       for x in (window, movers, action, age))
        g, n = window.shape[:2]
        rest_t = torch.as_tensor(rest, dtype=torch.float32, device=self.device).expand(g, n, -1)
        mesh = None
        if self.model.mesh:
            mesh = (self._edges(rest)[:, None] + torch.arange(g, device=self.device)[:, None] * n).reshape(2, -1)
        return self.model.step(w, m, a, ag, rest_t, mesh).cpu().numpy()

    def _edges(self, rest: np.ndarray) -> torch.Tensor:
        """Mesh edges of `rest`, kept while the episode stays the same (a rollout calls once a step)."""
        key = np.ascontiguousarray(rest).tobytes()
        if self._mesh is None or self._mesh[0] != key:
            self._mesh = key, torch.as_tensor(mesh_edges(rest), device=self.device)
        return self._mesh[1]


def load_checkpoint(path: Path, device: str = "cpu") -> tuple[ParticleModel, dict]:
    ckpt = torch.load(path, map_location=device, weights_only=False)
    model = ParticleModel(**ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device), ckpt
