"""A small deterministic rigid-body scene: what one agent's copy of a Unity scene would simulate.

Spheres roll (friction torque included); boxes and cylinders slide without rotating and touch
other bodies as spheres of their smallest half-extent. Contacts are resolved with impulses, one
pass per step, combining the two sides' values as the kit's physic materials do in Unity
(`PhysicMaterialCombine.Average`): friction and restitution are the means of the pair's values,
the ground included (its restitution is 0 unless the recipe sets one).

Bounces follow Unity's rule: a contact bounces only when the bodies approach faster than the bounce
threshold (`factory.bounce_threshold`, m/s; Unity's default 2 m/s when the key is absent); slower
contacts are plastic, so bodies come to rest. Gravity is integrated exactly over a step, and a
bouncing body is placed where it would be had it bounced at the moment of touching (found from its
penetration and speed), so the contact removes exactly the energy e says: a body dropped from h
rebounds to e^2 h. Two bodies' relative motion is taken as unaccelerated within a step.
Enough physics to make believable, checkable data; not a reference simulator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from engines.unity.protocol import pair_restitution

UNITY_BOUNCE_THRESHOLD = 2.0  # m/s, Physics.bounceThreshold's default in Unity: a build without the key
Param = Callable[[str, float], float]  # (name, default) -> value for this agent's episode
ContactRow = tuple[str, str, np.ndarray]  # body a, body b, CONTACT_FLOATS values


@dataclass
class Body:
    name: str
    radius: float  # contact radius against other bodies
    half_height: float  # contact extent against the ground
    rolls: bool
    mass: float  # inf for a fixed body
    friction: float
    restitution: float
    pos: np.ndarray
    quat: np.ndarray  # w, x, y, z
    vel: np.ndarray
    ang_vel: np.ndarray

    @classmethod
    def from_params(cls, name: str, p: Param) -> Body:
        def vec(field_: str, default: tuple[float, ...]) -> np.ndarray:
            return np.array([p(f"{name}.{field_}.{c}", d)
                             for c, d in zip("wxyz"[4 - len(default):], default, strict=True)])

        if p(f"{name}.size.x", -1.0) > 0:
            size = [p(f"{name}.size.{c}", 0.0) for c in "xyz"]
            radius, half_height, rolls = min(size) / 2, size[2] / 2, False
        elif p(f"{name}.height", -1.0) > 0:
            radius, half_height, rolls = p(f"{name}.radius", 0.1), p(f"{name}.height", 0.0) / 2, False
        else:
            radius = p(f"{name}.radius", 0.1)
            half_height, rolls = radius, True
        fixed = p(f"{name}.fixed", 0.0) > 0.5
        return cls(name, radius, half_height, rolls, np.inf if fixed else p(f"{name}.mass", 1.0),
                   p(f"{name}.friction", 0.5), p(f"{name}.restitution", 0.0),
                   vec("pos", (0.0, 0.0, 0.0)), vec("quat", (1.0, 0.0, 0.0, 0.0)),
                   np.zeros(3) if fixed else vec("vel", (0.0, 0.0, 0.0)),
                   np.zeros(3) if fixed else vec("ang_vel", (0.0, 0.0, 0.0)))

    @property
    def inv_mass(self) -> float:
        return 0.0 if np.isinf(self.mass) else 1.0 / self.mass

    def state(self) -> np.ndarray:
        return np.concatenate([self.pos, self.quat, self.vel, self.ang_vel])


@dataclass
class Ground:
    height: float
    friction: float
    restitution: float
    half_size: np.ndarray | None  # table top half extent (x, y), None for an infinite plane

    def under(self, pos: np.ndarray) -> bool:
        return self.half_size is None or bool((np.abs(pos[:2]) <= self.half_size).all())


@dataclass
class World:
    """One episode slot: bodies in the build's authored order, plus an optional ground."""

    names: tuple[str, ...]
    bodies: list[Body] = field(default_factory=list)
    ground: Ground | None = None
    step_count: int = 0

    def reset(self, p: Param) -> None:
        self.bodies = [Body.from_params(n, p) for n in self.names]
        self.ground = None
        height = p("ground.height", math.nan)
        if not math.isnan(height):
            size = p("ground.size.x", -1.0), p("ground.size.y", -1.0)
            self.ground = Ground(height, p("ground.friction", 0.5), p("ground.restitution", 0.0),
                                 np.array(size) / 2 if size[0] > 0 else None)
        self.step_count = 0

    def observation(self) -> np.ndarray:
        return np.concatenate([b.state() for b in self.bodies])

    def step(self, impulses: np.ndarray, dt: float, gravity: np.ndarray,
             bounce_threshold: float) -> list[ContactRow]:
        """Apply each body's impulse (n, 3), advance dt, resolve contacts (bouncing only above
        `bounce_threshold`, m/s); returns the contacts."""
        for body, impulse in zip(self.bodies, impulses, strict=True):
            if body.inv_mass:
                body.vel = body.vel + impulse * body.inv_mass
                body.pos = body.pos + body.vel * dt + 0.5 * gravity * dt ** 2
                body.vel = body.vel + gravity * dt
                body.quat = _integrate(body.quat, body.ang_vel, dt)
        contacts = []
        if self.ground is not None:
            fall = max(0.0, -float(gravity[2]))  # acceleration into the ground
            contacts += [c for b in self.bodies if (c := self._ground_contact(b, dt, fall, bounce_threshold))]
        for a, b in combinations(self.bodies, 2):
            if c := _pair_contact(a, b, dt, bounce_threshold):
                contacts.append(c)
        self.step_count += 1
        return contacts

    def _ground_contact(self, body: Body, dt: float, fall: float, threshold: float) -> ContactRow | None:
        g = self.ground
        assert g is not None
        depth = g.height + body.half_height - body.pos[2]
        if depth <= 0 or not body.inv_mass or not g.under(body.pos):
            return None
        n = np.array([0.0, 0.0, 1.0])
        arm = -body.half_height * n  # contact point relative to the centre
        vn = body.vel[2]
        e = pair_restitution(body.restitution, g.restitution)
        rise, v_out = _rebound(-vn, depth, fall, e) if -vn > threshold else (0.0, 0.0)
        jn = max(0.0, (v_out - vn) * body.mass)
        point = body.pos + arm + depth * n  # on the surface
        body.vel = body.vel + jn * body.inv_mass * n
        slip = body.vel + (np.cross(body.ang_vel, arm) if body.rolls else 0.0)
        slip = slip - slip.dot(n) * n
        speed = np.linalg.norm(slip)
        jt = np.zeros(3)
        if speed > 0:
            effective = body.mass / 3.5 if body.rolls else body.mass  # solid sphere: 1/m + r^2/I = 3.5/m
            jt = -min(speed * effective, (body.friction + g.friction) / 2 * jn) * slip / speed
            body.vel = body.vel + jt * body.inv_mass
            if body.rolls:
                inertia = 0.4 * body.mass * body.radius ** 2
                body.ang_vel = body.ang_vel + np.cross(arm, jt) / inertia
        body.pos = body.pos + (depth + rise) * n
        force_on_ground = -(jn * n + jt) / dt
        values = np.concatenate([point, n, force_on_ground, [depth]])
        return "ground", body.name, values.astype(np.float32)


