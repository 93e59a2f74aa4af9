"""Each episode's camera poses and light, drawn from the recipe's `cameras:` and `lighting:`.

Drawn like every other parameter (one generator per (seed, episode, name)), so they land in the
episode's parameters (`cameras.<name>.position.x`, `lighting.intensity`, …) and an episode renders
the same frames in any batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
