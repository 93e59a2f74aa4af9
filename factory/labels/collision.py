"""Auto-labels for rigid-body collision episodes: pure functions of states and contacts.

Nothing here touches an engine or a file, so every label can be tested on hand-made arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from factory.rollout import Contacts, Layout


@dataclass(frozen=True)
class LabelContext:
    """The few scene facts labels need besides the arrays."""

    layout: Layout
    fixed: frozenset[str]  # objects welded to the world
    ground_height: float
    ground_size: tuple[float, float] | None  # table top extent, None for an infinite plane
    rest_speed: float
    min_impact_force: float


def step_labels(contacts: Contacts, transitions: int) -> dict[str, np.ndarray]:
    """Per transition t (state t → t+1): contact points seen at t+1 and the strongest force."""
    n_contacts = np.zeros(transitions, np.int16)
    max_force = np.zeros(transitions, np.float32)
    if len(contacts):
        idx = contacts.step - 1
        np.add.at(n_contacts, idx, 1)
        np.maximum.at(max_force, idx, contacts.force.astype(np.float32))
    return {"n_contacts": n_contacts, "max_contact_force": max_force}


class _Strong:
    """Contacts at or above the impact threshold, keyed by unordered body pair, computed once per episode."""

    def __init__(self, contacts: Contacts, min_force: float, n_bodies: int):
        keep = contacts.force >= min_force
        a, b = contacts.body_a[keep].astype(np.int64), contacts.body_b[keep].astype(np.int64)
        self.n = n_bodies
        self.key = np.minimum(a, b) * n_bodies + np.maximum(a, b)
        self.step = contacts.step[keep]

    def steps(self, a: int, b: int) -> np.ndarray:
        """Sorted unique recorded steps at which bodies a and b touch (either order)."""
        return np.unique(self.step[self.key == min(a, b) * self.n + max(a, b)])


def contact_onsets(steps: np.ndarray) -> int:
    """Number of separate contact spells in a sorted step list: each new spell is one impact."""
    if len(steps) == 0:
        return 0
    return int(1 + np.count_nonzero(np.diff(steps) > 1))


def rest_step(speeds: np.ndarray, rest_speed: float) -> int:
    """First state index from which every body stays below `rest_speed`; -1 if never.

    `speeds` is (T+1, n_bodies).
    """
    moving = (speeds >= rest_speed).any(axis=1)
    if moving[-1]:
        return -1
    last_moving = np.flatnonzero(moving)
    return int(last_moving[-1] + 1) if len(last_moving) else 0


def left_support_step(pos: np.ndarray, ctx: LabelContext) -> int:
    """First state index at which a body's centre is off the table top or below the ground; -1 if never."""
    off = pos[:, 2] < ctx.ground_height
    if ctx.ground_size is not None:
        half = np.asarray(ctx.ground_size) / 2
        off |= (np.abs(pos[:, :2]) > half).any(axis=1)
    hits = np.flatnonzero(off)
    return int(hits[0]) if len(hits) else -1


def friction_cosine(vel: np.ndarray, contacts: Contacts, body: int, ground: int, rest_speed: float) -> float:
    """Mean cosine between the ground's tangential force on a sliding body and its velocity.

    Coulomb friction opposes sliding, so this should be close to -1; NaN when the body never slid.
    """
    mask = ((contacts.body_a == body) & (contacts.body_b == ground)) | (
        (contacts.body_b == body) & (contacts.body_a == ground))
    if not mask.any():
        return float("nan")
    sign = np.where(contacts.body_a[mask] == body, 1.0, -1.0)[:, None]
    force = contacts.force_on_a[mask] * sign
    normal = contacts.normal[mask]
    tangential = force - (force * normal).sum(-1, keepdims=True) * normal
    v = vel[contacts.step[mask]]
    v_t = v - (v * normal).sum(-1, keepdims=True) * normal
    speed, f_norm = np.linalg.norm(v_t, axis=-1), np.linalg.norm(tangential, axis=-1)
    sliding = (speed >= rest_speed) & (f_norm > 1e-6)
    if not sliding.any():
        return float("nan")
    cos = (tangential[sliding] * v_t[sliding]).sum(-1) / (f_norm[sliding] * speed[sliding])
    return float(cos.mean())


def episode_labels(states: np.ndarray, contacts: Contacts, ctx: LabelContext) -> dict[str, float | int | bool]:
    """Outcome labels of one episode, flat and named `label__body[__body]`."""
    layout = ctx.layout
    labels: dict[str, float | int | bool] = {}
    strong = _Strong(contacts, ctx.min_impact_force, len(layout.bodies))
    for a, b in combinations(range(len(layout.bodies)), 2):
        name = f"{layout.bodies[a]}__{layout.bodies[b]}"
        steps = strong.steps(a, b)
        labels[f"touched__{name}"] = bool(len(steps))
        labels[f"first_contact__{name}"] = int(steps[0]) if len(steps) else -1
        labels[f"impacts__{name}"] = contact_onsets(steps)
    moving = [o for o in layout.objects if o not in ctx.fixed]
    speeds = np.stack([np.linalg.norm(layout.field(states, o, "vel"), axis=-1) for o in moving], axis=1) \
        if moving else np.zeros((len(states), 1))
    rest = rest_step(speeds, ctx.rest_speed)
    labels["came_to_rest"] = rest >= 0
    labels["rest_step"] = rest
    ground = layout.bodies.index("ground") if "ground" in layout.bodies else None
    for obj in moving:
        pos = layout.field(states, obj, "pos")
        vel = layout.field(states, obj, "vel")
        left = left_support_step(pos, ctx) if ground is not None else -1
        labels[f"left_support__{obj}"] = left >= 0
        labels[f"left_support_step__{obj}"] = left
        labels[f"max_speed__{obj}"] = float(np.linalg.norm(vel, axis=-1).max())
        labels[f"friction_cos__{obj}"] = (
            friction_cosine(vel, contacts, layout.bodies.index(obj), ground, ctx.rest_speed)
            if ground is not None else float("nan"))
    return labels
