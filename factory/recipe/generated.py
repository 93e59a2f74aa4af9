"""Containers the factory generates (mug, bowl, bottle, tray): their recipe shapes, sizes and bodies.

Every size takes a number or a distribution and is a scene field (drawn per scene variant, stored
with each episode as `<object>.radius`, `<object>.size.x`, …); the body is built from the drawn
sizes by `factory.meshes.generated`, so no file is involved. Each opens up (+z) and its `pos` is its
centre of mass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from factory.meshes import MeshAsset
from factory.meshes.generated import bottle_asset, bowl_asset, mug_asset, tray_asset
from factory.recipe.distributions import nominal, support
from factory.recipe.field_types import Num, Strict, Vec3, require_range

_THICKNESS = "Wall and floor thickness in metres."


class _Generated(Strict):
    type: str
    thickness: Num = Field(description=_THICKNESS)

    def sizes(self) -> dict[str, Num]:
        """Each size by its parameter name within the object (`radius`, `size.x`, …)."""
        raise NotImplementedError

    def validate_physical(self) -> None:
        for name, value in self.sizes().items():
            require_range(value, f"shape.{name}", 0.0)

    def _thinner_than(self, limit: float, what: str) -> None:
        thickest = support(self.thickness)[1]
        if thickest >= limit:
            raise ValueError(f"shape.thickness: can reach {thickest:g} m, not less than {what} ({limit:g} m): "
                             f"the {self.type} would have no inside")


class MugShape(_Generated):
    """A round mug with a half-ring handle on +x."""

    type: Literal["mug"]
    radius: Num = Field(description="Outer radius in metres.")
    height: Num = Field(description="Outer height in metres, floor to rim.")
    handle: bool = True

    def sizes(self) -> dict[str, Num]:
        return {"radius": self.radius, "height": self.height, "thickness": self.thickness}

    def validate_physical(self) -> None:
        super().validate_physical()
        self._thinner_than(min(support(self.radius)[0], support(self.height)[0]), "the smallest radius or height")


class BowlShape(_Generated):
    """A round bowl whose straight wall flares from its floor to the rim; kept low, a plate."""

    type: Literal["bowl"]
    radius: Num = Field(description="Outer radius of the rim in metres.")
    bottom_radius: Num = Field(description="Outer radius of the floor in metres.")
    height: Num = Field(description="Outer height in metres, floor to rim.")

    def sizes(self) -> dict[str, Num]:
        return {"radius": self.radius, "bottom_radius": self.bottom_radius, "height": self.height,
                "thickness": self.thickness}

    def validate_physical(self) -> None:
        super().validate_physical()
        self._thinner_than(min(support(v)[0] for v in (self.radius, self.bottom_radius, self.height)),
                           "the smallest radius or height")


class BottleShape(_Generated):
    """A round bottle: a body, a 45° shoulder and a neck open at the top."""

    type: Literal["bottle"]
    radius: Num = Field(description="Outer radius of the body in metres.")
    height: Num = Field(description="Outer height in metres, floor to mouth.")
    neck_radius: Num = Field(description="Outer radius of the neck in metres.")
    neck_height: Num = Field(description="Length of the neck in metres.")

    def sizes(self) -> dict[str, Num]:
        return {"radius": self.radius, "height": self.height, "neck_radius": self.neck_radius,
                "neck_height": self.neck_height, "thickness": self.thickness}

    def validate_physical(self) -> None:
        super().validate_physical()
        self._thinner_than(support(self.neck_radius)[0], "the neck's radius")
        if support(self.neck_radius)[1] >= support(self.radius)[0]:
            raise ValueError("shape.neck_radius: must be less than the body's radius")
        body = support(self.height)[0] - support(self.neck_height)[1] - support(self.thickness)[1]
        if body <= support(self.radius)[1] - support(self.neck_radius)[0]:
            raise ValueError("shape.height: leaves no room for the floor, the body and the 45° shoulder "
                             "below the neck; make it taller or the neck shorter")


class TrayShape(_Generated):
    """A rectangular tray: a floor and four walls."""

    type: Literal["tray"]
    size: Vec3 = Field(description="Outer length (x), width (y) and height (z) in metres.")

    def sizes(self) -> dict[str, Num]:
        return {**{f"size.{a}": v for a, v in zip("xyz", self.size, strict=True)}, "thickness": self.thickness}

    def validate_physical(self) -> None:
        super().validate_physical()
        x, y, z = (support(v)[0] for v in self.size)
        self._thinner_than(min(x / 2, y / 2, z), "half the smallest length or width, or the height")


GeneratedShape = MugShape | BowlShape | BottleShape | TrayShape
GENERATED_SHAPES = (MugShape, BowlShape, BottleShape, TrayShape)
GENERATED_TYPES = ("mug", "bowl", "bottle", "tray")


def generated_asset(shape: GeneratedShape, drawn: Mapping[str, float]) -> MeshAsset:
    """The body of the shape at its sizes in `drawn` (by parameter name), else their nominal values."""
    size = {name: drawn.get(name, nominal(value)) for name, value in shape.sizes().items()}
    if isinstance(shape, MugShape):
        return mug_asset(size["radius"], size["height"], size["thickness"], shape.handle)
    if isinstance(shape, BowlShape):
        return bowl_asset(size["radius"], size["bottom_radius"], size["height"], size["thickness"])
    if isinstance(shape, BottleShape):
        return bottle_asset(size["radius"], size["height"], size["neck_radius"], size["neck_height"],
                            size["thickness"])
    return tray_asset(size["size.x"], size["size.y"], size["size.z"], size["thickness"])


def largest(shape: GeneratedShape) -> dict[str, float]:
    """Every size at the top of its range."""
    return {name: support(value)[1] for name, value in shape.sizes().items()}
