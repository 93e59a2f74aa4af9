"""Rigid-body figures of one episode, from its recorded states, actions and contacts: pure functions
over arrays (the energy check itself is `factory.checks.energy_gain`)."""

from __future__ import annotations

import numpy as np

from factory.checks import Body
from factory.contract.rollout import Contacts, Layout

MIN_EXCHANGE = 0.01  # a contact counts when it moves at least this fraction of the pair's momentum


def momentum_residuals(states: np.ndarray, actions: np.ndarray, contacts: Contacts, layout: Layout,
                       bodies: dict[str, Body], fixed: frozenset[str] | set[str],
                       friction: dict[str, float] | None = None, gravity: float = 9.81) -> np.ndarray:
    """|Δ(p_a + p_b)| / max(|Δp_a|, |Δp_b|) along the horizontal part of the contact normal, over each
    unpushed transition in which two free objects, touching no third one at either end of it, come
    into contact (an impact; a sustained push only trades momentum with the ground's friction): ≈0 when
    the contact conserves the pair's momentum. Horizontal, because the ground's normal force is
    vertical; what the ground's friction can take over one transition (μ·m·g·Δt per body, `friction`
    giving each body's μ against the ground) is not counted. Contacts whose normal is mostly vertical
    (one body resting on the other) say nothing about the exchange and are skipped."""
    free = {layout.bodies.index(n) for n in layout.objects if n not in fixed}
    objects = {layout.bodies.index(n) for n in layout.objects}
    pairs_at = object_pairs(contacts, objects)
    out = []
    for k in sorted(pairs_at):
        if k < 1 or k >= len(states) or np.any(actions[k - 1] != 0):
            continue
        for a, b in pairs_at[k]:
            # any other object touching either at either end of the transition may have shared the exchange
            before = pairs_at.get(k - 1, set())
            near = pairs_at[k] | before
            if (a, b) in before or not {a, b} <= free or \
                    {x for p in near if p != (a, b) and {a, b} & set(p) for x in p} - {a, b}:
                continue
            low, high = np.minimum(contacts.body_a, contacts.body_b), np.maximum(contacts.body_a, contacts.body_b)
            normal = contacts.normal[(contacts.step == k) & (low == a) & (high == b)].mean(0)[:2]
            if np.linalg.norm(normal) < 0.5:
                continue
            normal = normal / np.linalg.norm(normal)
            vel = [layout.field(states[k - 1:k + 1], layout.bodies[i], "vel")[:, :2] @ normal for i in (a, b)]
            mass = [bodies[layout.bodies[i]].mass for i in (a, b)]
            dp = [m * (v[1] - v[0]) for m, v in zip(mass, vel, strict=True)]
            exchange = max(abs(dp[0]), abs(dp[1]))
            budget = sum((friction or {}).get(layout.bodies[i], 0.0) * m for i, m in zip((a, b), mass, strict=True))
            budget *= gravity * layout.record_dt
            if exchange > MIN_EXCHANGE * max(mass[0] * abs(vel[0][0]) + mass[1] * abs(vel[1][0]), 1e-9):
                out.append(max(abs(dp[0] + dp[1]) - budget, 0.0) / exchange)
    return np.asarray(out, np.float64)


def object_pairs(contacts: Contacts, objects: set[int]) -> dict[int, set[tuple[int, int]]]:
    """The pairs of objects (body indices, sorted; the ground left out) in contact at each recorded state."""
    out: dict[int, set[tuple[int, int]]] = {}
    for k, a, b in zip(contacts.step.tolist(), contacts.body_a.tolist(), contacts.body_b.tolist(), strict=True):
        if a in objects and b in objects:
            out.setdefault(k, set()).add((min(a, b), max(a, b)))
    return out
