"""Contacts of one episode grouped into runs (a pair touching at consecutive recorded states) and the
runs that start as impacts: pure functions over the recorded arrays.

Soft-contact engines resolve an impact by letting the bodies overlap, deeper the faster they meet
(a spring-damper contact of natural frequency ω stops an approach speed v within about v/ω), so
depth at an impact and depth at rest are different questions: a resting body sunk 1 cm into the
floor is a defect; two balls meeting at 5 m/s overlapping a few centimetres for a few milliseconds
is the engine's contact model. The certificate judges the first by its depth and the second by its
depth per unit approach speed, the contact's compliance time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from factory.contract.rollout import Contacts, Layout

IMPACT_SPEED = 0.1  # m/s: a run whose pair approaches at least this fast at its start is an impact
IMPACT_WINDOW = 0.1  # s: contacts this long after an impact's start belong to the impact, later ones rest


@dataclass(frozen=True, eq=False)
class Run:
    """A pair of bodies (indices into `Layout.bodies`, low first) in contact at recorded states
    `first`..`last`, with the mean contact normal at `first` and the approach speed before it."""

    a: int
    b: int
    first: int
    last: int
    normal: np.ndarray  # (3,) unit
    approach: float  # m/s: |(v_a − v_b) · normal| at state first − 1 (0 where unknown)
    rows: np.ndarray  # indices of its contacts, by step


def body_velocity(states: np.ndarray, layout: Layout, index: int) -> np.ndarray | None:
    """(T+1, 3) linear velocity of body `index`; zeros for the ground, None for a robot link (its
    velocity is not in the state)."""
    name = layout.bodies[index]
    if name in layout.objects:
        return layout.field(states, name, "vel")
    return np.zeros((len(states), 3), states.dtype) if name == "ground" else None


def contact_runs(states: np.ndarray, contacts: Contacts, layout: Layout) -> list[Run]:
    """Every run of every pair, in order of pair then first step."""
    if not len(contacts):
        return []
    low, high = np.minimum(contacts.body_a, contacts.body_b), np.maximum(contacts.body_a, contacts.body_b)
    order = np.lexsort((contacts.step, high, low))  # by pair, then step
    pair = low[order].astype(np.int64) * (1 << 16) + high[order]
    step = contacts.step[order]
    # a new run where the pair changes or a recorded state is skipped
    starts = np.flatnonzero(np.r_[True, (np.diff(pair) != 0) | (np.diff(step) > 1)])
    out = []
    for begin, end in zip(starts, np.r_[starts[1:], len(order)], strict=True):
        rows = order[begin:end]
        a, b, first, last = int(low[rows[0]]), int(high[rows[0]]), int(step[begin]), int(step[end - 1])
        normal = contacts.normal[rows[step[begin:end] == first]].mean(0).astype(np.float64)
        normal /= max(float(np.linalg.norm(normal)), 1e-12)
        va, vb = body_velocity(states, layout, a), body_velocity(states, layout, b)
        approach = 0.0
        if first >= 1 and va is not None and vb is not None:
            approach = abs(float((va[first - 1] - vb[first - 1]) @ normal))
        out.append(Run(a, b, first, last, normal, approach, rows))
    return out


def impact_contacts(contacts: Contacts, run: Run, record_dt: float) -> np.ndarray:
    """Indices of the contacts of `run` within `IMPACT_WINDOW` of its start."""
    window = max(1, int(np.ceil(IMPACT_WINDOW / record_dt)))
    return run.rows[contacts.step[run.rows] <= run.first + window - 1]


def impact_mask(contacts: Contacts, runs: list[Run], record_dt: float) -> np.ndarray:
    """(n,) bool: the contacts of the runs that start as impacts, within their impact window."""
    out = np.zeros(len(contacts), bool)
    for run in runs:
        if run.approach >= IMPACT_SPEED:
            out[impact_contacts(contacts, run, record_dt)] = True
    return out


def compliance_times(contacts: Contacts, runs: list[Run], record_dt: float) -> np.ndarray:
    """Per impact: its deepest contact within the impact window over its approach speed, s."""
    return np.asarray([float(contacts.penetration[impact_contacts(contacts, run, record_dt)].max()) / run.approach
                       for run in runs if run.approach >= IMPACT_SPEED], np.float64)
