"""The recipe fields that shape a built scene, and a recipe with them pinned to drawn values.

Object sizes, mesh scales and a mesh set's file, restitutions (contact parameters), particle spacing,
liquid volume, viscosity, cloth size and compliances are baked into a scene when an engine builds
it, so an engine that runs a batch of episodes on one built scene (Genesis) cannot vary them env by
env. They are drawn per scene variant instead of per episode (`factory.sampling.scene_draws`); this
module names them and pins them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from factory.names import param_name
from factory.recipe.field_types import Num
from factory.recipe.meshes import MeshSetShape, pick_field
from factory.recipe.schema import Recipe

_AXES = "xyz"


@dataclass(frozen=True)
class SceneField:
    name: str  # episode parameter name, e.g. "box.size.x", "fluid.viscosity"
    path: tuple[str | int, ...]  # where it lives in `recipe.model_dump()`
    value: Num


def scene_fields(recipe: Recipe) -> list[SceneField]:
    """Every scene-shaping field of the recipe, constant or random, in a fixed order."""
    fields = []
    for i, obj in enumerate(recipe.scene.objects):
        shape, at = obj.shape, ("scene", "objects", i, "shape")
        if hasattr(shape, "size"):
            fields += [SceneField(f"{obj.name}.size.{a}", (*at, "size", k), v)
                       for k, (a, v) in enumerate(zip(_AXES, shape.size, strict=True))]
        fields += [SceneField(f"{obj.name}.{dim}", (*at, dim), getattr(shape, dim))
                   for dim in ("radius", "bottom_radius", "height", "neck_radius", "neck_height", "scale", "thickness")
                   if hasattr(shape, dim)]
        if isinstance(shape, MeshSetShape):  # which file of the set: its index, drawn uniformly
            fields.append(SceneField(f"{obj.name}.mesh", (*at, "pick"), pick_field(shape)))
        if obj.restitution is not None:  # Genesis bakes contact parameters into the built scene
            fields.append(SceneField(f"{obj.name}.restitution", ("scene", "objects", i, "restitution"),
                                     obj.restitution))
    ground = recipe.scene.ground
    if ground is not None and ground.restitution is not None:
        fields.append(SceneField("ground.restitution", ("scene", "ground", "restitution"), ground.restitution))
    fluid, cloth = recipe.scene.fluid, recipe.scene.cloth
    if fluid is not None:
        fields += [SceneField(f"fluid.{f}", ("scene", "fluid", f), getattr(fluid, f))
                   for f in ("particle_size", "viscosity")]
        fields += [SceneField(f"fluid.block.size.{a}", ("scene", "fluid", "block", "size", k), v)
                   for k, (a, v) in enumerate(zip(_AXES, fluid.block.size, strict=True))]
    if cloth is not None:
        fields += [SceneField(f"cloth.{f}", ("scene", "cloth", f), getattr(cloth, f))
                   for f in ("size", "stretch_compliance", "bending_compliance", "particle_size")]
    return fields


def pin_scene(recipe: Recipe, values: dict[str, float]) -> Recipe:
    """The recipe with each named scene field replaced by its value (a scene an engine can build)."""
    data = recipe.model_dump(mode="json")
    for field in scene_fields(recipe):
        if field.name in values:
            _set(data, field.path, values[field.name])
    return Recipe.model_validate(data)


def episode_scene(recipe: Recipe, params: Mapping[str, float]) -> Recipe:
    """The scene a stored episode ran on: its own scene values (by parameter name or key,
    `factory.names`) pinned into `recipe`."""
    flat = {param_name(k): v for k, v in params.items()}
    return pin_scene(recipe, {f.name: flat[f.name] for f in scene_fields(recipe) if f.name in flat})


def _set(data: Any, path: tuple[str | int, ...], value: float) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value
