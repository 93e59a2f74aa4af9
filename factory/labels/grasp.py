"""Labels of a pick and place: was the object grasped, dropped on the way, placed, knocked over.

Pure functions of the recorded states and contacts and the episode's drawn place. "Grasped" asks the
contacts, not the policy: the object rose off its support while at least two of the robot's links (the
fingers, in a parallel gripper) touched it and nothing else did.
"""

from __future__ import annotations

import numpy as np

from factory.contract.rollout import Contacts, Layout
from factory.labels.pose import pose_labels
from factory.names import DROPPED, GRASP_STEP, GRASPED, PLACE_MISS, PLACED, body_label

LIFTED = 0.01  # m above its first height: the object is off its support, not rocking on it


def touching(layout: Layout, contacts: Contacts, obj: str, robot: str, transitions: int) -> tuple[np.ndarray,
                                                                                                 np.ndarray]:
    """Per transition: (how many of `robot`'s links touch `obj`, whether anything else touches it)."""
    other = layout.bodies.index(obj)
    links = np.array([b.startswith(f"{robot}/") for b in layout.bodies])
    mine = (contacts.body_a == other) | (contacts.body_b == other)
    partner = np.where(contacts.body_a == other, contacts.body_b, contacts.body_a)[mine]
    step = contacts.step[mine] - 1  # contacts seen at state k + 1 happened in transition k
    robot_touch = links[partner]
    pairs = np.unique(np.stack([step[robot_touch], partner[robot_touch]]), axis=1)  # each (transition, link) once
    held = np.bincount(pairs[0], minlength=transitions)
    supported = np.zeros(transitions, bool)
    supported[step[~links[partner]]] = True
    return held, supported


def grasp_step(heights: np.ndarray, held: np.ndarray, supported: np.ndarray) -> int:
    """The first transition after which the object is `LIFTED` above its first height, touched by two or
    more robot links and by nothing else; -1 if never."""
    up = (heights[1:] - heights[0] >= LIFTED) & (held >= 2) & ~supported
    return int(np.argmax(up)) if up.any() else -1


def pick_place_labels(layout: Layout, states: np.ndarray, contacts: Contacts, robot: str, obj: str,
                      place: np.ndarray, tolerance: float) -> dict[str, float | int | bool]:
    """`grasped__X`, `grasp_step__X`, `dropped__X` (after the grasp, it was in the air touching nothing:
    let go or slipped out), `placed__X` (its centre ends within `tolerance` of the
    place with no robot link touching it), `place_miss__X` (m), and the pose labels (`toppled__X`...)."""
    pos = layout.field(states, obj, "pos").astype(float)
    held, supported = touching(layout, contacts, obj, robot, len(states) - 1)
    first = grasp_step(pos[:, 2], held, supported)
    free = (held == 0) & ~supported & (pos[1:, 2] - pos[0, 2] >= LIFTED)  # in the air, touching nothing
    miss = float(np.linalg.norm(pos[-1] - place))
    labels: dict[str, float | int | bool] = {
        body_label(GRASPED, obj): first >= 0,
        body_label(GRASP_STEP, obj): first,
        body_label(DROPPED, obj): first >= 0 and bool(free[first + 1:].any()),
        body_label(PLACED, obj): bool(miss <= tolerance and held[-1] == 0),
        body_label(PLACE_MISS, obj): miss,
    }
    labels.update({name: values[0] for name, values in pose_labels(states[None], layout, (obj,)).items()})
    return labels
