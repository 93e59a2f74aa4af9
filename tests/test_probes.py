"""Physical-reasoning probes: generated from labels on hand-made episodes, answered from states, scored."""

from __future__ import annotations

import numpy as np

from factory.checks import make_body
from factory.contract.rollout import Layout
from factory.labels.collision import LabelContext
from factory.report.probes import (
    TOGETHER,
    describe_actions,
    first_mover,
    particle_probes,
    read_answer,
    rigid_probes,
    score,
)

LAYOUT = Layout(("ball", "box"), ("ground", "ball", "box"), 0.1)
CTX = LabelContext(LAYOUT, frozenset(), 0.0, (2.0, 2.0), rest_speed=0.01, min_impact_force=0.01)
BODIES = {"ball": make_body("sphere", 1.0, (0.05,)), "box": make_body("box", 1.0, (0.1, 0.1, 0.1))}


def episode(t: int = 12) -> np.ndarray:
    """The ball slides along +x from x=-0.5 slowing by friction (0.2 m/s per step) and stops; the
    box rests at x=0.5 and is never reached."""
    states = np.zeros((t, 26))
    states[:, [3, 16]] = 1.0
    v = np.maximum(1.0 - 0.2 * np.arange(t), 0.0)
    states[:, 7] = v
    states[:, 0] = -0.5 + np.concatenate([[0], np.cumsum((v[:-1] + v[1:]) / 2 * 0.1)])
    states[:, 2], states[:, 13], states[:, 15] = 0.05, 0.5, 0.05
    return states


LABELS = {"friction_cos__ball": -0.98, "friction_cos__box": float("nan"), "touched__ball__box": False,
          "came_to_rest": True, "left_support__ball": False, "left_support__box": False}


def by_kind(items):
    return {(i["kind"], tuple(i["subject"])): i for i in items}


def test_probes_follow_the_labels():
    items = by_kind(rigid_probes({}, LABELS, CTX, episode()))
    assert items[("friction_direction", ("ball",))]["answer"] == "against"
    assert ("friction_direction", ("box",)) not in items  # the box never slid: no question
    assert items[("touch", ("ball", "box"))]["answer"] == "no"
    assert items[("comes_to_rest", ("ball", "box"))]["answer"] == "yes"
    assert items[("falls_off", ("ball",))]["answer"] == "no"
    assert items[("moves_first", ("ball", "box"))]["answer"] == "ball"
    flipped = by_kind(rigid_probes({}, LABELS | {"friction_cos__ball": 0.4, "touched__ball__box": True,
                                                 "came_to_rest": False}, CTX, episode()))
    assert flipped[("friction_direction", ("ball",))]["answer"] == "along"
    assert flipped[("touch", ("ball", "box"))]["answer"] == "yes"
    assert flipped[("comes_to_rest", ("ball", "box"))]["answer"] == "no"
    assert all(i["answer"] in i["options"] for i in items.values())


def test_states_answer_the_probes_like_the_labels():
    states, actions = episode(), np.zeros((11, 6))
    for item in rigid_probes({}, LABELS, CTX, states):
        assert read_answer(item, states, actions, CTX, BODIES) == item["answer"], item["kind"]
    speeding_up = states.copy()
    speeding_up[:, 7] = speeding_up[::-1, 7]  # the ball gains speed while it slides: friction "along"
    item = by_kind(rigid_probes({}, LABELS, CTX, states))[("friction_direction", ("ball",))]
    assert read_answer(item, speeding_up, actions, CTX, BODIES) == "along"


def test_friction_readout_counts_slipping_not_rolling():
    """A ball that rolls (ω = v/r: its contact point at rest) never slides, so there is no answer;
    one that spins backwards three times faster with the box beside it all along slips backwards at
    the contact point, and Coulomb friction, opposing that slip, points along its motion."""
    states, actions = episode(), np.zeros((11, 6))
    item = by_kind(rigid_probes({}, LABELS, CTX, states))[("friction_direction", ("ball",))]
    rolling = states.copy()
    rolling[:, 11] = states[:, 7] / 0.05
    assert read_answer(item, rolling, actions, CTX, BODIES) is None
    crowded = rolling.copy()
    crowded[:, 11] *= 3
    crowded[:, 13] = crowded[:, 0] + 0.1  # the box moves beside the ball: nothing to read from Δv alone
    assert read_answer(item, crowded, actions, CTX, BODIES) == "along"
    crowded[:, 11] = 0.0  # no spin: the contact point slips forwards, friction is against the motion
    assert read_answer(item, crowded, actions, CTX, BODIES) == "against"


def test_first_mover_ties_and_nobody():
    states = episode()
    assert first_mover(states, LAYOUT.objects, ["ball", "box"], 0.02) == "ball"
    both = states.copy()
    both[:, 20] = 0.5
    assert first_mover(both, LAYOUT.objects, ["ball", "box"], 0.02) == TOGETHER
    assert first_mover(np.zeros_like(states), LAYOUT.objects, ["ball", "box"], 0.02) == "none"


def test_particle_probes_and_scores():
    fluid = particle_probes({}, {"in_target_fraction": 0.3})
    assert [(i["kind"], i["answer"]) for i in fluid] == [("liquid_reaches_target", "yes")]
    assert particle_probes({}, {"slid_off": False})[0]["answer"] == "no"
    items = [{"kind": "touch", "options": ["yes", "no"], "answer": a} for a in ("yes", "no", "no", "no")]
    s = score(items, {"model": ["yes", "no", "yes", "no"]})["touch"]
    assert s == {"model": 0.75, "majority": 0.75, "majority_answer": "no", "chance": 0.5, "items": 4}


def test_actions_are_described_in_words():
    actions = np.zeros((5, 6))
    actions[2, :3] = [0.0, 0.5, 0.0]
    text = describe_actions(actions, LAYOUT.objects, 0.1)
    assert "t = 0.20 s, 'ball' is pushed with an impulse of 0.50 N·s heading 90° from +x" in text
