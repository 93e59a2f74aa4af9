"""Constant-velocity kinematics in torch: the physics prior the rigid model corrects.

Both the constant-velocity baseline and the model's target use this one function, so "the model
beats constant velocity" compares a learned correction against exactly the prior it starts from.
"""

from __future__ import annotations

import torch

from factory.contract.rollout import STATE_PER_OBJECT, Layout


def integrate_quat(q: torch.Tensor, omega: torch.Tensor, dt: float) -> torch.Tensor:
    """Rotate unit quaternions (w, x, y, z) by a world-frame angular velocity held for dt."""
    speed = omega.norm(dim=-1, keepdim=True)
    half = speed * dt / 2
    axis = omega / speed.clamp_min(1e-12)
    dw, dv = torch.cos(half), axis * torch.sin(half)
    w, v = q[..., :1], q[..., 1:]
    new_w = dw * w - (dv * v).sum(-1, keepdim=True)
    new_v = dw * v + w * dv + torch.linalg.cross(dv, v)
    return torch.cat([new_w, new_v], -1)


def constant_velocity(state: torch.Tensor, dt: float) -> torch.Tensor:
    """Every body keeps its linear and angular velocity for dt: (..., n_objects * 13)."""
    s = state.reshape(*state.shape[:-1], -1, STATE_PER_OBJECT)
    pos, quat, vel, omega = s[..., 0:3], s[..., 3:7], s[..., 7:10], s[..., 10:13]
    out = torch.cat([pos + vel * dt, integrate_quat(quat, omega, dt), vel, omega], -1)
    return out.reshape(state.shape)


def constant_velocity_of(state: torch.Tensor, layout: Layout) -> torch.Tensor:
    """`constant_velocity` over a layout's state: objects keep their velocities, robots' joints their
    joint velocities (q += dq·dt); a tool pose stays where it is."""
    if not layout.robots:
        return constant_velocity(state, layout.record_dt)
    split = STATE_PER_OBJECT * len(layout.objects)
    out = torch.cat([constant_velocity(state[..., :split], layout.record_dt), state[..., split:]], -1)
    for block in layout.robots:
        start, _ = layout.robot_span(block.name)
        n = len(block.joints)
        out[..., start:start + n] += state[..., start + n:start + 2 * n] * layout.record_dt
    return out


def quat_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """Unit quaternions (..., 4) as (w, x, y, z) → rotation matrices (..., 3, 3), body to world."""
    q = q / q.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    w, x, y, z = q.unbind(-1)
    return torch.stack([
        torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        torch.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        torch.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], -2)
