"""Data checks that need no model: pure numpy functions over recorded arrays, and one streaming
accumulator that applies them episode by episode.

Each check answers one question a data team asks before training on a dataset: are the numbers
finite, do bodies overlap, does energy appear from nowhere, do pushes move what they push, do the
labels agree with the states, does sampling cover every randomized parameter, are episodes
repeated.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from itertools import combinations
from typing import Annotated, Any

import numpy as np
from pydantic import Field, TypeAdapter
from scipy.spatial import ConvexHull

from factory.contract.rollout import Layout
from factory.errors import FactoryError
from factory.labels.collision import LabelContext, left_support_step, rest_step
from factory.labels.strike import motion_labels
from factory.meshes import MeshAsset
from factory.names import (
    BALLS_MOVED,
    CAME_TO_REST,
    FINAL_X,
    FINAL_Y,
    FIRST_CONTACT,
    FIRST_HIT,
    LEFT_SUPPORT,
    MAX_SPEED,
    MOVED,
    REST_STEP,
    TOUCHED,
    body_label,
    label_family,
    label_prefix,
    pair_label,
)
from factory.recipe.distributions import Distribution
from factory.recipe.meshes import MESH_TYPES, MeshBody, shape_asset

GEOMETRY_TOL = 0.01  # m: slack for contact geometry read from recorded (subsampled) states


# ---------------------------------------------------------------- bodies
@dataclass(frozen=True, eq=False)
class Body:
    """What the checks need of one rigid body: mass, extent and inertia in its own frame."""

    shape: str  # sphere, box, cylinder, or mesh (a file's or a generated container's convex parts)
    mass: float
    dims: tuple[float, ...]  # sphere (r,), box (x, y, z), cylinder (r, h), mesh its bounding box about the centre
    inertia: np.ndarray  # (3, 3) kg·m² about the centre of mass, body frame
    hull: np.ndarray | None = None  # a mesh's hull vertices (n, 3), body frame: its support in any direction
    core: float = 0.0  # a mesh's largest ball about its centre of mass inside one of its convex parts

    @property
    def inner(self) -> float:
        """Radius of the largest ball about the centre inside the body."""
        if self.shape == "box":
            return min(self.dims) / 2
        if self.shape == "cylinder":
            return min(self.dims[0], self.dims[1] / 2)
        return self.core if self.shape == "mesh" else self.dims[0]

    @property
    def outer(self) -> float:
        """Radius of the smallest ball about the centre around the body."""
        if self.shape == "box":
            return float(np.linalg.norm(self.dims)) / 2
        if self.shape == "cylinder":
            return float(np.hypot(self.dims[0], self.dims[1] / 2))
        if self.hull is not None:
            return float(np.linalg.norm(self.hull, axis=-1).max())
        return self.dims[0]

    @property
    def half(self) -> tuple[float, ...]:
        """Half-extents of the box about the centre that holds the body, in its frame."""
        if self.shape == "sphere":
            return (self.dims[0],) * 3
        if self.shape == "cylinder":
            return self.dims[0], self.dims[0], self.dims[1] / 2
        return tuple(d / 2 for d in self.dims)

    def lowest(self, rot: np.ndarray) -> np.ndarray:
        """Depth of the body's lowest point below its centre, for rotations (..., 3, 3)."""
        if self.hull is not None:
            return -(rot[..., 2, :] @ self.hull.T).min(-1)
        if self.shape == "box":
            return (np.abs(rot[..., 2, :]) * np.asarray(self.dims) / 2).sum(-1)
        if self.shape == "cylinder":
            c = np.abs(rot[..., 2, 2])
            return c * self.dims[1] / 2 + self.dims[0] * np.sqrt(np.clip(1 - c ** 2, 0, 1))
        return np.full(rot.shape[:-2], self.dims[0])


