"""Strike (billiards) labels on a hand-made break whose answers are known, and their cross-checks."""

from __future__ import annotations

import numpy as np

from factory import checks
from factory.contract.rollout import STATE_PER_OBJECT, Contacts, Layout
from factory.labels.collision import LabelContext, episode_labels

OBJECTS = ("cue", "b1", "b2", "b3", "rail")
LAYOUT = Layout(objects=OBJECTS, bodies=("ground", *OBJECTS), record_dt=0.1)
CTX = LabelContext(layout=LAYOUT, fixed=frozenset({"rail"}), ground_height=0.0, ground_size=None,
                   rest_speed=0.05, min_impact_force=0.0, striker="cue")
R = 0.03
BODIES = {n: checks.make_body("sphere", 0.17, (R,)) for n in OBJECTS[:4]} | {
    "rail": checks.make_body("box", 1.0, (0.1, 1.0, 0.05))}
B = {n: i for i, n in enumerate(LAYOUT.bodies)}


def contacts(rows: list[tuple[int, str, str]]) -> Contacts:
    n = len(rows)
    normal = np.tile(np.array([1.0, 0, 0], np.float32), (n, 1))
    return Contacts(step=np.array([r[0] for r in rows], np.int32),
                    body_a=np.array([B[r[1]] for r in rows], np.int16),
                    body_b=np.array([B[r[2]] for r in rows], np.int16), position=np.zeros((n, 3), np.float32),
                    normal=normal, force_on_a=-normal, penetration=np.zeros(n, np.float32))


def break_states() -> np.ndarray:
    """cue runs into b2 at state 2, b2 into b1 at state 4 and into the rail twice; b3 never moves."""
    T = 8
    s = np.zeros((T + 1, len(OBJECTS) * STATE_PER_OBJECT), np.float32)
    for n in OBJECTS:
        LAYOUT.field(s, n, "quat")[:] = [1, 0, 0, 0]
        LAYOUT.field(s, n, "pos")[:, 2] = R
    LAYOUT.field(s, "cue", "pos")[:, 0] = [0.0, 0.1, 0.14, 0.14, 0.14, 0.14, 0.14, 0.14, 0.14]
    LAYOUT.field(s, "b2", "pos")[:, 0] = [0.2, 0.2, 0.2, 0.3, 0.38, 0.5, 0.6, 0.5, 0.45]
    LAYOUT.field(s, "b1", "pos")[:, 0] = [0.44, 0.44, 0.44, 0.44, 0.44, 0.44, 0.44, 0.44, 0.44]
    LAYOUT.field(s, "b1", "pos")[:, 1] = [0.0, 0.0, 0.0, 0.0, 0.0, 0.05, 0.1, 0.15, 0.2]
    LAYOUT.field(s, "b3", "pos")[:, 1] = 0.5
    LAYOUT.field(s, "rail", "pos")[:, 0] = 0.68
    return s


CONTACTS = contacts([(2, "cue", "b2"), (4, "b2", "b1"), (6, "rail", "b2"), (8, "b2", "rail"),
                     (1, "ground", "cue")])


def test_strike_labels_of_a_known_break():
    labels = episode_labels(break_states(), CONTACTS, CTX)
    assert [labels[f"first_hit__cue__{b}"] for b in ("b1", "b2", "b3")] == [False, True, False]
    assert [labels[f"contact_rank__{b}"] for b in ("cue", "b1", "b2", "b3")] == [0, 1, 0, -1]
    assert [labels[f"cushion_bounces__{b}"] for b in ("cue", "b1", "b2", "b3")] == [0, 0, 2, 0]
    assert [labels[f"moved__{b}"] for b in ("cue", "b1", "b2", "b3")] == [True, True, True, False]
    assert labels["balls_moved"] == 2
    assert labels["final_x__b2"] == np.float32(0.45) and labels["final_y__b1"] == np.float32(0.2)
    assert labels["touched__cue__b2"] and not labels["touched__cue__b1"]


def test_no_hit_means_no_first_hit():
    labels = episode_labels(break_states(), contacts([(1, "ground", "cue")]), CTX)
    assert not any(labels[f"first_hit__cue__{b}"] for b in ("b1", "b2", "b3"))
    assert labels["contact_rank__cue"] == -1


def test_strike_labels_agree_with_states_and_tampering_is_caught():
    states = break_states()
    labels = episode_labels(states, CONTACTS, CTX)
    assert checks.label_mismatches(states, labels, CTX, BODIES) == []
    for name, value in [("moved__b3", True), ("final_x__b2", 0.1), ("balls_moved", 3)]:
        assert name in checks.label_mismatches(states, labels | {name: value}, CTX, BODIES)
    swapped = labels | {"first_hit__cue__b2": False, "first_hit__cue__b1": True}
    assert checks.label_mismatches(states, swapped, CTX, BODIES)
