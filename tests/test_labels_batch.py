"""Batch-vectorised collision labels against a straightforward per-episode, per-pair reference.

The reference is the loop-per-pair / per-body code the labels had before they ran over a whole
batch at once; it is kept here only to check that the vectorised version means the same thing.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest

from factory.contract.rollout import Contacts, Layout, Rollout
from factory.labels import label_rollout, label_rollouts
from factory.labels.collision import LabelContext

LAYOUT = Layout(objects=("ball", "target", "blocker"), bodies=("ground", "ball", "target", "blocker"),
                record_dt=0.02)
T = 50


# ------------------------------------------------------------------ reference
def ref_step_labels(c: Contacts, transitions: int) -> dict[str, np.ndarray]:
    n = np.zeros(transitions, np.int16)
    f = np.zeros(transitions, np.float32)
    for step, force in zip(c.step, c.force, strict=True):
        n[step - 1] += 1
        f[step - 1] = max(f[step - 1], np.float32(force))
    return {"n_contacts": n, "max_contact_force": f}


def ref_friction(pos: np.ndarray, vel: np.ndarray, ang_vel: np.ndarray, c: Contacts, body: int, ground: int,
                 rest_speed: float) -> float:
    cosines = []
    for k in range(len(c)):
        pair = (int(c.body_a[k]), int(c.body_b[k]))
        if pair not in ((body, ground), (ground, body)):
            continue
        force = c.force_on_a[k].astype(np.float64) * (1.0 if pair[0] == body else -1.0)
        n = c.normal[k]
        tangential = force - force.dot(n) * n
        v = vel[c.step[k]]
        slip = v + np.cross(ang_vel[c.step[k]], c.position[k] - pos[c.step[k]])
        v_t, slip_t = v - v.dot(n) * n, slip - slip.dot(n) * n
        speed, f_norm = np.linalg.norm(v_t), np.linalg.norm(tangential)
        if speed >= rest_speed and np.linalg.norm(slip_t) >= rest_speed and f_norm > 1e-6:
            cosines.append(tangential.dot(v_t) / (f_norm * speed))
    return float(np.mean(cosines)) if cosines else float("nan")


def ref_episode_labels(states: np.ndarray, c: Contacts, ctx: LabelContext) -> dict:
    layout, labels = ctx.layout, {}
    strong = c.force >= ctx.min_impact_force
    for a, b in combinations(range(len(layout.bodies)), 2):
        name = f"{layout.bodies[a]}__{layout.bodies[b]}"
        pair = strong & (((c.body_a == a) & (c.body_b == b)) | ((c.body_a == b) & (c.body_b == a)))
        steps = sorted(set(c.step[pair].tolist()))
        labels[f"touched__{name}"] = bool(steps)
        labels[f"first_contact__{name}"] = steps[0] if steps else -1
        labels[f"impacts__{name}"] = sum(1 for i, s in enumerate(steps) if i == 0 or s - steps[i - 1] > 1)
    moving = [o for o in layout.objects if o not in ctx.fixed]
    speed = {o: np.linalg.norm(layout.field(states, o, "vel"), axis=-1) for o in moving}
    still = [all(speed[o][t] < ctx.rest_speed for o in moving) for t in range(len(states))]
    rest = next((t for t in range(len(states)) if all(still[t:])), -1)
    labels["came_to_rest"], labels["rest_step"] = rest >= 0, rest
    ground = layout.bodies.index("ground") if "ground" in layout.bodies else None
    for o in moving:
        pos = layout.field(states, o, "pos")
        left = -1
        if ground is not None:
            for t, p in enumerate(pos):
                off_top = ctx.ground_size is not None and (abs(p[0]) > ctx.ground_size[0] / 2
                                                           or abs(p[1]) > ctx.ground_size[1] / 2)
                if p[2] < ctx.ground_height or off_top:
                    left = t
                    break
        labels[f"left_support__{o}"], labels[f"left_support_step__{o}"] = left >= 0, left
        labels[f"max_speed__{o}"] = float(speed[o].max())
        labels[f"friction_cos__{o}"] = (ref_friction(*(layout.field(states, o, f) for f in ("pos", "vel", "ang_vel")),
                                                     c, layout.bodies.index(o), ground, ctx.rest_speed)
                                        if ground is not None else math.nan)
    return labels


# ------------------------------------------------------------------ real-looking inputs
def episode(rng: np.random.Generator, index: int, n_contacts: int) -> Rollout:
    """Bodies that slide, collide and slow down on a 2 m table, some falling off it; contacts mostly
    with the ground (either order), some between objects, forces spread around the impact threshold."""
    states = np.zeros((T + 1, LAYOUT.state_size), np.float32)
    decay = np.exp(-np.arange(T + 1) * rng.uniform(0.02, 0.3))[:, None]
    for o in LAYOUT.objects:
        vel = rng.normal(0, 1.5, 3) * decay + rng.normal(0, 0.01, (T + 1, 3))
        vel[:, 2] *= 0.1
        pos = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6), 0.06]) + np.cumsum(vel, 0) * 0.02
        LAYOUT.field(states, o, "pos")[:] = pos
        LAYOUT.field(states, o, "vel")[:] = vel
        LAYOUT.field(states, o, "quat")[:] = [1, 0, 0, 0]
        LAYOUT.field(states, o, "ang_vel")[:] = rng.normal(0, 10.0, 3) * decay  # some contacts slip, some not
    step = np.sort(rng.integers(1, T + 1, n_contacts)).astype(np.int32)
    a = rng.choice(4, n_contacts, p=[0.4, 0.2, 0.2, 0.2])
    b = np.where(a == 0, rng.integers(1, 4, n_contacts), np.where(rng.random(n_contacts) < 0.7, 0,
                                                                   rng.integers(1, 4, n_contacts)))
    b = np.where(b == a, (a % 3) + 1, b)  # never a body with itself
    normal = rng.normal(size=(n_contacts, 3))
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    force = -normal * np.exp(rng.normal(np.log(0.05), 2.0, n_contacts))[:, None] + rng.normal(0, 0.3, (n_contacts, 3))
    contacts = Contacts(step, a.astype(np.int16), b.astype(np.int16),
                        rng.normal(size=(n_contacts, 3)).astype(np.float32), normal.astype(np.float32),
                        force.astype(np.float32),
                        rng.uniform(0, 1e-3, n_contacts).astype(np.float32))
    return Rollout(index, states, np.zeros((T, 9), np.float32), contacts)


def batch(seed: int = 0) -> list[Rollout]:
    rng = np.random.default_rng(seed)
    sizes = [0, 1, 2, *rng.integers(50, 600, 21)]
    return [episode(rng, i, n) for i, n in enumerate(sizes)]


CONTEXTS = [
    LabelContext(LAYOUT, frozenset(), 0.0, (2.0, 2.0), 0.02, 0.01),
    LabelContext(LAYOUT, frozenset({"blocker"}), 0.0, None, 0.5, 0.0),
    LabelContext(Layout(LAYOUT.objects, LAYOUT.objects, 0.02), frozenset(), 0.0, None, 0.02, 0.01),  # no ground
]


def same(expected: object, got: object) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(got, float) and math.isnan(got)
    if isinstance(expected, float):  # float32 states and contacts: agreement to float32 precision
        return isinstance(got, float) and got == pytest.approx(expected, rel=1e-6, abs=1e-9)
    return type(got) is type(expected) and got == expected


@pytest.mark.parametrize("ctx", CONTEXTS, ids=["table", "fixed-blocker-floor", "no-ground"])
def test_batch_labels_match_reference(ctx):
    layout = ctx.layout
    rollouts = batch()
    if "ground" not in layout.bodies:  # body indices shift down by one without a ground
        rollouts = [Rollout(r.index, r.states, r.actions, _without_ground(r.contacts)) for r in rollouts]
    records = label_rollouts(rollouts, [{} for _ in rollouts], ctx)
    assert [r.index for r in records] == [r.index for r in rollouts]
    for rollout, record in zip(rollouts, records, strict=True):
        expected = ref_episode_labels(rollout.states, rollout.contacts, ctx)
        assert list(record.episode_labels) == list(expected)
        bad = {k: (v, record.episode_labels[k]) for k, v in expected.items() if not same(v, record.episode_labels[k])}
        assert not bad, f"episode {rollout.index}: {bad}"
        for name, values in ref_step_labels(rollout.contacts, T).items():
            assert record.step_labels[name].dtype == values.dtype
            assert np.array_equal(record.step_labels[name], values), name
        single = label_rollout(rollout, {}, ctx)
        assert single.episode_labels.keys() == record.episode_labels.keys()
        assert all(same(v, single.episode_labels[k]) for k, v in record.episode_labels.items())


def test_labels_exercise_every_case():
    """The inputs above are worth comparing on: every label takes both kinds of value somewhere."""
    records = label_rollouts(batch(), [{}] * 24, CONTEXTS[0])
    values = {k: {type(v) for v in (r.episode_labels[k] for r in records)} for k in records[0].episode_labels}
    column = {k: [r.episode_labels[k] for r in records] for k in records[0].episode_labels}
    assert any(column["came_to_rest"]) and not all(column["came_to_rest"])
    assert any(column["left_support__ball"]) and not all(column["left_support__ball"])
    assert max(column["impacts__ball__target"]) > 1 and min(column["impacts__ball__target"]) == 0
    assert any(math.isnan(v) for v in column["friction_cos__ball"])
    assert any(not math.isnan(v) for v in column["friction_cos__ball"])
    assert values["rest_step"] == {int} and values["touched__ground__ball"] == {bool}


def _without_ground(c: Contacts) -> Contacts:
    keep = (c.body_a != 0) & (c.body_b != 0)
    return Contacts(c.step[keep], c.body_a[keep] - 1, c.body_b[keep] - 1, *(x[keep] for x in
                    (c.position, c.normal, c.force_on_a, c.penetration)))


def _contacts(table, layout: Layout) -> Contacts:
    """A dataset's contacts table (one episode, bodies by name) back into `Contacts`."""
    def column(name: str, width: int = 0) -> np.ndarray:
        arr = table[name].combine_chunks()
        values = (arr.flatten() if width else arr).to_numpy(zero_copy_only=False)
        return values.reshape(-1, width) if width else values

    def body(name: str) -> np.ndarray:
        return np.array([layout.bodies.index(b) for b in column(name)], np.int16)

    return Contacts(column("step"), body("body_a"), body("body_b"), column("position", 3),
                    column("normal", 3), column("force_on_a", 3), column("penetration"))


@pytest.mark.genesis
def test_written_labels_match_reference_on_genesis_data(push_target_32):
    """Labels `factory run` wrote (batch path) against the reference on the states and contacts it wrote."""
    from factory import open_dataset
    from factory.labels import label_context
    from factory.recipe.schema import Recipe

    ds = open_dataset(push_target_32)
    ctx = label_context(Recipe.model_validate(ds.manifest["recipe"]), ds.layout)
    for i in range(8):
        ep = ds.episode(i)
        expected = ref_episode_labels(ep.states, _contacts(ep.contacts, ds.layout), ctx)
        bad = {k: (v, ep.labels[k]) for k, v in expected.items() if not same(v, ep.labels[k])}
        assert not bad, f"episode {i}: {bad}"