def make_body(shape: str, mass: float, dims: tuple[float, ...]) -> Body:
    if shape == "sphere":
        i = 0.4 * mass * dims[0] ** 2
        inertia = (i, i, i)
    elif shape == "box":
        x, y, z = dims
        inertia = (mass * (y * y + z * z) / 12, mass * (x * x + z * z) / 12, mass * (x * x + y * y) / 12)
    else:
        r, h = dims
        side = mass * (3 * r * r + h * h) / 12
        inertia = (side, side, mass * r * r / 2)
    return Body(shape, mass, tuple(dims), np.diag(inertia))


def mesh_body(mass: float, asset: MeshAsset) -> Body:
    """A mesh body from its convex parts: the hull of their vertices bounds it in every direction, and a
    ball about the centre of mass inside one part is inside the body (a mug's centre, in its cavity, has none)."""
    points = np.concatenate([v for v, _ in asset.parts])
    hull = points[ConvexHull(points).vertices]
    core = max(max(0.0, float(-ConvexHull(v).equations[:, 3].max())) for v, _ in asset.parts)
    return Body("mesh", mass, tuple(2 * np.abs(hull).max(0)), asset.inertia * mass, hull, core)


_DIMS = {"sphere": ("radius",), "box": ("size.x", "size.y", "size.z"), "cylinder": ("radius", "height")}
_MESH_SHAPE: TypeAdapter = TypeAdapter(Annotated[MeshBody, Field(discriminator="type")])


