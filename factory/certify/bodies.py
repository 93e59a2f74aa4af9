"""The rigid bodies of one stored episode as the certificate weighs them: primitives from their drawn
sizes (`factory.checks.bodies_for`), mesh bodies from their mesh at the drawn scale, with the mass the
episode recorded and the mesh's full inertia tensor, so energy and momentum are measured for them too."""

from __future__ import annotations

from factory import checks
from factory.recipe.meshes import MESH_SHAPES, shape_asset
from factory.recipe.schema import Recipe


def episode_bodies(recipe: Recipe, params: dict[str, float]) -> dict[str, checks.Body]:
    """Each object's body as drawn for one episode (`params` keyed 'ball.mass', 'critter.mesh')."""
    objects = recipe.scene.objects
    primitives = {"scene": {"objects": [{"name": o.name, "shape": {"type": o.shape.type}}
                                        for o in objects if not isinstance(o.shape, MESH_SHAPES)]}}
    out = checks.bodies_for(primitives, params)
    for obj in objects:
        if isinstance(obj.shape, MESH_SHAPES):
            prefix = f"{obj.name}."
            drawn = {k.removeprefix(prefix): v for k, v in params.items() if k.startswith(prefix)}
            asset = shape_asset(obj.shape, drawn)
            mass = params[f"{obj.name}.mass"]
            inertia = tuple((asset.inertia * mass).ravel().tolist())
            out[obj.name] = checks.Body("mesh", mass, (asset.radius(),), inertia)
    return {o.name: out[o.name] for o in objects}
