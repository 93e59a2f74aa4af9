"""Rigid scenes as graphs: bodies (the ground or table first, then the objects) are nodes, every
ordered pair of bodies is an edge.

Per-episode node features come from the episode's parameters (shape, half-extents, mass,
friction, fixed); per-state features from the state. Edges carry the sender's position, velocity
and orientation relative to the receiver, also in the receiver's own frame. The ground enters as
a body whose position, seen from another body, is the nearest point of the table top under it,
so "how far to the table's edge" and "how high above it" are edge features like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from factory.checks import bodies_for
from factory.model.graph import Graph, complete_edges
from factory.model.kinematics import quat_to_matrix
from factory.rollout import STATE_PER_OBJECT

SHAPES = ("ground", "sphere", "box", "cylinder")
STATIC_SIZE = len(SHAPES) + 3 + 3  # one-hot shape, half-extents, (log mass, friction, fixed)
DYNAMIC_SIZE = 3 + 3 + 9 + 1 + 3  # vel, ang_vel, rotation, height above ground, push Δv
EDGE_SIZE = 3 + 1 + 3 + 3 + 3 + 9  # offset, distance, offset in receiver frame, rel. vel (world, frame), rel. rotation
NO_TABLE = 1e3  # half-extent standing in for an infinite plane


@dataclass(frozen=True)
class Scene:
    """What the graph needs of a recipe's scene besides the episode's parameters."""

    objects: tuple[str, ...]
    ground: bool
    ground_height: float
    ground_half: tuple[float, float]

    @classmethod
    def of(cls, recipe: dict, objects: tuple[str, ...]) -> "Scene":
        ground = recipe["scene"].get("ground")
        size = (ground or {}).get("size")
        half = (size[0] / 2, size[1] / 2) if size else (NO_TABLE, NO_TABLE)
        return cls(tuple(objects), ground is not None, float((ground or {}).get("height", 0.0)), half)

    @property
    def n_nodes(self) -> int:
        return len(self.objects) + self.ground


def static_features(recipe: dict, params: dict[str, float], scene: Scene) -> np.ndarray:
    """(n_nodes, STATIC_SIZE) for one episode; the masses (kg) of the objects follow in column -3 as log."""
    fixed = {o["name"] for o in recipe["scene"]["objects"] if o.get("fixed")}
    bodies = bodies_for(recipe, params)
    rows = []
    if scene.ground:
        half = [min(h, NO_TABLE) for h in scene.ground_half]
        rows.append(_row("ground", (*half, 0.0), 0.0, params.get("ground.friction", 0.5), True))
    for name in scene.objects:
        b = bodies[name]
        half = ((b.dims[0],) * 3 if b.shape == "sphere" else tuple(d / 2 for d in b.dims) if b.shape == "box"
                else (b.dims[0], b.dims[0], b.dims[1] / 2))
        rows.append(_row(b.shape, half, np.log(b.mass), params.get(f"{name}.friction", 0.5), name in fixed))
    return np.asarray(rows, np.float32)


def _row(shape: str, half: tuple[float, ...], log_mass: float, friction: float, fixed: bool) -> list[float]:
    return [float(shape == s) for s in SHAPES] + list(half) + [log_mass, friction, float(fixed)]


def scene_edges(scene: Scene) -> tuple[torch.Tensor, torch.Tensor]:
    """Every ordered pair of bodies, except into the ground: nothing is predicted for it."""
    senders, receivers = complete_edges(scene.n_nodes)
    keep = receivers >= int(scene.ground)
    return senders[keep], receivers[keep]


def object_static(static: torch.Tensor, scene: Scene) -> torch.Tensor:
    """The objects' rows of static features (…, n_objects, STATIC_SIZE)."""
    return static[..., int(scene.ground):, :]


def body_graph(state: torch.Tensor, action: torch.Tensor, static: torch.Tensor, scene: Scene) -> Graph:
    """Raw (unnormalized) graph of states (B, S), actions (B, A) and static features (B, N, F)."""
    b, n_obj = state.shape[0], len(scene.objects)
    s = state.reshape(b, n_obj, STATE_PER_OBJECT)
    pos, quat, vel, omega = s[..., 0:3], s[..., 3:7], s[..., 7:10], s[..., 10:13]
    rot = quat_to_matrix(quat)  # (B, O, 3, 3)
    mass = object_static(static, scene)[..., -3].exp()
    push = action.reshape(b, n_obj, 3) / mass[..., None] if action.shape[-1] == 3 * n_obj else vel * 0
    height = pos[..., 2:3] - scene.ground_height
    dynamic = torch.cat([vel, omega, rot.flatten(-2), height, push], -1)
    senders, receivers = (x.to(state.device) for x in scene_edges(scene))
    if scene.ground:
        dynamic = torch.cat([dynamic.new_zeros(b, 1, DYNAMIC_SIZE), dynamic], 1)
        eye = torch.eye(3, device=state.device).expand(b, 1, 3, 3)
        pos, vel, rot = (torch.cat([z, x], 1) for z, x in ((pos[:, :1] * 0, pos), (vel[:, :1] * 0, vel),
                                                             (eye, rot)))
    p_s, p_r = pos.index_select(1, senders), pos.index_select(1, receivers)
    if scene.ground:  # the ground, seen from the other body of the edge, is the table point under it
        half = torch.tensor(scene.ground_half, device=state.device)
        under = lambda p: torch.cat([torch.maximum(torch.minimum(p[..., :2], half), -half),  # noqa: E731
                                     torch.full_like(p[..., 2:], scene.ground_height)], -1)
        p_s = torch.where((senders == 0)[:, None], under(p_r), p_s)
    offset = p_s - p_r
    rel_vel = vel.index_select(1, senders) - vel.index_select(1, receivers)
    r_s, r_r = rot.index_select(1, senders), rot.index_select(1, receivers)
    to_receiver = r_r.transpose(-1, -2)
    edges = torch.cat([offset, offset.norm(dim=-1, keepdim=True), (to_receiver @ offset[..., None])[..., 0], rel_vel,
                       (to_receiver @ rel_vel[..., None])[..., 0], (to_receiver @ r_s).flatten(-2)], -1)
    return Graph(torch.cat([static, dynamic], -1), edges, senders, receivers)