def bodies_for(recipe: dict, params: dict[str, float]) -> dict[str, Body]:
    """Each object's body as drawn for one episode (`params` keyed 'ball.mass', 'target.size.x', 'bunny.mesh')."""
    out = {}
    for obj in recipe["scene"]["objects"]:
        n, shape = obj["name"], obj["shape"]["type"]
        if shape in MESH_TYPES:  # the file and sizes this episode drew, as sampling weighed it
            drawn = {key.removeprefix(f"{n}."): value for key, value in params.items() if key.startswith(f"{n}.")}
            out[n] = mesh_body(params[f"{n}.mass"], shape_asset(_MESH_SHAPE.validate_python(obj["shape"]), drawn))
            continue
        if shape not in _DIMS:
            raise FactoryError(f"object '{n}' is a '{shape}': the physics checks and the baseline model know "
                               f"{', '.join((*_DIMS, *MESH_TYPES))} bodies only")
        out[n] = make_body(shape, params[f"{n}.mass"], tuple(params[f"{n}.{d}"] for d in _DIMS[shape]))
    return out


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Unit quaternions (..., 4) as (w, x, y, z) → rotation matrices (..., 3, 3)."""
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], -2)


# ---------------------------------------------------------------- physics checks
def nonfinite(*arrays: np.ndarray) -> int:
    return int(sum(np.size(a) - np.count_nonzero(np.isfinite(a)) for a in arrays))


def energies(states: np.ndarray, layout: Layout, bodies: dict[str, Body], gravity: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """(kinetic, total) mechanical energy per state, J; potential relative to the origin."""
    kinetic = np.zeros(len(states))
    potential = np.zeros(len(states))
    for name, body in bodies.items():
        vel, omega = layout.field(states, name, "vel"), layout.field(states, name, "ang_vel")
        rot = quat_to_matrix(layout.field(states, name, "quat"))
        body_omega = np.einsum("tji,tj->ti", rot, omega)  # world → body frame
        spin = np.einsum("ti,ij,tj->t", body_omega, body.inertia, body_omega)
        kinetic += 0.5 * body.mass * (vel ** 2).sum(-1) + 0.5 * spin
        potential -= body.mass * layout.field(states, name, "pos") @ gravity
    return kinetic, kinetic + potential


def energy_gain(states: np.ndarray, actions: np.ndarray, layout: Layout, bodies: dict[str, Body],
                gravity: np.ndarray) -> float:
    """Largest rise of energy above its highest value since the last action, relative to the
    episode's peak kinetic energy: passive rigid bodies may conserve energy but never gain it.

    Against the running peak rather than the previous state, because contacts are springs: a
    recorded state inside an elastic impact holds part of the energy in the (unrecorded) contact
    spring, and the next state gets it back, which is no gain over the energy before the impact.
    """
    kinetic, total = energies(states, layout, bodies, gravity)
    scale = kinetic.max()
    pushed = np.any(actions != 0, axis=1)
    if scale < 1e-9 or pushed.all():
        return 0.0
    return float(max(passive_rise(total, pushed).max(), 0.0) / scale)


def passive_rise(total: np.ndarray, pushed: np.ndarray) -> np.ndarray:
    """For each transition t, total[t+1] minus the highest total since the last pushed transition
    (its end state included); -inf where t itself is pushed."""
    rise = np.full(len(pushed), -np.inf)
    peak = total[0]
    for t, p in enumerate(pushed):
        if p:
            peak = total[t + 1]
            continue
        rise[t] = total[t + 1] - peak
        peak = max(peak, total[t + 1])
    return rise


def action_residuals(states: np.ndarray, actions: np.ndarray, layout: Layout, bodies: dict[str, Body]
                     ) -> np.ndarray:
    """|m Δv − J| / |J| for each pushed object and transition: ≈0 when pushes move what they push."""
    out = []
    for o, name in enumerate(layout.objects):
        impulse = actions[:, 3 * o:3 * o + 3]
        pushed = np.linalg.norm(impulse, axis=-1) > 1e-9
        if not pushed.any():
            continue
        dv = np.diff(layout.field(states, name, "vel"), axis=0)[pushed]
        dp = bodies[name].mass * dv
        out.append(np.linalg.norm(dp - impulse[pushed], axis=-1) / np.linalg.norm(impulse[pushed], axis=-1))
    return np.concatenate(out) if out else np.zeros(0)


# ---------------------------------------------------------------- labels
def label_readouts(states: np.ndarray, ctx: LabelContext, bodies: dict[str, Body]) -> dict[str, object]:
    """Labels read from states alone; touches use centre distances against mid-extent radii."""
    layout = ctx.layout
    out: dict[str, object] = {}
    pos = {n: layout.field(states, n, "pos") for n in layout.objects}
    for a, b in combinations([b for b in layout.bodies if b == "ground" or b in pos], 2):  # not a robot's links
        if a == "ground" or b == "ground":
            obj = b if a == "ground" else a
            low = pos[obj][:, 2] - bodies[obj].lowest(quat_to_matrix(layout.field(states, obj, "quat")))
            out[pair_label(TOUCHED, a, b)] = bool(low.min() <= ctx.ground_height + GEOMETRY_TOL)
            continue
        reach = (bodies[a].inner + bodies[a].outer + bodies[b].inner + bodies[b].outer) / 2
        out[pair_label(TOUCHED, a, b)] = bool(np.linalg.norm(pos[a] - pos[b], axis=-1).min() <= reach)
    moving = [n for n in layout.objects if n not in ctx.fixed]
    if moving:
        speeds = np.stack([np.linalg.norm(layout.field(states, n, "vel"), axis=-1) for n in moving], 1)
        out[CAME_TO_REST] = rest_step(speeds, ctx.rest_speed) >= 0
        out[REST_STEP] = rest_step(speeds, ctx.rest_speed)
    if ctx.striker is not None:
        motion = motion_labels(states[None], layout, moving, ctx.striker)
        out.update({name: values[0] for name, values in motion.items()})
    for n in moving:
        out[body_label(MAX_SPEED, n)] = float(np.linalg.norm(layout.field(states, n, "vel"), axis=-1).max())
        if "ground" in layout.bodies:
            out[body_label(LEFT_SUPPORT, n)] = left_support_step(pos[n], ctx) >= 0
    return out


def label_mismatches(states: np.ndarray, labels: dict[str, Any], ctx: LabelContext,
                     bodies: dict[str, Body]) -> list[str]:
    """Names of labels that contradict the states: exact re-derivations must match, and touches
    must be geometrically possible (touching bodies are within reach; untouched ones never overlap)."""
    layout, bad = ctx.layout, []
    read = label_readouts(states, ctx, bodies)
    exact = (LEFT_SUPPORT, MAX_SPEED, MOVED, FINAL_X, FINAL_Y, BALLS_MOVED)
    for name in (CAME_TO_REST, REST_STEP, *(k for k in read if label_family(k) in exact)):
        if name in labels and name in read and not agrees(read[name], labels[name]):
            bad.append(name)
    for a, b in combinations(layout.objects, 2):
        touched = pair_label(TOUCHED, a, b)
        if touched not in labels:
            continue
        dist = np.linalg.norm(layout.field(states, a, "pos") - layout.field(states, b, "pos"), axis=-1)
        first = int(labels.get(pair_label(FIRST_CONTACT, a, b), -1))
        if labels[touched] and first >= 0:
            if closest_bound(states, layout, a, b, first) > bodies[a].outer + bodies[b].outer + GEOMETRY_TOL:
                bad.append(touched)
        elif dist.min() < bodies[a].inner + bodies[b].inner - GEOMETRY_TOL:
            bad.append(touched)
    if ctx.striker is not None:
        bad += first_hit_mismatches(labels, ctx.striker)
    return bad


def closest_bound(states: np.ndarray, layout: Layout, a: str, b: str, k: int) -> float:
    """A lower bound on how close a and b came during the transition that ends at state k.

    The contact is live at state k (dist[k]), or was seen before it (elastic scenes read contacts
    between records: the impact may be over by then), when neither end's distance can shrink faster
    than the larger relative speed at the two ends allows (an impact does not speed a pair apart).
    """
    dist = np.linalg.norm(layout.field(states, a, "pos") - layout.field(states, b, "pos"), axis=-1)
    if k == 0:
        return float(dist[0])
    rel = np.linalg.norm(layout.field(states, a, "vel") - layout.field(states, b, "vel"), axis=-1)
    return float(min(dist[k], max(dist[k - 1], dist[k]) - max(rel[k - 1], rel[k]) * layout.record_dt))


def first_hit_mismatches(labels: dict[str, Any], striker: str) -> list[str]:
    """The striker's first hit must be the touched ball with the earliest first contact (whose
    touch the geometry check above vouches for), and there is one exactly when it touched a ball."""
    firsts = {}
    hit = label_prefix(FIRST_HIT, striker)
    for name in labels:
        if name.startswith(hit):
            ball = name.removeprefix(hit)
            pair = pair_label(FIRST_CONTACT, striker, ball)
            firsts[name] = int(labels.get(pair if pair in labels else pair_label(FIRST_CONTACT, ball, striker), -1))
    touched = [step for step in firsts.values() if step >= 0]
    chosen = [name for name in firsts if labels[name]]
    if (len(chosen) == 1) != bool(touched) or len(chosen) > 1 or \
            (chosen and firsts[chosen[0]] != min(touched)):
        return chosen or [body_label(FIRST_HIT, striker)]
    return []


def agrees(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return bool(np.isclose(float(a), float(b), rtol=1e-3, atol=1e-4, equal_nan=True))
    return a == b


# ---------------------------------------------------------------- robots
CREEP_TOL = 1e-3  # m: how far a resting object may shift (settling into soft contact) before anything touches it


def first_touches(objects: list[str], episode: np.ndarray, step: np.ndarray, body_a: np.ndarray,
                  body_b: np.ndarray) -> dict[tuple[int, str], int]:
    """(episode, object) → the first recorded step at which anything but the ground (a robot's link, another
    object) touches the object, from the contacts table's columns (bodies by name); absent if nothing does."""
    out: dict[tuple[int, str], int] = {}
    for obj in objects:
        hit = ((body_a == obj) & (body_b != "ground") & (body_b != obj)) | \
              ((body_b == obj) & (body_a != "ground") & (body_a != obj))
        for e, k in zip(episode[hit].tolist(), step[hit].tolist(), strict=True):
            out[(e, obj)] = min(out.get((e, obj), k), k)
    return out


