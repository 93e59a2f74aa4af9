"""The certificate's law functions on hand-made arrays (`factory.certify.impacts`, `laws`, `robots`,
`bodies`): impacts told from resting contacts, restitution of a pair and of a ground bounce (gravity
between the states and the contact undone), sliding deceleration and a mesh body's inertia."""

from __future__ import annotations

import numpy as np
import pytest

from factory.certify.impacts import compliance_times, contact_runs, impact_mask
from factory.certify.laws import restitutions, sliding_decelerations
from factory.checks import energies, make_body
from factory.contract.rollout import Contacts, Layout

G = 9.81
LAYOUT = Layout(("a", "b"), ("ground", "a", "b"), 0.01)
BALLS = {"a": make_body("sphere", 1.0, (0.1,)), "b": make_body("sphere", 1.0, (0.1,))}


def states(steps: int) -> np.ndarray:
    out = np.zeros((steps, LAYOUT.state_size), np.float32)
    out[:, 3] = out[:, 16] = 1.0  # unit quaternions
    return out


def contacts(rows: list[tuple[int, int, int, tuple[float, float, float], float]]) -> Contacts:
    """Contacts from (step, body_a, body_b, normal, depth) rows."""
    n = len(rows)
    step, a, b, normal, depth = zip(*rows, strict=True)
    return Contacts(np.array(step, np.int32), np.array(a, np.int16), np.array(b, np.int16),
                    np.zeros((n, 3), np.float32), np.array(normal, np.float32), np.zeros((n, 3), np.float32),
                    np.array(depth, np.float32))


def test_an_impact_is_told_from_resting_contacts():
    """a rests on the ground all along (1 mm deep); b hits a at 2 m/s at state 3, overlapping 2 cm."""
    s = states(8)
    s[:3, 20] = -2.0  # b moves toward a at 2 m/s until the contact
    rows = [(k, 0, 1, (0, 0, 1), 0.001) for k in range(8)] + [(k, 1, 2, (1, 0, 0), 0.02) for k in (3, 4)]
    c = contacts(rows)
    runs = contact_runs(s, c, LAYOUT)
    assert [(r.a, r.b, r.first, r.last) for r in runs] == [(0, 1, 0, 7), (1, 2, 3, 4)]
    assert runs[1].approach == pytest.approx(2.0)
    impact = impact_mask(c, runs, LAYOUT.record_dt)
    assert impact.tolist() == [False] * 8 + [True, True]
    assert compliance_times(c, runs, LAYOUT.record_dt) == pytest.approx([0.01])  # 2 cm at 2 m/s
    assert contact_runs(s, Contacts.empty(), LAYOUT) == []  # an episode in the air


def test_restitution_of_a_pair_is_their_relative_normal_speeds():
    """Equal masses, a at 2 m/s onto b at rest, e = 0.8: a leaves at 0.2, b at 1.8 (no ground here)."""
    layout = Layout(("a", "b"), ("a", "b"), 0.01)
    s = states(4)
    s[:2, 7] = 2.0
    s[2:, 7], s[2:, 20] = 0.2, 1.8
    c = contacts([(1, 0, 1, (1, 0, 0), 0.01)])
    runs = contact_runs(s, c, layout)
    bounces = restitutions(s, np.zeros((3, 6), np.float32), runs, layout, BALLS, set(), lambda a, b: 0.75, G, 0.0)
    assert bounces == [pytest.approx((0.8, 0.75))]
    assert restitutions(s, np.zeros((3, 6), np.float32), runs, layout, BALLS, set(), lambda a, b: None, G, 0.0) == []
    pushed = np.zeros((3, 6), np.float32)
    pushed[0, 0] = 1.0  # a pushed during the bounce: not a clean measurement
    assert restitutions(s, pushed, runs, layout, BALLS, set(), lambda a, b: 0.75, G, 0.0) == []


def test_a_ground_bounce_is_measured_at_the_ground():
    """a, 5 cm above the ground at 3 m/s down before the contact and 5 cm up after it, rising with the
    speed that e = 0.5 leaves it there: gravity's share between the states is undone."""
    s = states(4)
    s[:, 2] = 0.15  # the radius plus 5 cm
    s[:2, 9] = -3.0
    at_ground = np.sqrt(3.0 ** 2 + 2 * G * 0.05)
    s[2:, 9] = np.sqrt((0.5 * at_ground) ** 2 - 2 * G * 0.05)
    c = contacts([(1, 0, 1, (0, 0, 1), 0.001)])
    runs = contact_runs(s, c, LAYOUT)
    bounces = restitutions(s, np.zeros((3, 6), np.float32), runs, LAYOUT, BALLS, set(), lambda a, b: 0.5, G, 0.0)
    assert bounces == [pytest.approx((0.5, 0.5), abs=1e-5)]


def test_sliding_deceleration_is_fitted_over_the_slide():
    """A box touching only the ground slows from 2 m/s at exactly μ·g (μ 0.4) for 20 recorded steps."""
    layout = Layout(("box",), ("ground", "box"), 0.01)
    s = np.zeros((21, layout.state_size), np.float32)
    s[:, 3] = 1.0
    s[:, 7] = 2.0 - 0.4 * G * np.arange(21) * 0.01
    c = contacts([(k, 0, 1, (0, 0, 1), 0.001) for k in range(21)])
    body = {"box": make_body("box", 1.0, (0.2, 0.2, 0.1))}
    runs = contact_runs(s, c, layout)
    slides = sliding_decelerations(s, np.zeros((20, 3), np.float32), runs, layout, body, set(), {"box": 0.4}, G)
    assert slides == [pytest.approx((0.4 * G, 0.4 * G), rel=1e-4)]
    spheres = {"box": make_body("sphere", 1.0, (0.1,))}  # a sphere rolls: no sliding law
    assert sliding_decelerations(s, np.zeros((20, 3), np.float32), runs, layout, spheres, set(), {"box": 0.4}, G) == []


def test_a_mesh_body_weighs_its_spin_by_its_full_inertia_tensor():
    """A body spinning about x at 2 rad/s with a tensor whose x moment is 3 kg·m²: 6 J."""
    from factory.checks import Body

    layout = Layout(("m",), ("m",), 0.01)
    s = np.zeros((1, layout.state_size), np.float32)
    s[0, 3], s[0, 10] = 1.0, 2.0
    body = Body("mesh", 1.0, (0.2, 0.2, 0.2), np.array([[3.0, 0.5, 0], [0.5, 1.0, 0], [0, 0, 1.0]]))
    kinetic, _ = energies(s, layout, {"m": body}, np.zeros(3))
    assert kinetic == pytest.approx([6.0])
