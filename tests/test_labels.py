"""Collision labels on hand-made trajectories whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from factory.contract.rollout import STATE_PER_OBJECT, Contacts, Layout
from factory.labels.collision import (
    LabelContext,
    episode_labels,
    friction_cosines,
    left_support_step,
    pair_contacts,
    rest_step,
    step_labels,
)

LAYOUT = Layout(objects=("a", "b"), bodies=("ground", "a", "b"), record_dt=0.1)


def ctx(**kw) -> LabelContext:
    base = {"layout": LAYOUT, "fixed": frozenset(), "ground_height": 0.0, "ground_size": (2.0, 2.0),
                "rest_speed": 0.05, "min_impact_force": 0.0}
    return LabelContext(**(base | kw))


def contacts(rows: list[tuple[int, int, int, tuple, float]]) -> Contacts:
    """rows of (step, body_a, body_b, normal, force magnitude along -normal on a)."""
    n = len(rows)
    normal = np.array([r[3] for r in rows], np.float32).reshape(n, 3)
    return Contacts(
        step=np.array([r[0] for r in rows], np.int32), body_a=np.array([r[1] for r in rows], np.int16),
        body_b=np.array([r[2] for r in rows], np.int16), position=np.zeros((n, 3), np.float32),
        normal=normal, force_on_a=(-normal * np.array([r[4] for r in rows])[:, None]).astype(np.float32),
        penetration=np.zeros(n, np.float32))


def states(T: int) -> np.ndarray:
    s = np.zeros((T + 1, 2 * STATE_PER_OBJECT), np.float32)
    LAYOUT.field(s, "a", "quat")[:] = [1, 0, 0, 0]
    LAYOUT.field(s, "b", "quat")[:] = [1, 0, 0, 0]
    LAYOUT.field(s, "a", "pos")[:, 2] = 0.1
    LAYOUT.field(s, "b", "pos")[:, 2] = 0.1
    return s


def test_step_labels_count_and_max_force():
    c = contacts([(1, 0, 1, (0, 0, 1), 2.0), (1, 0, 2, (0, 0, 1), 5.0), (3, 1, 2, (1, 0, 0), 1.0)])
    labels = step_labels(c, transitions=4)
    assert labels["n_contacts"].tolist() == [2, 0, 1, 0]
    assert np.allclose(labels["max_contact_force"], [5, 0, 1, 0])


def test_pair_contacts_counts_spells():
    def impacts(steps: list[int]) -> int:
        c = contacts([(k, 2, 1, (1, 0, 0), 1.0) for k in steps])
        first, count = pair_contacts(c, np.zeros(len(c), np.int64), 1, 0.0, 3)
        assert first[0, 1, 2] == (min(steps) if steps else -1)
        return int(count[0, 1, 2])

    assert impacts([]) == 0
    assert impacts([3, 4, 5]) == 1
    assert impacts([8, 3, 4, 7, 12, 3]) == 3  # unsorted, repeated: spells 3-4, 7-8, 12
def test_rest_step():
    speeds = np.array([[1.0], [0.5], [0.01], [0.2], [0.01], [0.0]])
    assert rest_step(speeds, 0.05) == 4
    assert rest_step(np.array([[0.0], [0.0]]), 0.05) == 0
    assert rest_step(np.array([[0.0], [1.0]]), 0.05) == -1


def test_left_support_off_table_edge_and_below():
    pos = np.array([[0, 0, 0.1], [0.9, 0, 0.1], [1.1, 0, 0.1]])
    assert left_support_step(pos, ctx()) == 2
    assert left_support_step(pos, ctx(ground_size=None)) == -1
    assert left_support_step(np.array([[0, 0, 0.1], [0, 0, -0.01]]), ctx(ground_size=None)) == 1


def test_friction_opposes_sliding_not_rolling():
    """Ground (body 0) pushes ball a (body 1, radius 0.1, contact point 0.1 below its centre) up and
    backwards while a moves along +x: sliding, that friction is against the motion; rolling
    (ω = v/r, the contact point at rest) it does not count; spinning fast enough that the contact
    point slips backwards, a forward push is along the motion."""
    vel = np.zeros((3, 3))
    vel[:, 0] = 1.0
    pos = np.zeros((3, 3))
    pos[:, 2] = 0.1
    n = (0, 0, -1)  # normal from a towards the ground... force_on_a is -normal * f = up
    up = contacts([(1, 1, 0, n, 10.0), (2, 1, 0, n, 10.0)])

    def cosine(ang_vel: np.ndarray, friction_x: float, swap: bool = False, v: np.ndarray = vel) -> float:
        c = Contacts(up.step, up.body_a, up.body_b, up.position, up.normal,
                     up.force_on_a + np.array([friction_x, 0, 0], np.float32), up.penetration)
        if swap:  # the same contact seen from the other side (ground as body a)
            c = Contacts(c.step, c.body_b, c.body_a, c.position, -c.normal, -c.force_on_a, c.penetration)
        args = (pos[None, :, None], v[None, :, None], ang_vel[None, :, None])
        return float(friction_cosines(*args, c, np.zeros(len(c), np.int64), [1], 0, 0.05)[0, 0])

    still, rolling, spinning = np.zeros((3, 3)), np.tile([0, 10.0, 0], (3, 1)), np.tile([0, 30.0, 0], (3, 1))
    assert cosine(still, -3.0) == pytest.approx(-1.0)
    assert cosine(still, -3.0, swap=True) == pytest.approx(-1.0)
    assert math.isnan(cosine(rolling, 0.5))  # static friction on a rolling ball: not sliding
    assert cosine(spinning, 3.0) == pytest.approx(1.0)  # its rim moves backwards at 2 m/s: pushed forwards
    assert math.isnan(cosine(still, -3.0, v=np.zeros((3, 3))))


def test_episode_labels_touch_and_first_contact():
    s = states(5)
    LAYOUT.field(s, "a", "vel")[:3, 0] = 1.0  # a moves, then stops at state 3
    c = contacts([(2, 1, 2, (1, 0, 0), 4.0), (3, 1, 2, (1, 0, 0), 2.0), (5, 2, 1, (1, 0, 0), 1.0),
                  (1, 0, 1, (0, 0, 1), 9.8)])
    labels = episode_labels(s, c, ctx())
    assert labels["touched__a__b"] and labels["first_contact__a__b"] == 2
    assert labels["impacts__a__b"] == 2
    assert labels["touched__ground__a"] and not labels["touched__ground__b"]
    assert labels["first_contact__ground__b"] == -1
    assert labels["came_to_rest"] and labels["rest_step"] == 3
    assert labels["max_speed__a"] == pytest.approx(1.0) and labels["max_speed__b"] == 0.0
    assert not labels["left_support__a"]


def test_min_impact_force_filters_grazing_contacts():
    s = states(5)
    c = contacts([(2, 1, 2, (1, 0, 0), 0.001)])
    assert episode_labels(s, c, ctx())["touched__a__b"]
    assert not episode_labels(s, c, ctx(min_impact_force=0.01))["touched__a__b"]


def test_fixed_objects_do_not_block_rest():
    s = states(3)
    LAYOUT.field(s, "b", "vel")[:, 0] = 5.0  # a fixed body's reported velocity is ignored
    assert episode_labels(s, Contacts.empty(), ctx(fixed=frozenset({"b"})))["came_to_rest"]
    assert "max_speed__b" not in episode_labels(s, Contacts.empty(), ctx(fixed=frozenset({"b"})))