def creep_before_touch(states: np.ndarray, layout: Layout, obj: str, first: int) -> float:
    """How far (m, horizontally) `obj` moved from its first state before the first touch at recorded step
    `first` (-1: never touched, the whole episode). A contact seen at step k acted within the interval
    that ends there, so the states before k must still hold the object where it started."""
    pos = layout.field(states, obj, "pos")[:, :2].astype(np.float64)
    upto = len(pos) if first < 0 else first
    return float(np.linalg.norm(pos[:upto] - pos[0], axis=-1).max()) if upto else 0.0


def at_rest(states: np.ndarray, layout: Layout, obj: str, speed: float) -> bool:
    """Whether `obj` starts the episode still (a launched object moves before anything touches it)."""
    return bool(np.linalg.norm(layout.field(states[:1], obj, "vel")) <= speed)


def robot_action_start(layout: Layout, robot: str) -> int:
    """Where robot `robot`'s commands start in the action vector (its action names start with its name)."""
    return next(i for i, n in enumerate(layout.action_names) if n.startswith(f"{robot}."))


# ---------------------------------------------------------------- diversity
def episode_digest(states: np.ndarray, actions: np.ndarray, decimals: int = 5) -> str:
    """A hash of an episode's rounded arrays: equal digests mean duplicate episodes."""
    h = hashlib.sha1(np.round(states.astype(np.float64), decimals).tobytes())
    h.update(np.round(actions.astype(np.float64), decimals).tobytes())
    return h.hexdigest()


