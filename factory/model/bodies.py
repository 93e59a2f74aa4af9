"""Rigid scenes as graphs: bodies (the ground or table first, then the objects) are nodes, every
ordered pair of bodies is an edge.

Per-episode node features come from the episode's parameters (shape, half-extents, mass,
friction, fixed; a mesh body enters as the box about its centre of mass that holds it); per-state
features from the state. Edges carry the sender's position, velocity and orientation relative to the
receiver, also in the receiver's own frame, and what contact needs:
the gap between the two surfaces (from each shape's reach along the line of centres) now and one
interval ahead, the closing speed, and for the ground the margin to the table's edge. A collision
inside the next interval, or a ball crossing the table's edge, shows in these look-ahead features,
which the offsets alone leave the network to learn from few examples. The ground enters as
a body whose position, seen from another body, is the nearest point of the table top under it,
so "how far to the table's edge" and "how high above it" are edge features like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from factory.checks import bodies_for
from factory.contract.rollout import STATE_PER_OBJECT
from factory.model.graph import Graph, complete_edges
from factory.model.kinematics import quat_to_matrix

SHAPES = ("ground", "sphere", "box", "cylinder")
STATIC_SIZE = len(SHAPES) + 3 + 3  # one-hot shape, half-extents, (log mass, friction, fixed)
DYNAMIC_SIZE = 3 + 3 + 9 + 1 + 3  # vel, ang_vel, rotation, height above ground, push Δv
# offset, distance, offset in receiver frame, rel. vel (world, frame), rel. rotation, contact: the gap now and one
# interval ahead, closing speed, and (ground edges) the margin to the table's edge now and ahead
EDGE_SIZE = 3 + 1 + 3 + 3 + 3 + 9 + 3 + 2
GAP_CLIP = (-1.0, 2.0)  # gaps beyond two pair sizes look alike: contact is what these features are for
NO_TABLE = 1e3  # half-extent standing in for an infinite plane


@dataclass(frozen=True)
class Scene:
    """What the graph needs of a recipe's scene besides the episode's parameters."""

    objects: tuple[str, ...]
    ground: bool
    ground_height: float
    ground_half: tuple[float, float]

    @classmethod
    def of(cls, recipe: dict, objects: tuple[str, ...]) -> Scene:
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
        ground_half = [min(h, NO_TABLE) for h in scene.ground_half]
        rows.append(_row("ground", (*ground_half, 0.0), 0.0, params.get("ground.friction", 0.5), True))
    for name in scene.objects:
        b = bodies[name]  # a mesh enters as the box about its centre that holds it
        shape = "box" if b.shape == "mesh" else b.shape
        rows.append(_row(shape, b.half, np.log(b.mass), params.get(f"{name}.friction", 0.5), name in fixed))
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


def support(static: torch.Tensor, rot: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """How far each body reaches from its centre along unit directions u (..., 3): a sphere its radius,
    a box Σ|u·axis|·half, a cylinder its radius across and half-height along its axis; the ground 0
    (its point on an edge is already on the table top)."""
    shape, half = static[..., :len(SHAPES)], static[..., len(SHAPES):len(SHAPES) + 3]
    local = (rot.transpose(-1, -2) @ u[..., None])[..., 0].abs()
    along = local[..., 2].clamp(max=1.0)
    cylinder = half[..., 0] * (1 - along ** 2).clamp_min(1e-12).sqrt() + half[..., 2] * along  # finite gradient upright
    return shape[..., 1] * half[..., 0] + shape[..., 2] * (local * half).sum(-1) + shape[..., 3] * cylinder


def safe_norm(x: torch.Tensor) -> torch.Tensor:
    """|x| (..., 1) with a finite gradient at 0 (a body resting on the table point under it)."""
    return ((x ** 2).sum(-1, keepdim=True) + 1e-12).sqrt()


def gap(static_s: torch.Tensor, static_r: torch.Tensor, rot_s: torch.Tensor, rot_r: torch.Tensor,
        offset: torch.Tensor) -> torch.Tensor:
    """The surfaces' distance along the line of centres over the pair's reach, clipped to GAP_CLIP: 0 in
    contact, negative when overlapping, scale-free so a 1 mm gap between small bodies reads as near."""
    dist = safe_norm(offset)
    u = offset / dist
    reach = (support(static_s, rot_s, u) + support(static_r, rot_r, u))[..., None].clamp_min(1e-6)
    return ((dist - reach) / reach).clamp(*GAP_CLIP)


def body_graph(state: torch.Tensor, action: torch.Tensor, static: torch.Tensor, scene: Scene, dt: float) -> Graph:
    """Raw (unnormalized) graph of states (B, S), actions (B, A) and static features (B, N, F); dt is the
    recorded interval (for the contact features' look-ahead, with each push's J/m already applied)."""
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
    # one interval ahead at the current velocities plus each push's J/m: a collision, or a ball passing
    # the table's edge, within the next interval shows in these look-ahead features
    ahead = pos + (vel + dynamic[..., -3:]) * dt
    a_s, a_r = ahead.index_select(1, senders), ahead.index_select(1, receivers)
    margin = torch.zeros_like(offset[..., :2])
    if scene.ground:
        a_s = torch.where((senders == 0)[:, None], under(a_r), a_s)
        margin = torch.stack([(half - p[..., :2].abs()).amin(-1) for p in (p_r, a_r)], -1)
        margin = torch.where((senders == 0)[:, None], margin, torch.zeros_like(margin))
    r_s, r_r = rot.index_select(1, senders), rot.index_select(1, receivers)
    st_s, st_r = static.index_select(1, senders), static.index_select(1, receivers)
    reach = support(st_r, r_r, torch.ones_like(offset) / 3 ** 0.5)[..., None].clamp_min(1e-6)
    closing = -(rel_vel * offset).sum(-1, keepdim=True) / safe_norm(offset)
    to_receiver = r_r.transpose(-1, -2)
    edges = torch.cat([offset, offset.norm(dim=-1, keepdim=True), (to_receiver @ offset[..., None])[..., 0], rel_vel,
                       (to_receiver @ rel_vel[..., None])[..., 0], (to_receiver @ r_s).flatten(-2),
                       gap(st_s, st_r, r_s, r_r, offset), gap(st_s, st_r, r_s, r_r, a_s - a_r), closing,
                       (margin / reach).clamp(*GAP_CLIP)], -1)
    return Graph(torch.cat([static, dynamic], -1), edges, senders, receivers)