def _pair_contact(a: Body, b: Body, dt: float, threshold: float) -> ContactRow | None:
    d = b.pos - a.pos
    dist = float(np.linalg.norm(d))
    depth = a.radius + b.radius - dist
    inv = a.inv_mass + b.inv_mass
    if depth <= 0 or dist == 0 or inv == 0:
        return None
    n = d / dist
    vn = (b.vel - a.vel).dot(n)
    e = pair_restitution(a.restitution, b.restitution)
    rise, v_out = _rebound(-vn, depth, 0.0, e) if -vn > threshold else (0.0, 0.0)
    j = max(0.0, (v_out - vn) / inv)
    a.vel = a.vel - j * a.inv_mass * n
    b.vel = b.vel + j * b.inv_mass * n
    shift = depth + rise
    a.pos = a.pos - shift * a.inv_mass / inv * n
    b.pos = b.pos + shift * b.inv_mass / inv * n
    values = np.concatenate([a.pos + n * a.radius, n, -j * n / dt, [depth]])
    return a.name, b.name, values.astype(np.float32)


def _rebound(approach: float, depth: float, accel: float, e: float) -> tuple[float, float]:
    """(separation, separating speed) now, for a contact that began earlier in the step: found at
    `depth` with speed `approach`, under constant acceleration `accel` (>= 0) into the surface, it
    bounced at the moment of touching with e times the touching speed. Plastic (0, 0) if it would
    already have come back down."""
    touch = math.sqrt(max(approach ** 2 - 2 * accel * depth, 0.0))
    since = (approach - touch) / accel if accel > 0 else depth / approach
    out = e * touch
    rise = out * since - 0.5 * accel * since ** 2
    return (rise, out - accel * since) if rise > 0 else (0.0, 0.0)


def _integrate(q: np.ndarray, w: np.ndarray, dt: float) -> np.ndarray:
    """q + dt/2 * (0, w) * q, renormalised (world-frame angular velocity)."""
    w0, x, y, z = q
    wx, wy, wz = w
    dq = 0.5 * np.array([-wx * x - wy * y - wz * z,
                         wx * w0 + wy * z - wz * y,
                         wy * w0 + wz * x - wx * z,
                         wz * w0 + wx * y - wy * x])
    q = q + dt * dq
    return q / np.linalg.norm(q)
