"""Rigid-body figures of one episode, from its recorded states, actions and contacts: pure functions
over arrays (the energy check itself is `factory.checks.energy_gain`)."""

from __future__ import annotations

import numpy as np

from factory.checks import Body
from factory.contract.rollout import Contacts, Layout

MIN_EXCHANGE = 0.01  # a contact counts when it moves at least this fraction of the pair's momentum


def momentum_residuals(states: np.ndarray, actions: np.ndarray, contacts: Contacts, layout: Layout,
                       bodies: dict[str, Body], fixed: frozenset[str] | set[str]) -> np.ndarray:
    """|Δ(p_a + p_b)| / max(|Δp_a|, |Δp_b|) along the horizontal part of the contact normal, over each
    unpushed transition that ends in a contact between two free objects touching no third one: ≈0 when
    the contact conserves the pair's momentum. Horizontal, because the ground's normal force is
    vertical; the ground's friction over one transition is what remains. Contacts whose normal is mostly
    vertical (one body resting on the other) say nothing about the exchange and are skipped."""
    free = {layout.bodies.index(n) for n in layout.objects if n not in fixed}
    objects = {layout.bodies.index(n) for n in layout.objects}
    out = []
    for k in np.unique(contacts.step):
        if k < 1 or k >= len(states) or np.any(actions[k - 1] != 0):
            continue
        here = contacts.step == k
        pairs = {tuple(sorted(p)) for p in zip(contacts.body_a[here].tolist(), contacts.body_b[here].tolist(),
                                               strict=True) if set(p) <= objects}
        for a, b in pairs:
            low, high = np.minimum(contacts.body_a, contacts.body_b), np.maximum(contacts.body_a, contacts.body_b)
            rows = here & (low == a) & (high == b)
            normal = contacts.normal[rows].mean(0)[:2]
            if np.linalg.norm(normal) < 0.5:
                continue
            normal = normal / np.linalg.norm(normal)
            others = {x for p in pairs if p != (a, b) and ({a, b} & set(p)) for x in p} - {a, b}
            if not {a, b} <= free or others:
                continue
            vel = [layout.field(states[k - 1:k + 1], layout.bodies[i], "vel")[:, :2] @ normal for i in (a, b)]
            mass = [bodies[layout.bodies[i]].mass for i in (a, b)]
            dp = [m * (v[1] - v[0]) for m, v in zip(mass, vel, strict=True)]
            exchange = max(abs(dp[0]), abs(dp[1]))
            if exchange > MIN_EXCHANGE * max(mass[0] * abs(vel[0][0]) + mass[1] * abs(vel[1][0]), 1e-9):
                out.append(abs(dp[0] + dp[1]) / exchange)
    return np.asarray(out, np.float64)
