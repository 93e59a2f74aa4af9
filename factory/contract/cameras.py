"""What engines need of the recipe's cameras: each episode's camera poses and light, drawn from
`cameras:` and `lighting:`; a camera's world pose; the layout's camera blocks.

Poses and light are drawn like every other parameter (one generator per (seed, episode, name)), so they land in the
episode's parameters (`cameras.<name>.position.x`, `lighting.intensity`, …) and an episode renders
the same frames in any batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from factory.contract.rollout import CameraBlock
from factory.recipe.cameras import Camera
from factory.recipe.schema import Recipe

Draw = Callable[[str, object], float]
Vec = tuple[float, float, float]


@dataclass(frozen=True)
class CameraPose:
    """Where a camera is this episode, in the world frame or its attached body's."""

    position: Vec
    look_at: Vec
    up: Vec


@dataclass(frozen=True)
class Light:
    """This episode's directional light: the direction it travels, its diffuse and ambient intensities."""

    direction: Vec
    intensity: float
    ambient: float


def _vec(draw: Draw, name: str, values: Sequence[object]) -> Vec:
    x, y, z = (draw(f"{name}.{axis}", v) for axis, v in zip("xyz", values, strict=True))
    return x, y, z


def draw_views(recipe: Recipe, draw: Draw) -> tuple[tuple[CameraPose, ...], Light | None]:
    """The recipe's cameras' poses and its light, for one episode."""
    poses = tuple(CameraPose(_vec(draw, f"cameras.{c.name}.position", c.position),
                             _vec(draw, f"cameras.{c.name}.look_at", c.look_at), (c.up[0], c.up[1], c.up[2]))
                  for c in recipe.cameras)
    lighting = recipe.lighting
    if lighting is None:
        return poses, None
    return poses, Light(_vec(draw, "lighting.direction", lighting.direction),
                        draw("lighting.intensity", lighting.intensity), draw("lighting.ambient", lighting.ambient))


def world_pose(view: CameraPose, frame: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, ...]:
    """World (eye, forward, up) of a camera at `view`, up made orthogonal to forward; `frame`: the
    attached body's (position, 3×3 rotation)."""
    eye, target, up = (np.asarray(v, float) for v in (view.position, view.look_at, view.up))
    if frame is not None:
        origin, rotation = frame
        eye, target, up = origin + rotation @ eye, origin + rotation @ target, rotation @ up
    forward = (target - eye) / np.linalg.norm(target - eye)
    up = up - (up @ forward) * forward
    return eye, forward, up / np.linalg.norm(up)



def camera_blocks(cameras: list[Camera]) -> tuple[CameraBlock, ...]:
    """The layout's description of the cameras' frames."""
    return tuple(CameraBlock(c.name, c.resolution[0], c.resolution[1], tuple(c.streams), c.every) for c in cameras)
