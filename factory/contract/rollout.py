"""The contract between engines and everything after them: arrays per episode, with a layout.

Engines fill `Rollout`s; labels and writers read them. Neither side knows the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STATE_FIELDS: tuple[tuple[str, int], ...] = (("pos", 3), ("quat", 4), ("vel", 3), ("ang_vel", 3))
"""Per-object state: position (m), orientation (w, x, y, z), linear (m/s) and angular (rad/s) velocity."""
STATE_COMPONENTS = {"pos": "xyz", "quat": "wxyz", "vel": "xyz", "ang_vel": "xyz"}
STATE_PER_OBJECT = sum(n for _, n in STATE_FIELDS)


def _field_span(name: str) -> tuple[int, int]:
    """(offset within an object's state, width) of a state field."""
    start = 0
    for f, width in STATE_FIELDS:
        if f == name:
            return start, width
        start += width
    raise KeyError(name)


@dataclass(frozen=True)
class RobotBlock:
    """A robot's part of the state, after every object's: each joint's position then each joint's
    velocity (rad or m, rad/s or m/s, in `joints` order), then the end-effector pose."""

    name: str
    joints: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return ([f"{self.name}.{j}.q" for j in self.joints] + [f"{self.name}.{j}.dq" for j in self.joints]
                + [f"{self.name}.ee.pos.{c}" for c in "xyz"] + [f"{self.name}.ee.quat.{c}" for c in "wxyz"])

    @property
    def size(self) -> int:
        return 2 * len(self.joints) + 7

    def to_dict(self) -> dict:
        return {"name": self.name, "joints": list(self.joints)}


@dataclass(frozen=True)
class CameraBlock:
    """What a camera's frames are: which recorded states (every `every`-th from 0), their size and
    streams. rgb is uint8 (H, W, 3); depth float32 (H, W), metres along the optical axis;
    segmentation uint8 (H, W), index into `Layout.bodies` plus 1, 0 where no layout body is seen."""

    name: str
    width: int
    height: int
    streams: tuple[str, ...]
    every: int

    DTYPES = {"rgb": "uint8", "depth": "float32", "segmentation": "uint8"}  # noqa: RUF012 - a class constant

    def shape(self, stream: str) -> tuple[int, ...]:
        """One frame's shape in `stream`."""
        return (self.height, self.width, 3) if stream == "rgb" else (self.height, self.width)

    def steps(self, states: int) -> np.ndarray:
        """The recorded states that have a frame, of an episode with `states` of them."""
        return np.arange(0, states, self.every)

    def to_dict(self) -> dict:
        return {"name": self.name, "width": self.width, "height": self.height, "streams": list(self.streams),
                "every": self.every}

    @classmethod
    def from_dict(cls, d: dict) -> CameraBlock:
        return cls(d["name"], int(d["width"]), int(d["height"]), tuple(d["streams"]), int(d["every"]))


@dataclass(frozen=True)
class Layout:
    """Names and order of what a state and an action vector hold."""

    objects: tuple[str, ...]
    bodies: tuple[str, ...]  # contact body indices refer to this: ("ground", *objects) with a ground
    record_dt: float  # seconds between two recorded states
    points: tuple[str, ...] = ()  # per-point fields of a fluid or cloth, e.g. ("particle_pos", "particle_vel")
    n_points: int = 0  # points recorded per state (a fixed subset of the particles or vertices)
    action_names_override: tuple[str, ...] | None = None  # engines whose actions are not object impulses
    robots: tuple[RobotBlock, ...] = ()  # their blocks follow the objects' in the state
    cameras: tuple[CameraBlock, ...] = ()  # whose frames each Rollout carries

    @property
    def state_names(self) -> list[str]:
        objects = [f"{o}.{f}.{c}" for o in self.objects for f, _ in STATE_FIELDS for c in STATE_COMPONENTS[f]]
        return objects + [n for r in self.robots for n in r.names]

    @property
    def action_names(self) -> list[str]:
        if self.action_names_override is not None:
            return list(self.action_names_override)
        return [f"{o}.impulse.{c}" for o in self.objects for c in "xyz"]

    @property
    def state_size(self) -> int:
        return STATE_PER_OBJECT * len(self.objects) + sum(r.size for r in self.robots)

    @property
    def action_size(self) -> int:
        return len(self.action_names)

    def field(self, states: np.ndarray, obj: str, name: str) -> np.ndarray:
        """View of one field of one object across states: (..., width)."""
        start, width = _field_span(name)
        start += self.objects.index(obj) * STATE_PER_OBJECT
        return states[..., start:start + width]

    def fields(self, states: np.ndarray, name: str) -> np.ndarray:
        """View of one field of every object across states: (..., n_objects, width)."""
        start, width = _field_span(name)
        objects = states[..., :STATE_PER_OBJECT * len(self.objects)]  # robot blocks follow
        per_object = objects.reshape(*states.shape[:-1], len(self.objects), STATE_PER_OBJECT)
        return per_object[..., start:start + width]

    def robot_span(self, name: str) -> tuple[int, int]:
        """(start, stop) of robot `name`'s block in a state vector."""
        start = STATE_PER_OBJECT * len(self.objects)
        for r in self.robots:
            if r.name == name:
                return start, start + r.size
            start += r.size
        raise KeyError(name)

    def to_dict(self) -> dict:
        d = {"objects": list(self.objects), "bodies": list(self.bodies), "record_dt": self.record_dt,
             "points": list(self.points), "n_points": self.n_points, "action_names": self.action_names}
        if self.robots:  # absent from object-only manifests, which stay as they were
            d["robots"] = [r.to_dict() for r in self.robots]
        if self.cameras:  # likewise
            d["cameras"] = [c.to_dict() for c in self.cameras]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Layout:
        robots = tuple(RobotBlock(r["name"], tuple(r["joints"])) for r in d.get("robots", ()))
        cameras = tuple(CameraBlock.from_dict(c) for c in d.get("cameras", ()))
        layout = cls(tuple(d["objects"]), tuple(d["bodies"]), float(d["record_dt"]),
                     tuple(d.get("points", ())), int(d.get("n_points", 0)), robots=robots)
        names = tuple(d.get("action_names", layout.action_names))
        return cls(layout.objects, layout.bodies, layout.record_dt, layout.points, layout.n_points,
                   None if list(names) == layout.action_names else names, robots, cameras)


@dataclass(frozen=True)
class Contacts:
    """Contact points, one row each, observed at recorded states (column-wise arrays)."""

    step: np.ndarray  # int32: index of the recorded state at which the contact was observed (1..T)
    body_a: np.ndarray  # int16: index into Layout.bodies
    body_b: np.ndarray  # int16
    position: np.ndarray  # float32 (n, 3), world frame
    normal: np.ndarray  # float32 (n, 3)
    force_on_a: np.ndarray  # float32 (n, 3), N; body b feels the opposite
    penetration: np.ndarray  # float32 (n,), m

    COLUMNS = ("step", "body_a", "body_b", "position", "normal", "force_on_a", "penetration")

    @classmethod
    def empty(cls) -> Contacts:
        return cls(np.zeros(0, np.int32), np.zeros(0, np.int16), np.zeros(0, np.int16),
                   np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32),
                   np.zeros((0, 3), np.float32), np.zeros(0, np.float32))

    @classmethod
    def concat(cls, parts: list[Contacts]) -> Contacts:
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, c) for p in parts]) for c in cls.COLUMNS))

    def __len__(self) -> int:
        return len(self.step)

    @property
    def force(self) -> np.ndarray:
        return np.linalg.norm(self.force_on_a, axis=-1)


@dataclass(frozen=True)
class Rollout:
    """One simulated episode as recorded: T+1 states, T actions, the contacts seen."""

    index: int
    states: np.ndarray  # float32 (T+1, state_size)
    actions: np.ndarray  # float32 (T, action_size): impulse applied to each object during the transition
    contacts: Contacts = field(default_factory=Contacts.empty)
    points: dict[str, np.ndarray] = field(default_factory=dict)  # Layout.points → float32 (T+1, n_points, 3)
    point_index: np.ndarray | None = None  # which particles / vertices the points are (same every episode)
    frames: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # camera → stream → (F, *frame shape)

    @property
    def transitions(self) -> int:
        return len(self.actions)


@dataclass(frozen=True)
class EpisodeRecord:
    """A rollout with what sampling and labelling added: ready for any writer."""

    rollout: Rollout
    params: dict[str, float]
    step_labels: dict[str, np.ndarray]  # each (T,)
    episode_labels: dict[str, float | int | bool]
    frame_labels: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # camera → label → (F, bodies, ...)

    @property
    def index(self) -> int:
        return self.rollout.index
