"""An open cup the factory generates from its recipe, the tilt that pours it, and their geometry.

A cup is a floor and four walls of one thickness around a box-shaped cavity, open at the top. Its
`pos` is the centre of its outer box, which is also where its mass is centred, so the pose an
engine reports is the pose the cavity is measured in. A generated `mug` pours too: its cavity is
round, in its own frame (centred on its centre of mass, `factory.meshes.generated`). A cavity is
`(lower, upper)`, the box's corners, or `(lower, upper, radius)` for a round one about the vertical
through the middle of that box. The geometry below is plain arithmetic on the recipe, shared by the
engine that builds the walls and by the labels that ask which particles are still inside.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from factory.meshes.generated import SECTIONS, mug_cavity
from factory.recipe.distributions import nominal, support
from factory.recipe.field_types import FixedVec3, Name, Num, Strict, require_range
from factory.recipe.generated import MugShape, generated_asset, largest
from factory.recipe.particles import Move

# the lip a cup pours over, as a side of its outer box → the axis (body frame) a positive tilt turns about
LIP_AXES = {"+x": (0.0, 1.0, 0.0), "-x": (0.0, -1.0, 0.0), "+y": (-1.0, 0.0, 0.0), "-y": (1.0, 0.0, 0.0)}


class CupShape(Strict):
    """An open-topped container: a cavity of `inner` size inside walls and a floor `wall` thick."""

    type: Literal["cup"]
    inner: FixedVec3 = Field(description="Cavity size along x, y, z in metres (z: floor to rim).")
    wall: float = Field(description="Thickness of the floor and of the four walls, in metres; "
                        "less than every cavity size.")

    def validate_physical(self) -> None:
        for axis, s in zip("xyz", self.inner, strict=True):
            require_range(s, f"shape.inner.{axis}", 0.0)
        require_range(self.wall, "shape.wall", 0.0)
        if self.wall >= min(self.inner):
            raise ValueError(f"shape.wall: a wall {self.wall:g} m thick is not thinner than the cavity's smallest "
                             f"size ({min(self.inner):g} m); make it thinner or the cup larger")

    @property
    def outer(self) -> np.ndarray:
        ix, iy, iz = self.inner
        return np.array([ix + 2 * self.wall, iy + 2 * self.wall, iz + self.wall])

    def boxes(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(centre, size) of the floor and the four walls, in the cup's frame. Every wall runs the outer
        box's full height and width and overlaps its neighbours: where two boxes only met at a seam, a
        particle pressed into the corner could slide out along the seam (on Genesis neither box's
        distance field faces it), so every way out of the cavity crosses the face of some box."""
        (ix, iy, _), w = self.inner, self.wall
        ox, oy, oz = self.outer
        return [(np.array([0.0, 0.0, (w - oz) / 2]), np.array([ox, oy, w])),
                *((np.array([s * (ix + w) / 2, 0.0, 0.0]), np.array([w, oy, oz])) for s in (-1, 1)),
                *((np.array([0.0, s * (iy + w) / 2, 0.0]), np.array([ox, w, oz])) for s in (-1, 1))]

    def cavity(self) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) corners of the cavity in the cup's frame: floor top to rim."""
        half = np.array(self.inner[:2]) / 2
        oz = self.outer[2]
        return np.array([-half[0], -half[1], self.wall - oz / 2]), np.array([half[0], half[1], oz / 2])

    def lip(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        """(point, axis) of the lip on `side`, in the cup's frame: the outer top edge a tilt turns about."""
        point = self.outer / 2
        point[1 if side[1] == "x" else 0] = 0.0  # the middle of that top edge
        point[0 if side[1] == "x" else 1] *= 1.0 if side[0] == "+" else -1.0
        return point, np.array(LIP_AXES[side])


Cavity = tuple  # (lower, upper) corners in the container's frame, or (lower, upper, radius) when round
POURING = ("cup", "mug")  # the shapes a tilt pours from and into


def container_cavity(shape: CupShape | MugShape, drawn: dict[str, float] | None = None) -> Cavity:
    """A container's cavity in its frame: a cup's box, a mug's round one at its `drawn` sizes (else nominal)."""
    if isinstance(shape, CupShape):
        return shape.cavity()
    size = {name: (drawn or {}).get(name, nominal(value)) for name, value in shape.sizes().items()}
    return mug_cavity(size["radius"], size["height"], size["thickness"], shape.handle)


def container_lip(shape: CupShape | MugShape, side: str) -> tuple[np.ndarray, np.ndarray]:
    """(point, axis) of the outer top edge on `side` a tilt turns about, in the container's frame."""
    if isinstance(shape, CupShape):
        return shape.lip(side)
    lower, upper, _ = container_cavity(shape)
    point = (lower + upper) / 2
    point[2] = upper[2]
    point[0 if side[1] == "x" else 1] += (1 if side[0] == "+" else -1) * nominal(shape.radius) * math.cos(
        math.pi / SECTIONS)  # the wall's outer face, flat on the axes' directions
    return point, np.array(LIP_AXES[side])


def in_cavity_frame(local: np.ndarray, cavity: Cavity, slack: float) -> np.ndarray:
    """Which points (..., 3), given in the container's frame, lie in its cavity give or take `slack`."""
    lower, upper = cavity[0], cavity[1]
    inside = np.all((local >= lower - slack) & (local <= upper + slack), axis=-1)
    if len(cavity) == 3:
        axis = (lower[:2] + upper[:2]) / 2
        inside &= np.linalg.norm(local[..., :2] - axis, axis=-1) <= cavity[2] + slack
    return inside


def rotation_matrices(quat: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations of unit quaternions (T, 4), w first."""
    w, x, y, z = np.moveaxis(np.asarray(quat, np.float64), -1, 0)
    return np.stack([np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
                     np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
                     np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], axis=-2)


class Tilt(Strict):
    """Tilts a cup about its lip at an angular velocity drawn per episode, pouring into another cup.

    The cup turns from step `start` until it reaches `max_angle_deg` or step `stop`; each
    transition's action is its angular velocity (rad/s, world frame)."""

    type: Literal["tilt"]
    object: Name = Field(description="The cup that pours: a fixed object of shape 'cup' or 'mug'.")
    into: Name = Field(description="The container it pours into: another fixed 'cup' or 'mug' (for the labels).")
    lip: Literal["+x", "-x", "+y", "-y"] = Field("+x", description="The side of the cup it pours over.")
    angular_velocity: Num = Field(description="rad/s about the lip, >= 0 (0: the cup stays upright).")
    max_angle_deg: Num = Field(180.0, description="The tilt stops at this angle, degrees (0-180].")
    start: int = Field(0, ge=0)
    stop: int | None = Field(None, ge=1, description="Step at which it stops (default: the episode's end).")

    @model_validator(mode="after")
    def _physical(self) -> Tilt:
        require_range(self.angular_velocity, "angular_velocity", 0.0, low_open=False)
        require_range(self.max_angle_deg, "max_angle_deg", 0.0, 180.0)
        return self


def tilt_schedule(omega: float, max_angle_deg: float, start: int, stop: int, dt: float, steps: int) -> np.ndarray:
    """Angular speed per step (steps,): `omega` from `start` until `max_angle_deg` is reached (that step
    turns only the rest of the way) or `stop`."""
    rates = np.zeros(steps)
    if omega <= 0:
        return rates
    full = math.radians(max_angle_deg) / (omega * dt)  # steps to the limit
    n = min(stop - start, math.ceil(full - 1e-9))
    rates[start:start + n] = omega
    if n == math.ceil(full - 1e-9) and n > full:
        rates[start + n - 1] = omega * (full - (n - 1))
    return rates


def check_pour(tilt: Tilt, index: int, objects: dict, fluid) -> None:
    """Refuse a pour scene whose cup, container or liquid do not fit together, naming the field."""
    names = list(objects)
    for field, name in (("object", tilt.object), ("into", tilt.into)):
        obj = objects.get(name)
        if obj is None or obj.shape.type not in POURING or not obj.fixed:
            cups = [n for n, o in objects.items() if o.shape.type in POURING and o.fixed]
            raise ValueError(f"actions.{index}.{field}: '{name}' is not a fixed object of shape 'cup' or 'mug'"
                             f"; cups: {', '.join(cups) or 'none'} (objects: {', '.join(names)})")
    if tilt.object == tilt.into:
        raise ValueError(f"actions.{index}.into: the cup cannot pour into itself")
    if fluid is None:
        raise ValueError(f"actions.{index}.type: 'tilt' pours a liquid: only a fluid recipe has one")
    if fluid.target is not None or fluid.source is not None:
        raise ValueError("scene.fluid.target: a tilt names its cup and container, whose cavities the labels "
                         "use; drop scene.fluid.source and scene.fluid.target")
    cup_i = names.index(tilt.object)
    cup = objects[tilt.object]
    if any(not isinstance(v, (int, float)) for v in cup.pos + cup.euler):
        raise ValueError(f"scene.objects.{cup_i}.pos: the pouring cup's pose must be fixed numbers (the "
                         "liquid is placed in it once per scene)")
    centre = np.array(cup.pos, float)
    block_lo, block_hi = _block_reach(fluid.block)
    for cavity in _extreme_cavities(cup.shape):
        lo, hi = cavity[0], cavity[1]
        inside = not ((block_lo < centre + lo).any() or (block_hi > centre + hi).any())
        if len(cavity) == 3:  # every corner of the block within the round wall
            corners = np.array([(x, y) for x in (block_lo[0], block_hi[0]) for y in (block_lo[1], block_hi[1])])
            inside &= bool((np.linalg.norm(corners - centre[:2] - (lo[:2] + hi[:2]) / 2, axis=1) <= cavity[2]).all())
        if cup.euler != [0.0, 0.0, 0.0] or not inside:
            raise ValueError(f"scene.fluid.block: the liquid must start inside the upright cavity of "
                             f"'{tilt.object}', {_fmt(centre + lo)} .. {_fmt(centre + hi)}"
                             f"{f' within {cavity[2]:.4g} m of its axis' if len(cavity) == 3 else ''} "
                             f"(it can reach {_fmt(block_lo)} .. {_fmt(block_hi)}, euler {cup.euler})")
    tank_lo, tank_hi = np.array(fluid.tank.lower), np.array(fluid.tank.upper)
    for name in (tilt.object, tilt.into):  # upright; what the liquid does on the way is the labels' to say
        obj, i = objects[name], names.index(name)
        reach = np.array([support(v) for v in obj.pos])
        low, high = _extent(obj.shape)
        if (reach[:, 0] + low < tank_lo - 1e-9).any() or (reach[:, 1] + high > tank_hi + 1e-9).any():
            raise ValueError(f"scene.objects.{i}.pos: '{name}' reaches "
                             f"{_fmt(reach[:, 0] + low)} .. {_fmt(reach[:, 1] + high)}, "
                             f"outside the liquid's domain scene.fluid.tank {fluid.tank.lower} .. "
                             f"{fluid.tank.upper}, whose walls clamp the particles")


def _extreme_cavities(shape: CupShape | MugShape) -> list[Cavity]:
    """The container's cavity at every corner of its drawn sizes' ranges (a cup's is fixed)."""
    if isinstance(shape, CupShape):
        return [shape.cavity()]
    ranges = {name: support(value) for name, value in shape.sizes().items()}
    return [container_cavity(shape, dict(zip(ranges, corner, strict=True)))
            for corner in itertools.product(*ranges.values())]


def _extent(shape: CupShape | MugShape) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest offsets of the container's body from its `pos`, at its largest."""
    if isinstance(shape, CupShape):
        return -shape.outer / 2, shape.outer / 2
    points = np.concatenate([v for v, _ in generated_asset(shape, largest(shape)).parts])
    return points.min(axis=0), points.max(axis=0)


def _fmt(values) -> list[float]:
    return [round(float(v), 4) for v in values]


def _block_reach(block) -> tuple[np.ndarray, np.ndarray]:
    reach = np.array([support(v) for v in block.pos])
    size = np.array([support(s)[1] for s in block.size])
    return reach[:, 0] - size / 2, reach[:, 1] + size / 2


def movers(actions: list) -> list:
    """The actions that drive a body or the grasped corner by velocity (`move`, `tilt`), in recipe order:
    each one's velocity, per step, is a slot of the episode's velocity table and of its actions."""
    return [a for a in actions if isinstance(a, (Move, Tilt))]
