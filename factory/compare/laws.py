"""Each engine's residuals against analytic laws, from recorded states and labels alone.

- Coulomb sliding: a box or cylinder sliding on the ground with no other object within reach (their
  bounding spheres 1 cm apart) and no push decelerates at μ·g, μ the larger of its and the
  ground's friction (the pair rule).
- Momentum: across a collision of two free objects (states two steps either side of the first
  contact) their horizontal momentum is unchanged (ground friction over four steps is neglected).
- Restitution: the normal relative speed after / before that collision is the mean of the two
  bodies' restitution (unset counts as 0).
Spheres roll rather than slide, so they are left out of the sliding law. In a robot recipe the
actions are the robots' commands, not pushes on the objects, and a robot may hold or push an object
at any step: the object laws are left out there (`factory.compare.robots` compares the robots).
"""

from __future__ import annotations

import numpy as np

from factory.compare.runs import EngineRun
from factory.names import FIRST_CONTACT, pair_label
from factory.recipe.distributions import support
from factory.recipe.meshes import MESH_SHAPES, reach
from factory.recipe.schema import BoxShape, CylinderShape, Recipe, RigidObject, SphereShape

WINDOW = 2  # recorded steps either side of a first contact
MIN_RUN = 5  # transitions of sliding alone that make one sliding measurement


def _longest_run(ok: np.ndarray) -> np.ndarray:
    """Indices of the longest stretch of True in a 1-D mask."""
    best, start = np.zeros(0, int), None
    for i, flag in enumerate(np.append(ok, False)):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if i - start > len(best):
                best = np.arange(start, i)
            start = None
    return best


def sliding_residuals(run: EngineRun, recipe: Recipe) -> list[float]:
    """(observed − μ·g) / μ·g per episode and sliding object (a line fitted over its longest slide alone)."""
    if recipe.scene.ground is None:
        return []
    g = -recipe.scene.gravity[2]
    layout, dt, rest = run.layout, run.layout.record_dt, recipe.labels.rest_speed
    out: list[float] = []
    for obj in recipe.scene.objects:
        if obj.fixed or not isinstance(obj.shape, (BoxShape, CylinderShape)):
            continue
        vel = layout.field(run.states, obj.name, "vel")
        speed = np.linalg.norm(vel[..., :2], axis=-1)
        pushed = np.abs(run.actions[:, :, layout.objects.index(obj.name) * 3:][:, :, :3]).sum(axis=-1) > 0
        pos = layout.field(run.states, obj.name, "pos")
        near = np.zeros(speed.shape, bool)  # (E, T+1): another object within reach
        for other in recipe.scene.objects:
            if other is not obj:
                gap = np.linalg.norm(layout.field(run.states, other.name, "pos") - pos, axis=-1)
                near |= gap < _reach(obj) + _reach(other) + 0.01
        falling = np.abs(vel[..., 2]) > 0.5  # off the table: not sliding on the ground
        for e in range(len(run.states)):
            mu = max(run.params[e][f"{obj.name}.friction"], run.params[e].get("ground.friction", 0.0))
            ok = ~(near[e, :-1] | near[e, 1:] | pushed[e] | falling[e, 1:]) & \
                (np.minimum(speed[e, :-1], speed[e, 1:]) >= 10 * rest)
            run_ = _longest_run(ok)
            if len(run_) >= MIN_RUN:  # a fit over the whole slide: soft contacts decelerate in bursts
                steps = np.append(run_, run_[-1] + 1)
                slope = np.polyfit(steps * dt, speed[e, steps], 1)[0]
                out.append((-slope - mu * g) / (mu * g))
    return out


def _reach(obj: RigidObject) -> float:
    """Radius of a sphere holding the object at its largest size."""
    shape = obj.shape
    if isinstance(shape, BoxShape):
        return float(np.linalg.norm([support(s)[1] for s in shape.size]) / 2)
    if isinstance(shape, CylinderShape):
        return float(np.hypot(support(shape.radius)[1], support(shape.height)[1] / 2))
    if isinstance(shape, MESH_SHAPES):
        return reach(shape)
    assert isinstance(shape, SphereShape)  # compare runs collision scenes: no cups
    return float(support(shape.radius)[1])


def collision_residuals(run: EngineRun, recipe: Recipe) -> tuple[list[float], list[float]]:
    """(relative momentum change, observed − expected restitution) for each first contact of two free objects."""
    free = [o for o in recipe.scene.objects if not o.fixed]
    layout = run.layout
    momentum, restitution = [], []
    for i, a in enumerate(free):
        for b in free[i + 1:]:
            pairs = (pair_label(FIRST_CONTACT, a.name, b.name), pair_label(FIRST_CONTACT, b.name, a.name))
            key = next((k for k in pairs if k in run.labels[0]), None)
            if key is None:
                continue
            for e in range(len(run.states)):
                k = run.labels[e][key]
                if (k < WINDOW + 1 or k + WINDOW >= len(run.states[e])
                        or np.abs(run.actions[e, k - WINDOW - 1:k + WINDOW]).sum()):
                    continue
                s = run.states[e]
                ma, mb = run.params[e][f"{a.name}.mass"], run.params[e][f"{b.name}.mass"]
                va = layout.field(s, a.name, "vel")
                vb = layout.field(s, b.name, "vel")
                before, after = k - WINDOW, k + WINDOW
                p0 = ma * va[before, :2] + mb * vb[before, :2]
                p1 = ma * va[after, :2] + mb * vb[after, :2]
                scale = max(float(np.linalg.norm(ma * va[before, :2])), float(np.linalg.norm(mb * vb[before, :2])),
                            1e-9)
                momentum.append(float(np.linalg.norm(p1 - p0) / scale))
                n = layout.field(s, b.name, "pos")[k] - layout.field(s, a.name, "pos")[k]
                n /= max(np.linalg.norm(n), 1e-9)
                approach = float(np.dot(va[before] - vb[before], n))
                if approach > 0.1:
                    e_obs = float(np.dot(vb[after] - va[after], n)) / approach
                    e_exp = ((run.params[e].get(f"{a.name}.restitution") or 0.0)
                             + (run.params[e].get(f"{b.name}.restitution") or 0.0)) / 2
                    restitution.append(e_obs - e_exp)
    return momentum, restitution


def residuals(run: EngineRun, recipe: Recipe) -> dict[str, dict[str, float | int | None]]:
    momentum, restitution = ([], []) if recipe.robots else collision_residuals(run, recipe)
    sliding = [] if recipe.robots else sliding_residuals(run, recipe)
    out = {}
    for law, values in (("sliding_mu_g", sliding), ("momentum", momentum),
                        ("restitution", restitution)):
        v = np.asarray(values, float)
        out[law] = {"n": len(v), "median": float(np.median(v)) if len(v) else None,
                    "median_abs": float(np.median(np.abs(v))) if len(v) else None, "values": v.tolist()}
    return out