def declared_range(value: object) -> tuple[float, float, bool] | None:
    """(low, high, log-spaced) a recipe value is drawn over; None when fixed. Unbounded normals
    are taken over mean ± 2 std, where 95% of draws land."""
    if not isinstance(value, dict):
        return None
    dist = TypeAdapter(Distribution).validate_python(value)
    low, high = dist.support()
    if value["type"] == "normal":
        low = max(low, value["mean"] - 2 * value["std"])
        high = min(high, value["mean"] + 2 * value["std"])
    return (low, high, value["type"] == "log_uniform") if high > low else None


def recipe_value(recipe: dict, name: str) -> object:
    """The recipe entry an episode parameter was drawn from: 'ball.pos.x', 'actions.0.impulse',
    'arm.initial.joint1'; None where the recipe holds no such entry (a value the engine derives)."""
    parts = name.split(".")
    if parts[0] == "actions":
        node: Any = recipe["actions"][int(parts[1])]
        rest = parts[2:]
        if rest == ["roll"]:
            return {"type": "uniform", "low": 0.0, "high": 1.0}
    elif parts[0] in ("ground", "fluid", "cloth"):
        node, rest = recipe["scene"][parts[0]], parts[1:]
    else:
        named = [*recipe["scene"]["objects"], *recipe.get("robots", ())]
        node = next((o for o in named if o["name"] == parts[0]), None)
        if node is None:
            return None
        rest = parts[1:]
        if rest[0] in ("radius", "height", "size") and "shape" in node:
            node = node["shape"]
    for key in rest:
        if isinstance(node, list):
            node = node["xyz".index(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return None
    return node


def coverage(values: np.ndarray, low: float, high: float, log: bool = False, bins: int = 10) -> dict:
    """Histogram of drawn values over the declared range and the fraction of its bins filled."""
    edges = np.geomspace(low, high, bins + 1) if log and low > 0 else np.linspace(low, high, bins + 1)
    counts, _ = np.histogram(np.clip(values, low, high), edges)
    return {"edges": edges.tolist(), "counts": counts.tolist(), "filled": float((counts > 0).mean())}
