"""Map the recipe's engine-neutral scene onto an MJCF model, refusing what the adapter cannot do.

Every collision is an explicit `<pair>` (geoms collide with nothing by default): a pair carries its
own friction and contact softness, so the recipe's pair rules (the larger friction, the mean
restitution) are set per pair and per episode, instead of going through MuJoCo's own mixing
(element-wise max of friction, solmix-weighted average of solref) which averages damping ratios,
not restitutions.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from xml.sax.saxutils import quoteattr

from factory.errors import EngineUnsupported
from factory.meshes import MeshAsset
from factory.meshes.mjcf import mesh_assets, mesh_body, part_names
from factory.recipe.distributions import nominal, support
from factory.recipe.meshes import MESH_SHAPES, MESH_TYPES, shape_asset
from factory.recipe.schema import (
    BoxShape,
    CylinderShape,
    Recipe,
    RigidObject,
    SphereShape,
)

TABLE_THICKNESS = 0.1  # m; a table-top ground is a fixed box this thick (as on Genesis)
MIN_FRICTION = 1e-5  # MuJoCo clamps smaller coefficients to mjMINMU
SENSOR_DATA = "found force dist pos normal tangent"
SENSOR_FIELDS = 14  # 1 + 3 + 1 + 3 + 3 + 3 numbers per reported contact


@dataclass(frozen=True)
class SceneModel:
    """The MJCF text and where the recipe's things ended up in it."""

    xml: str
    bodies: tuple[str, ...]  # layout bodies in order: ("ground", *objects) with a ground
    pairs: tuple[tuple[int, int], ...]  # layout body indices of each pair of bodies that can touch, in model order
    slots: tuple[int, ...]  # contacts each pair's contact sensor can report per step
    geom_pairs: tuple[int, ...]  # for each <pair> (of geoms) in model order, its body pair in `pairs`

    @property
    def sensor_width(self) -> int:
        return SENSOR_FIELDS * sum(self.slots)


def check_representable(recipe: Recipe, max_restitution: float) -> None:
    """Raise `EngineUnsupported` naming every field the MuJoCo adapter cannot honour."""
    problems = []
    if recipe.kind != "collision":
        section = "fluid" if recipe.kind == "fluid" else "cloth"
        problems.append(f"kind: the MuJoCo adapter simulates rigid collisions; scene.{section} needs "
                        "particles (MuJoCo flex does not match the recipe's liquid or PBD sheet): use engine: genesis")
    named = [(f"scene.objects.{i}.restitution", o.restitution) for i, o in enumerate(recipe.scene.objects)]
    if recipe.scene.ground is not None:
        named.insert(0, ("scene.ground.restitution", recipe.scene.ground.restitution))
    highest = [support(value)[1] if value is not None else 0.0 for _, value in named]
    for a, b in scene_model(recipe).pairs if recipe.kind == "collision" else ():  # a scene of rigid bodies only
        if (highest[a] + highest[b]) / 2 > max_restitution:  # a pair takes the mean of its two bodies
            problems.append(f"{named[a][0]}, {named[b][0]}: their mean can reach "
                            f"{(highest[a] + highest[b]) / 2:g}, and MuJoCo's soft contacts bounce back at "
                            f"most e = {max_restitution:g} (calibrated); lower them")
    if problems:
        raise EngineUnsupported("the recipe asks for what the MuJoCo adapter cannot simulate:\n" +
                                "\n".join(f"  - {p}" for p in problems))


