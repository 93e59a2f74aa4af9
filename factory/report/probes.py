"""Physical-reasoning probes: plain-words questions with one right answer, generated from an
episode's labels, parameters and recorded states.

Each item names its episode, describes the scene and the action in words, asks one question
(does friction act against the motion, does A touch B, which object moves first, does everything
come to rest, does the ball leave the table, does the cloth slide off, does the liquid reach the
target) and gives the options and the ground truth, so the file can evaluate a language or vision
model. For rigid scenes `read_answer` answers the same question from any trajectory, so a world
model answers through its rollouts and the recorded states give the ceiling.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from factory.checks import GEOMETRY_TOL, Body, label_readouts, quat_to_matrix
from factory.labels.collision import LabelContext
from factory.names import CAME_TO_REST, FRICTION_COS, LEFT_SUPPORT, TOUCHED, body_label, label, pair_label

YES_NO = ["yes", "no"]
TOGETHER = "at the same time"
IN_TARGET = 0.05  # fraction of the liquid that counts as "reaching" the target


def _yes(flag: object) -> str:
    return "yes" if bool(flag) else "no"


def describe_scene(recipe: dict, params: dict[str, float], states0: np.ndarray | None, objects: tuple[str, ...]) -> str:
    """One paragraph: the support, then each object's shape, size, mass, friction and start."""
    scene = recipe["scene"]
    ground = scene.get("ground")
    parts = []
    if ground is not None:
        size = ground.get("size")
        where = f"a {size[0]:g} m × {size[1]:g} m table top" if size else "an infinite flat floor"
        friction = params.get("ground.friction", ground.get("friction", 0.5))
        parts.append(f"The scene has {where} (friction {friction:.2f}).")
    for obj in scene["objects"]:
        n, shape = obj["name"], obj["shape"]["type"]
        if shape == "sphere":
            size = f"radius {params[f'{n}.radius']:.3g} m"
        elif shape == "box":
            size = "size " + " × ".join(f"{params[f'{n}.size.{a}']:.3g}" for a in "xyz") + " m"
        else:
            size = f"radius {params[f'{n}.radius']:.3g} m, height {params[f'{n}.height']:.3g} m"
        text = (f"A {shape} '{n}' ({size}, mass {params[f'{n}.mass']:.3g} kg, "
                f"friction {params.get(f'{n}.friction', 0.5):.2f})")
        if obj.get("fixed"):
            text += ", fixed in place,"
        if states0 is not None and n in objects:
            o = objects.index(n) * 13
            p, v = states0[o:o + 3], states0[o + 7:o + 10]
            text += f" starts at ({p[0]:.2f}, {p[1]:.2f}, {p[2]:.2f}) m"
            speed = float(np.linalg.norm(v))
            text += f" moving at {speed:.2f} m/s toward {_heading(v)}." if speed > 0.05 else " at rest."
        else:
            text += "."
        parts.append(text)
    if recipe.get("kind") in ("fluid", "cloth"):
        parts.append("A liquid block starts in the tank." if recipe["kind"] == "fluid"
                     else "A square cloth sheet starts above the objects.")
    return " ".join(parts)


def _heading(v: np.ndarray) -> str:
    return f"heading {np.degrees(np.arctan2(v[1], v[0])):.0f}° from +x"


def describe_actions(actions: np.ndarray, objects: tuple[str, ...], record_dt: float) -> str:
    """Each push as 'at t = 0.10 s, ball is pushed with 0.8 N·s heading 10° from +x'."""
    if actions.shape[-1] != 3 * len(objects):
        return "Scripted movers act on the scene as the recipe's actions describe."
    pushes = []
    for t, row in enumerate(actions):
        for k, name in enumerate(objects):
            j = row[3 * k:3 * k + 3]
            if np.linalg.norm(j) > 1e-9:
                pushes.append(f"at t = {t * record_dt:.2f} s, '{name}' is pushed with an impulse of "
                              f"{np.linalg.norm(j):.2f} N·s {_heading(j)}")
    return ("Then " + "; ".join(pushes) + ".") if pushes else "Nothing pushes anything; the bodies move on their own."


def first_mover(states: np.ndarray, objects: tuple[str, ...], moving: list[str], speed: float) -> str:
    """The object whose speed first reaches `speed`; TOGETHER on a tie, 'none' if none does."""
    first = {}
    for n in moving:
        o = objects.index(n) * 13
        fast = np.linalg.norm(states[:, o + 7:o + 10], axis=-1) >= speed
        if fast.any():
            first[n] = int(fast.argmax())
    if not first:
        return "none"
    t = min(first.values())
    movers = [n for n, s in first.items() if s == t]
    return movers[0] if len(movers) == 1 else TOGETHER


