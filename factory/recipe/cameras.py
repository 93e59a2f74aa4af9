"""The recipe's `cameras:` section: fixed pinhole cameras whose frames are recorded beside the states.

A camera looks from `position` at `look_at` with the world's +z up; its frames are rendered from the
recorded states, so they add nothing to the simulation and an episode's frames depend only on it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from factory.recipe.field_types import FixedVec3, Name, Strict

MAX_PIXELS = 1024 * 1024
"""Width × height cap: frames are held in memory with their episode until its shard is written."""
MAX_SIDE = 2048

Stream = Literal["rgb", "depth", "segmentation"]
STREAMS: tuple[str, ...] = ("rgb", "depth", "segmentation")


class Camera(Strict):
    """A fixed camera; `every` counts recorded states (frame 0 is the episode's first state)."""

    name: Name
    position: FixedVec3 = Field(description="m, world frame.")
    look_at: FixedVec3 = Field(description="The point the optical axis passes through, m.")
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
        if self.position == self.look_at:
            raise ValueError("look_at: must differ from position")
        return self

    def frame_steps(self, recorded_states: int) -> list[int]:
        """Indices of the recorded states this camera has a frame of."""
        return list(range(0, recorded_states, self.every))


def check_cameras(cameras: list[Camera]) -> None:
    """Camera names are unique (they name files and datasets)."""
    names = [c.name for c in cameras]
    if twice := sorted({n for n in names if names.count(n) > 1}):
        raise ValueError(f"cameras: {', '.join(twice)} named more than once")
