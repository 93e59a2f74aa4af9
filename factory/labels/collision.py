"""Auto-labels for rigid-body collision episodes: pure functions of states and contacts.

Nothing here touches an engine or a file, so every label can be tested on hand-made arrays.
Labels are computed for a whole batch of episodes at once (`batch_*`; contacts of every episode
in one `Contacts` with an episode index per row): per-episode numpy calls on a few hundred
contacts cost more in call overhead than in arithmetic. `step_labels` and `episode_labels` are the
same functions for one episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from factory.contract.rollout import Contacts, Layout
from factory.labels.pose import pose_labels
from factory.labels.strike import strike_labels
from factory.names import (
    CAME_TO_REST,
    FIRST_CONTACT,
    FRICTION_COS,
    IMPACTS,
    LEFT_SUPPORT,
    LEFT_SUPPORT_STEP,
    MAX_SPEED,
    REST_STEP,
    TOUCHED,
    body_label,
    pair_label,
)

Labels = dict[str, float | int | bool]


@dataclass(frozen=True)
class LabelContext:
    """The few scene facts labels need besides the arrays."""

    layout: Layout
    fixed: frozenset[str]  # objects welded to the world
    ground_height: float
    ground_size: tuple[float, ...] | None  # table top extent (x, y), None for an infinite plane
    rest_speed: float
    min_impact_force: float
    striker: str | None = None  # a struck ball whose strike labels (`labels.strike`) are wanted
    poses: tuple[str, ...] = ()  # free objects whose rest pose is labelled (`labels.pose`): the meshes


def batch_step_labels(contacts: Contacts, episode: np.ndarray, n_episodes: int,
                      transitions: int) -> dict[str, np.ndarray]:
    """Per episode and transition t (state t → t+1): contact points seen at t+1 and the strongest force.

    `episode` gives each contact row's episode in 0..n_episodes-1; each label is (n_episodes, transitions).
    """
    idx = episode * transitions + contacts.step - 1
    size = n_episodes * transitions
    n_contacts = np.bincount(idx, minlength=size).astype(np.int16)
    max_force = np.zeros(size, np.float32)
    np.maximum.at(max_force, idx, contacts.force.astype(np.float32))
    return {"n_contacts": n_contacts.reshape(n_episodes, transitions),
            "max_contact_force": max_force.reshape(n_episodes, transitions)}


def pair_contacts(contacts: Contacts, episode: np.ndarray, n_episodes: int, min_force: float,
                  n_bodies: int) -> tuple[np.ndarray, np.ndarray]:
    """First recorded step (-1 if never) and number of impacts of every body pair in every episode.

    Only contacts at or above `min_force` count. Both arrays are (n_episodes, n_bodies, n_bodies),
    filled at [e, a, b] for a < b whichever order the engine reported the pair in. An impact is a
    separate contact spell: touching at steps 3, 4, 7 is two impacts.
    """
    keep = contacts.force >= min_force
    a, b = contacts.body_a[keep].astype(np.int64), contacts.body_b[keep].astype(np.int64)
    n_pairs = n_bodies * n_bodies
    group = episode[keep].astype(np.int64) * n_pairs + np.minimum(a, b) * n_bodies + np.maximum(a, b)
    span = int(contacts.step.max(initial=0)) + 2  # > any step + 1, so spells never join across groups
    group, step = np.divmod(_sorted_unique(group * span + contacts.step[keep]), span)
    starts = np.ones(len(group), bool)
    starts[1:] = group[1:] != group[:-1]
    onset = starts.copy()
    onset[1:] |= step[1:] - step[:-1] > 1
    first = np.full(n_episodes * n_pairs, -1, np.int64)
    first[group[starts]] = step[starts]
    impacts = np.bincount(group[onset], minlength=n_episodes * n_pairs)
    shape = (n_episodes, n_bodies, n_bodies)
    return first.reshape(shape), impacts.reshape(shape)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique's values, sorted, each once, by a sort: numpy 2.4's np.unique goes through a hash
    table first, much slower on a shard's contact keys."""
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if len(values) else values


def rest_step(speeds: np.ndarray, rest_speed: float) -> int | np.ndarray:
    """First state index from which every body stays below `rest_speed`; -1 if never.

    `speeds` is (T+1, n_bodies), or (T+1, ..., n_bodies) for many episodes at once (then an array).
    """
    moving = np.asarray((speeds >= rest_speed).any(axis=-1))
    last_moving = len(moving) - 1 - moving[::-1].argmax(axis=0)
    rest = np.where(moving[-1], -1, np.where(moving.any(axis=0), last_moving + 1, 0))
    return int(rest) if rest.ndim == 0 else rest


def left_support_step(pos: np.ndarray, ctx: LabelContext) -> int | np.ndarray:
    """First state index at which a body's centre is off the table top or below the ground; -1 if never.

    `pos` is (T+1, 3) for one body, or (T+1, ..., 3) for many at once (then an array).
    """
    off = pos[..., 2] < ctx.ground_height
    if ctx.ground_size is not None:
        off |= (np.abs(pos[..., :2]) > np.asarray(ctx.ground_size) / 2).any(axis=-1)
    first = np.where(off.any(axis=0), off.argmax(axis=0), -1)
    return int(first) if first.ndim == 0 else first