def friction_direction(states: np.ndarray, actions: np.ndarray, ctx: LabelContext, bodies: dict[str, Body],
                       name: str) -> str | None:
    """'against' or 'along' the motion while the body slides on the ground (its lowest point slips,
    as the label counts it); None if it never slides. Where it slides unpushed with nothing else near,
    the answer is how its horizontal velocity changes (what the trajectory shows friction doing);
    where something else is always near, Coulomb's law read off the trajectory: friction opposes
    the slip of the contact point."""
    layout = ctx.layout
    pos, vel = layout.field(states, name, "pos"), layout.field(states, name, "vel")
    omega = layout.field(states, name, "ang_vel")
    depth = bodies[name].lowest(quat_to_matrix(layout.field(states, name, "quat")))
    on_ground = pos[:, 2] - depth <= ctx.ground_height + GEOMETRY_TOL
    slip = (vel + np.cross(omega, -depth[:, None] * np.array([0.0, 0.0, 1.0])))[:, :2]
    others = [n for n in layout.objects if n != name]
    alone = np.ones(len(states), bool)
    for n in others:
        reach = bodies[name].outer + bodies[n].outer + GEOMETRY_TOL
        alone &= np.linalg.norm(layout.field(states, n, "pos") - pos, axis=-1) > reach
    v = vel[:-1, :2]
    dv = np.diff(vel[:, :2], axis=0)
    k = layout.objects.index(name)
    unpushed = np.linalg.norm(actions[:, 3 * k:3 * k + 3], axis=-1) < 1e-9 if actions.shape[-1] == 3 * len(
        layout.objects) else np.ones(len(actions), bool)
    sliding = (np.linalg.norm(v, axis=-1) >= ctx.rest_speed) & (np.linalg.norm(slip[:-1], axis=-1) >= ctx.rest_speed) \
        & on_ground[:-1] & on_ground[1:]
    if not sliding.any():
        return None
    seen = sliding & alone[:-1] & alone[1:] & unpushed
    along = np.einsum("ij,ij->i", dv[seen], v[seen]) if seen.any() else -np.einsum("ij,ij->i", slip[:-1][sliding],
                                                                                      v[sliding])
    return "against" if float(along.sum()) < 0 else "along"


def rigid_probes(recipe: dict, labels: dict, ctx: LabelContext, states: np.ndarray) -> list[dict]:
    """Questions about one collision episode, each with its options and ground truth."""
    layout = ctx.layout
    moving = [n for n in layout.objects if n not in ctx.fixed]
    items = []
    for n in moving:
        cos = labels.get(body_label(FRICTION_COS, n))
        if cos is not None and np.isfinite(cos):
            items.append({"kind": "friction_direction", "subject": [n],
                          "question": f"While '{n}' slides across the {'table' if ctx.ground_size else 'floor'}, does "
                          "the friction force on it point against its motion or along it?",
                          "options": ["against", "along"], "answer": "against" if cos < 0 else "along"})
    for a, b in combinations(layout.objects, 2):
        if (touched := pair_label(TOUCHED, a, b)) in labels:
            items.append({"kind": "touch", "subject": [a, b], "question": f"Does '{a}' touch '{b}' during the episode?",
                          "options": YES_NO, "answer": _yes(labels[touched])})
    if len(moving) >= 2:
        items.append({"kind": "moves_first", "subject": moving,
                      "question": f"Which object starts moving first: {', '.join(repr(n) for n in moving)}?",
                      "options": [*moving, TOGETHER, "none"],
                      "answer": first_mover(states, layout.objects, moving, 2 * ctx.rest_speed)})
    if CAME_TO_REST in labels:
        items.append({"kind": "comes_to_rest", "subject": moving,
                      "question": "Has everything come to rest by the end "
                                  f"({(len(states) - 1) * layout.record_dt:.2f} s)?",
                      "options": YES_NO, "answer": _yes(labels[CAME_TO_REST])})
    if ctx.ground_size is not None:
        for n in moving:
            if (left := body_label(LEFT_SUPPORT, n)) in labels:
                items.append({"kind": "falls_off", "subject": [n], "question": f"Does '{n}' fall off the table?",
                              "options": YES_NO, "answer": _yes(labels[left])})
    return items


def particle_probes(recipe: dict, labels: dict) -> list[dict]:
    """Questions about one fluid or cloth episode (ground truth only: no rollout readout yet)."""
    items = []
    if "in_target_fraction" in labels:
        items.append({"kind": "liquid_reaches_target", "subject": ["liquid"],
                      "question": f"Does at least {IN_TARGET:.0%} of the liquid end up in the target region?",
                      "options": YES_NO, "answer": _yes(labels["in_target_fraction"] >= IN_TARGET)})
    if "slid_off" in labels:
        items.append({"kind": "cloth_slides_off", "subject": ["cloth"],
                      "question": "Does the cloth slide off the object onto the floor?",
                      "options": YES_NO, "answer": _yes(labels["slid_off"])})
    return items


def read_answer(item: dict, states: np.ndarray, actions: np.ndarray, ctx: LabelContext,
                bodies: dict[str, Body]) -> str | None:
    """The answer a rigid trajectory gives to a probe (recorded states: the readout ceiling)."""
    kind, subject = item["kind"], item["subject"]
    if kind == "friction_direction":
        return friction_direction(states, actions, ctx, bodies, subject[0])
    if kind == "moves_first":
        return first_mover(states, ctx.layout.objects, subject, 2 * ctx.rest_speed)
    read = label_readouts(states, ctx, bodies)
    key = {"touch": label(TOUCHED, *subject), "comes_to_rest": CAME_TO_REST,
           "falls_off": body_label(LEFT_SUPPORT, subject[0])}[kind]
    return _yes(read[key])


def score(items: list[dict], answers: dict[str, list[str | None]]) -> dict[str, dict[str, float | str]]:
    """Per probe kind: accuracy of each run's answers beside the majority answer and chance."""
    out: dict[str, dict[str, float | str]] = {}
    for kind in sorted({i["kind"] for i in items}):
        idx = [k for k, i in enumerate(items) if i["kind"] == kind]
        truth = [items[k]["answer"] for k in idx]
        values, counts = np.unique(truth, return_counts=True)
        row: dict[str, float | str] = {run: float(np.mean([got[k] == items[k]["answer"] for k in idx]))
                                       for run, got in answers.items()}
        row |= {"majority": float(counts.max() / len(idx)), "majority_answer": str(values[counts.argmax()]),
                "chance": float(np.mean([1 / len(items[k]["options"]) for k in idx])), "items": len(idx)}
        out[kind] = row
    return out
