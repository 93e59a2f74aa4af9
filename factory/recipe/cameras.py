"""The recipe's `cameras:` section: pinhole cameras whose frames are recorded beside the states.

A camera looks from `position` at `look_at` with `up` up in the image, in the world frame or, when
`attach`ed, in a body's frame (a hand camera follows the hand). Frames are rendered from the recorded
states, so they add nothing to the simulation and an episode's frames depend only on it. Position,
look-at and the recipe's `lighting` may be distributions, drawn per episode like any parameter.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from factory.errors import did_you_mean
from factory.recipe.distributions import nominal
from factory.recipe.field_types import FixedVec3, Name, Num, Strict, Vec3, require_range

MAX_PIXELS = 1024 * 1024
"""Width × height cap: frames are held in memory with their episode until its shard is written."""
MAX_SIDE = 2048

Stream = Literal["rgb", "depth", "segmentation"]
STREAMS: tuple[str, ...] = ("rgb", "depth", "segmentation")


class Camera(Strict):
    """A camera; `every` counts recorded states (frame 0 is the episode's first state)."""

    name: Name
    attach: str | None = Field(None, description="A body the camera moves with: an object's name or a "
                               "robot link as `<robot>/<link>`; null: fixed in the world.")
    position: Vec3 = Field(description="m, in the world frame, or the attached body's; each a number or "
                           "a distribution drawn per episode.")
    look_at: Vec3 = Field(description="The point the optical axis passes through, m, same frame; each a "
                          "number or a distribution drawn per episode.")
    up: FixedVec3 = Field([0.0, 0.0, 1.0], description="The direction shown up in the image, same frame.")
    fov: float = Field(45.0, gt=0, lt=180, description="Vertical field of view, degrees.")
    resolution: list[int] = Field([128, 128], min_length=2, max_length=2,
                                  description=f"[width, height] in pixels, each 1..{MAX_SIDE}, "
                                              f"at most {MAX_PIXELS:,} pixels.")
    streams: list[Stream] = Field(["rgb"], min_length=1, description="Any of rgb (uint8), depth (float32 "
                                  "metres along the optical axis) and segmentation (layout body index + 1, "
                                  "0 for nothing of the layout).")
    every: int = Field(1, ge=1, description="A frame every k recorded states.")

    @field_validator("resolution")
    @classmethod
    def _bounded(cls, size: list[int]) -> list[int]:
        width, height = size
        if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE) or width * height > MAX_PIXELS:
            raise ValueError(f"{width}x{height} is outside 1..{MAX_SIDE} per side and {MAX_PIXELS:,} pixels")
        return size

    @field_validator("streams")
    @classmethod
    def _each_once(cls, streams: list[str]) -> list[str]:
        if len(set(streams)) < len(streams):
            raise ValueError("list each stream once")
        return streams

    @model_validator(mode="after")
    def _looks_somewhere(self) -> Camera:
        axis = np.subtract([nominal(v) for v in self.look_at], [nominal(v) for v in self.position])
        up = np.asarray(self.up)
        if not axis.any():
            raise ValueError("look_at: must differ from position")
        if np.linalg.norm(np.cross(axis, up)) <= 1e-6 * np.linalg.norm(axis) * np.linalg.norm(up):
            raise ValueError("up: must not be parallel to the optical axis (look_at - position)")
        return self

    def frame_steps(self, recorded_states: int) -> list[int]:
        """Indices of the recorded states this camera has a frame of."""
        return list(range(0, recorded_states, self.every))


class Lighting(Strict):
    """One directional light that replaces the engine's default light in every camera's frames: a
    Lambertian surface facing it shows its colour × (ambient + intensity · cos θ), with no specular
    highlight and no shadow."""

    direction: Vec3 = Field([0.0, 0.0, -1.0], description="The direction the light travels, world frame "
                            "(the default shines straight down); each a number or a distribution drawn per episode.")
    intensity: Num = Field(0.6, description="Diffuse intensity, 0..1 (a number or a distribution).")
    ambient: Num = Field(0.1, description="Ambient intensity, 0..1, lighting every surface alike.")

    @model_validator(mode="after")
    def _in_range(self) -> Lighting:
        require_range(self.intensity, "intensity", 0.0, 1.0, low_open=False)
        require_range(self.ambient, "ambient", 0.0, 1.0, low_open=False)
        if not any(nominal(v) for v in self.direction):
            raise ValueError("direction: must not be zero")
        return self


def check_cameras(cameras: list[Camera], objects: list[str], robots: list[str]) -> None:
    """Camera names are unique (they name datasets); an attached camera names an object or a robot's
    link (the link itself is checked against the robot file by the engine)."""
    names = [c.name for c in cameras]
    if twice := sorted({n for n in names if names.count(n) > 1}):
        raise ValueError(f"cameras: {', '.join(twice)} named more than once")
    for i, camera in enumerate(cameras):
        body = camera.attach
        if body is not None and body not in objects and body.split("/")[0] not in robots:
            raise ValueError(f"cameras.{i}.attach: '{body}' is neither an object of the scene nor a robot link "
                             f"'<robot>/<link>'{did_you_mean(body, objects)}; objects: {', '.join(objects)}"
                             + (f"; robots: {', '.join(robots)}" if robots else ""))