def friction_cosines(pos: np.ndarray, vel: np.ndarray, ang_vel: np.ndarray, contacts: Contacts, episode: np.ndarray,
                     bodies: list[int], ground: int, rest_speed: float) -> np.ndarray:
    """Per episode and body, the mean cosine between the ground's tangential force on it and its
    velocity, over the contacts at which it slides.

    `pos`, `vel`, `ang_vel` are (n_episodes, T+1, n, 3) for the n `bodies` (indices into
    Layout.bodies); the result is (n_episodes, n). Sliding means the contact point slips,
    v + ω × (contact − centre) at least `rest_speed`: Coulomb friction opposes that slip, so a
    body pushed into a slide reads close to -1, while a ball that rolls (its contact point at rest)
    feels only a small static force of either sign and does not count. Along the motion (> 0) is
    real too: a spinning ball whose contact point slips backwards is driven forwards. NaN for a
    body that never slid on the ground.
    """
    n_episodes, n = vel.shape[0], len(bodies)
    a, b = contacts.body_a.astype(np.int64), contacts.body_b.astype(np.int64)
    column = np.full(max(a.max(initial=0), b.max(initial=0), *bodies) + 1, -1)
    column[bodies] = np.arange(n)
    col = np.where(a == ground, column[b], np.where(b == ground, column[a], -1))  # which of `bodies` the ground touches
    hit = np.flatnonzero(col >= 0)
    col, step, ep = col[hit], contacts.step[hit], episode[hit]
    force = np.where(a[hit] == ground, -1.0, 1.0)[:, None] * contacts.force_on_a[hit]  # on the body, not the ground
    normal = contacts.normal[hit]
    tangential = force - _dot(force, normal)[:, None] * normal
    v = vel[ep, step, col]
    slip = v + np.cross(ang_vel[ep, step, col], contacts.position[hit] - pos[ep, step, col])
    v_t = v - _dot(v, normal)[:, None] * normal
    slip_t = slip - _dot(slip, normal)[:, None] * normal
    speed, f_norm = np.sqrt(_dot(v_t, v_t)), np.sqrt(_dot(tangential, tangential))
    sliding = (speed >= rest_speed) & (np.sqrt(_dot(slip_t, slip_t)) >= rest_speed) & (f_norm > 1e-6)
    cos = _dot(tangential[sliding], v_t[sliding]) / (f_norm[sliding] * speed[sliding])
    group = (ep * n + col)[sliding]
    count = np.bincount(group, minlength=n_episodes * n)
    total = np.bincount(group, weights=cos, minlength=n_episodes * n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total / count).reshape(n_episodes, n)  # 0/0 = NaN: never slid


def _dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise dot product of (m, 3) arrays (einsum: a sum over an axis of 3 is slow in numpy)."""
    return np.einsum("ij,ij->i", x, y)


def batch_episode_labels(states: np.ndarray, contacts: Contacts, episode: np.ndarray,
                         ctx: LabelContext) -> list[Labels]:
    """Outcome labels of each episode of a batch, flat and named `label__body[__body]`.

    `states` is (n_episodes, T+1, state_size); `episode` gives each contact row's episode.
    """
    layout = ctx.layout
    n_episodes = len(states)
    first, impacts = pair_contacts(contacts, episode, n_episodes, ctx.min_impact_force, len(layout.bodies))
    columns: dict[str, list] = {}
    for a, b in combinations(range(len(layout.bodies)), 2):
        pair = layout.bodies[a], layout.bodies[b]
        columns[pair_label(TOUCHED, *pair)] = (first[:, a, b] >= 0).tolist()
        columns[pair_label(FIRST_CONTACT, *pair)] = first[:, a, b].tolist()
        columns[pair_label(IMPACTS, *pair)] = impacts[:, a, b].tolist()
    moving = [i for i, o in enumerate(layout.objects) if o not in ctx.fixed]
    # (E, T+1, m, 3) each
    pos, vel, ang_vel = (layout.fields(states, name)[:, :, moving] for name in ("pos", "vel", "ang_vel"))
    speeds = np.linalg.norm(vel, axis=-1)
    rest = np.asarray(rest_step(speeds.swapaxes(0, 1), ctx.rest_speed))
    columns[CAME_TO_REST] = (rest >= 0).tolist()
    columns[REST_STEP] = rest.tolist()
    if "ground" in layout.bodies:
        left = np.asarray(left_support_step(pos.swapaxes(0, 1), ctx))
        bodies = [layout.bodies.index(layout.objects[i]) for i in moving]
        friction = friction_cosines(pos, vel, ang_vel, contacts, episode, bodies, layout.bodies.index("ground"),
                                    ctx.rest_speed)
    else:
        left, friction = np.full((n_episodes, len(moving)), -1), np.full((n_episodes, len(moving)), np.nan)
    max_speed = speeds.max(axis=1)
    for j, i in enumerate(moving):
        obj = layout.objects[i]
        columns[body_label(LEFT_SUPPORT, obj)] = (left[:, j] >= 0).tolist()
        columns[body_label(LEFT_SUPPORT_STEP, obj)] = left[:, j].tolist()
        columns[body_label(MAX_SPEED, obj)] = max_speed[:, j].tolist()
        columns[body_label(FRICTION_COS, obj)] = friction[:, j].tolist()
    if ctx.poses:
        columns.update(pose_labels(states, layout, ctx.poses))
    if ctx.striker is not None:
        columns.update(strike_labels(states, first, impacts, layout, ctx.fixed, ctx.striker))
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def step_labels(contacts: Contacts, transitions: int) -> dict[str, np.ndarray]:
    """`batch_step_labels` of one episode: each label is (transitions,)."""
    labels = batch_step_labels(contacts, np.zeros(len(contacts), np.int64), 1, transitions)
    return {name: values[0] for name, values in labels.items()}


def episode_labels(states: np.ndarray, contacts: Contacts, ctx: LabelContext) -> Labels:
    """`batch_episode_labels` of one episode with states (T+1, state_size)."""
    return batch_episode_labels(states[None], contacts, np.zeros(len(contacts), np.int64), ctx)[0]