def scene_model(recipe: Recipe) -> SceneModel:
    """The recipe's scene as MJCF, at nominal values; each episode then sets its own (masses, poses, pairs)."""
    scene, ground = recipe.scene, recipe.scene.ground
    gravity = " ".join(f"{g:g}" for g in scene.gravity)
    meshes = {o.name: shape_asset(o.shape) for o in scene.objects if isinstance(o.shape, MESH_SHAPES)}
    option = f'timestep="{recipe.dt!r}" gravity="{gravity}" cone="elliptic"'
    # several contacts between convex meshes (a flat face on a box), not one: only where there are meshes,
    # so scenes of primitives keep their bytes
    lines = [f'<mujoco model={quoteattr(recipe.name)}>',
             f'  <option {option}><flag multiccd="enable"/></option>' if meshes else f'  <option {option}/>',
             '  <default><geom contype="0" conaffinity="0" condim="3" margin="0"/></default>']
    if meshes:
        lines += ['  <asset>', *(f"    {m}" for name, asset in meshes.items() for m in mesh_assets(name, asset)),
                  '  </asset>']
    lines.append('  <worldbody>')
    if ground is not None:
        if ground.size is None:
            lines.append(f'    <geom name="ground" type="plane" size="0 0 1" pos="0 0 {ground.height!r}"/>')
        else:
            hx, hy = (s / 2 for s in ground.size)
            lines.append(f'    <geom name="ground" type="box" size="{hx!r} {hy!r} {TABLE_THICKNESS / 2!r}" '
                         f'pos="0 0 {ground.height - TABLE_THICKNESS / 2!r}"/>')
    lines += [_body(obj, meshes.get(obj.name)) for obj in scene.objects]
    lines.append('  </worldbody>')
    bodies = (("ground",) if ground is not None else ()) + tuple(o.name for o in scene.objects)
    welded = {b for b, name in enumerate(bodies) if name == "ground" or _object(recipe, name).fixed}
    pairs = tuple((a, b) for a, b in combinations(range(len(bodies)), 2) if not {a, b} <= welded)
    geoms = [part_names(name, meshes[name]) if name in meshes else [name] for name in bodies]
    geom_pairs = [(k, g, h) for k, (a, b) in enumerate(pairs) for g in geoms[a] for h in geoms[b]]
    lines.append('  <contact>')
    lines += [f'    <pair geom1="{g}" geom2="{h}" condim="3"/>' for _, g, h in geom_pairs]
    lines.append('  </contact>')
    # a contact sensor per pair reports its contacts every step, so `mujoco.rollout` records them in C
    shapes = [_shape_kind(recipe, name) for name in bodies]
    slots = tuple(_slots(shapes[a], shapes[b], len(geoms[a]) * len(geoms[b])) for a, b in pairs)
    lines += ['  <sensor>'] + [f'    <contact {_matches(bodies, meshes, a, b)} num="{n}"'
                               f'{_reduce(shapes[a], shapes[b])} data="{SENSOR_DATA}"/>'
                               for (a, b), n in zip(pairs, slots, strict=True)]
    lines += ['  </sensor>', '</mujoco>']
    return SceneModel("\n".join(lines), bodies, pairs, slots, tuple(k for k, _, _ in geom_pairs))


MAX_MESH_SLOTS = 64  # contacts a sensor of a pair with a mesh reports per step (4 per pair of parts): the strongest


def _slots(a: str, b: str, geom_pairs: int) -> int:
    if "mesh" in (a, b):
        return min(MAX_MESH_SLOTS, 4 * geom_pairs)
    return 1 if "sphere" in (a, b) else 4 if "plane" in (a, b) else 8


def _reduce(a: str, b: str) -> str:
    return ' reduce="maxforce"' if "mesh" in (a, b) else ""


def _matches(bodies: tuple[str, ...], meshes: dict[str, MeshAsset], a: int, b: int) -> str:
    """The sensor's two sides: a primitive's one geom, or every geom of a mesh object's body."""
    return " ".join(f'{"body" if bodies[x] in meshes else "geom"}{k}="{bodies[x]}"' for k, x in ((1, a), (2, b)))


def _shape_kind(recipe: Recipe, name: str) -> str:
    if name == "ground":
        assert recipe.scene.ground is not None  # a ground body comes from the recipe's ground
        return "plane" if recipe.scene.ground.size is None else "box"
    kind = _object(recipe, name).shape.type
    return "mesh" if kind in MESH_TYPES else kind


def _object(recipe: Recipe, name: str) -> RigidObject:
    return next(o for o in recipe.scene.objects if o.name == name)


def _body(obj: RigidObject, mesh: MeshAsset | None) -> str:
    """One object as a body with one geom (a mesh: one per convex part); a fixed object has no joint
    (welded to the world)."""
    joint = "" if obj.fixed else "<freejoint/>"
    if mesh is not None:
        return f'    <body name="{obj.name}">{joint}{mesh_body(obj.name, mesh, obj.nominal_mass(mesh.volume))}</body>'
    return (f'    <body name="{obj.name}">{joint}<geom name="{obj.name}" {_geom(obj)} '
            f'mass="{obj.nominal_mass()!r}"/></body>')


def _geom(obj: RigidObject) -> str:
    shape = obj.shape
    if isinstance(shape, BoxShape):
        half = " ".join(repr(nominal(s) / 2) for s in shape.size)
        return f'type="box" size="{half}"'
    if isinstance(shape, SphereShape):
        return f'type="sphere" size="{nominal(shape.radius)!r}"'
    if isinstance(shape, CylinderShape):  # MuJoCo: radius and half-height, axis along z as in the recipe
        return f'type="cylinder" size="{nominal(shape.radius)!r} {nominal(shape.height) / 2!r}"'
    raise EngineUnsupported(f"the MuJoCo adapter has no mapping for shape '{shape.type}'")
