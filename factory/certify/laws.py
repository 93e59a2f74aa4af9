"""Analytic laws checked on one stored episode: restitution at isolated bounces and Coulomb sliding on
the ground. Pure functions over the recorded states, actions and contact runs; each returns one
measurement per event, for the certificate to pool over the dataset.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from factory.certify.impacts import IMPACT_SPEED, Run, body_velocity
from factory.checks import Body
from factory.contract.rollout import Layout

HORIZONTAL = 0.3  # |n_z| below this: a normal the ground's support and gravity do not act along
MIN_SLIDE = 5  # transitions of sliding alone that make one sliding measurement
SLIDE_SPEED = 0.1  # m/s: slower than this a sliding body is about to stop (static friction takes over)
SLIDE_SPIN = 0.5  # rad/s: a body turning faster tips, hops or spins, and its centre slows by less than μ·g


def pushed_objects(actions: np.ndarray, layout: Layout) -> dict[str, np.ndarray]:
    """(T,) bool per object: transitions in which an action acts on it directly (its impulse columns)."""
    names = layout.action_names
    out = {}
    for obj in layout.objects:
        cols = [i for i, n in enumerate(names) if n.startswith(f"{obj}.")]
        out[obj] = np.any(actions[:, cols] != 0, axis=1) if cols else np.zeros(len(actions), bool)
    return out


def restitutions(states: np.ndarray, actions: np.ndarray, runs: list[Run], layout: Layout,
                 bodies: dict[str, Body], fixed: frozenset[str] | set[str],
                 expected: Callable[[str, str], float | None], gravity: float, ground_height: float
                 ) -> list[tuple[float, float]]:
    """(measured e, the pair's e) for each isolated bounce of a free sphere off another free sphere, a
    fixed body or the ground: the normal speed after over the normal speed before, from the states
    either side of the contact run, neither body touching a third one in between nor pushed. Pairs
    whose `expected` e is None (the recipe sets none) are left out.

    Free spheres only: their contact normal passes through their centre, so the centre's velocity is
    the contact point's along the normal. Gravity does not change two falling bodies' relative
    velocity, but it does a body's against the ground between the states and the contact: there
    the normal speeds are taken at the ground, from the height above it (√(v² + 2·g·h)). A fixed
    body's normal must be horizontal for the same reason."""
    pushed = pushed_objects(actions, layout)
    out = []
    for run in runs:
        names = (layout.bodies[run.a], layout.bodies[run.b])
        free = [n for n in names if n in layout.objects and n not in fixed]
        before, after = run.first - 1, run.last + 1
        if run.approach < IMPACT_SPEED or before < 0 or after >= len(states) or not free or \
                any(n not in bodies and n != "ground" for n in names) or \
                any(bodies[n].shape != "sphere" for n in free) or any(pushed[n][before:after].any() for n in free) \
                or (len(free) == 1 and "ground" not in names and abs(run.normal[2]) > HORIZONTAL) \
                or _touches_a_third(run, runs, before, after, _ground(layout)):
            continue
        e = expected(*names)
        if e is None:
            continue
        va, vb = (body_velocity(states, layout, i) for i in (run.a, run.b))
        assert va is not None and vb is not None  # objects and the ground only
        speed = [abs(float((va[k] - vb[k]) @ run.normal)) for k in (before, after)]
        if "ground" in names:
            ball = free[0]
            height = layout.field(states, ball, "pos")[[before, after], 2] - ground_height - bodies[ball].dims[0]
            speed = [float(np.sqrt(v * v + 2 * gravity * max(float(h), 0.0)))
                     for v, h in zip(speed, height, strict=True)]
        out.append((speed[1] / speed[0], e))
    return out


def _ground(layout: Layout) -> int | None:
    return layout.bodies.index("ground") if "ground" in layout.bodies else None


def _touches_a_third(run: Run, runs: list[Run], before: int, after: int, ground: int | None) -> bool:
    """Whether either body of `run` touches another body (the ground too, unless the run's normal is
    horizontal: a ball rolling on the table meeting another) between `before` and `after`."""
    for other in runs:
        if other is run or not {other.a, other.b} & {run.a, run.b} or other.last < before or other.first > after:
            continue
        if ground in (other.a, other.b) and abs(run.normal[2]) < HORIZONTAL:
            continue
        return True
    return False


def sliding_decelerations(states: np.ndarray, actions: np.ndarray, runs: list[Run], layout: Layout,
                          bodies: dict[str, Body], fixed: frozenset[str] | set[str], friction: dict[str, float],
                          gravity: float) -> list[tuple[float, float]]:
    """(measured deceleration, μ·g) for each box or cylinder sliding on the ground alone: touching the
    ground and nothing else, unpushed, neither falling nor turning (`SLIDE_SPIN`), faster than
    `SLIDE_SPEED`, over at least `MIN_SLIDE` transitions; the deceleration a line fitted to its
    horizontal speed over its longest such stretch. Spheres roll rather than slide. `friction` holds
    each body's μ against the ground (the pair rule already applied)."""
    ground = _ground(layout)
    if ground is None:
        return []
    pushed = pushed_objects(actions, layout)
    out = []
    for name, body in bodies.items():
        if body.shape not in ("box", "cylinder") or name in fixed:
            continue
        i = layout.bodies.index(name)
        on_ground, elsewhere = np.zeros(len(states), bool), np.zeros(len(states), bool)
        for run in runs:
            if i in (run.a, run.b):
                (on_ground if ground in (run.a, run.b) else elsewhere)[run.first:run.last + 1] = True
        vel = layout.field(states, name, "vel").astype(np.float64)
        speed = np.linalg.norm(vel[:, :2], axis=-1)
        spin = np.linalg.norm(layout.field(states, name, "ang_vel"), axis=-1)
        alone = on_ground & ~elsewhere & (np.abs(vel[:, 2]) < SLIDE_SPEED) & (speed > SLIDE_SPEED) & (spin < SLIDE_SPIN)
        ok = alone[:-1] & alone[1:] & ~pushed[name]
        steps = _longest_run(ok)
        if len(steps) >= MIN_SLIDE:
            at = np.append(steps, steps[-1] + 1)
            slope = np.polyfit(at * layout.record_dt, speed[at], 1)[0]
            out.append((-float(slope), friction[name] * gravity))
    return out


def _longest_run(ok: np.ndarray) -> np.ndarray:
    """Indices of the longest stretch of True in a 1-D mask."""
    edges = np.flatnonzero(np.diff(np.r_[0, ok.astype(np.int8), 0]))
    if not len(edges):
        return np.zeros(0, int)
    starts, stops = edges[::2], edges[1::2]
    k = int(np.argmax(stops - starts))
    return np.arange(starts[k], stops[k])
