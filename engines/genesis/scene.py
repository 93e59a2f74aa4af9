"""Map the recipe's engine-neutral scene onto Genesis entities, refusing what Genesis cannot do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engines.genesis import restitution
from engines.genesis.cameras import add_cameras, vis_options
from engines.genesis.cup import DRIVEN_MASS, cup_file
from engines.genesis.meshes import mesh_morph
from engines.genesis.particles import add_particle_entity, solver_options, substeps
from engines.genesis.robot_scene import add_robot, robot_integrator, robot_problems
from factory.errors import EngineUnsupported
from factory.recipe.containers import CupShape, movers
from factory.recipe.distributions import Choice, is_random, nominal
from factory.recipe.meshes import MESH_SHAPES, shape_asset
from factory.recipe.robots import held_containers
from factory.recipe.scene_fields import scene_fields
from factory.recipe.schema import (
    BoxShape,
    CylinderShape,
    Recipe,
    RigidObject,
    SphereShape,
)

TABLE_THICKNESS = 0.1  # m; a table-top ground is a fixed box this thick


def check_representable(recipe: Recipe) -> None:
    """Raise `EngineUnsupported` naming every field Genesis cannot honour."""
    problems = []
    held = held_containers(recipe)
    for i, obj in enumerate(recipe.scene.objects):
        if obj.name in held and not isinstance(obj.shape, CupShape):
            problems.append(f"scene.objects.{i}.shape: Genesis carries a cup in a robot's hand, not a "
                            f"'{obj.shape.type}'")
        elif isinstance(obj.shape, CupShape) and not obj.fixed and obj.name not in held:  # placed as driven
            problems.append(f"scene.objects.{i}.fixed: a cup is a fixed container or one a 'tilt' drives; "
                            "a free cup is not supported")
        weight = [v for v in (obj.mass, obj.density) if v is not None]
        if obj.fixed and any(is_random(v) for v in weight + obj.vel + obj.ang_vel):
            problems.append(f"scene.objects.{i}: a fixed object has no mass or velocity to randomize")
    if recipe.scene_variants is None:
        problems += [f"{'.'.join(map(str, f.path))}: varies continuously, and the envs of a Genesis batch "
                     "share one built scene, so every episode would build its own (batches of one); set "
                     "`scene_variants: K` to draw it for K scenes (episode i uses scene i mod K), or draw "
                     "it from a `choice`" for f in scene_fields(recipe)
                     if is_random(f.value) and not isinstance(f.value, Choice)]
    for name, value in [(f"scene.objects.{i}.friction", o.friction) for i, o in enumerate(recipe.scene.objects)]:
        lo, hi = (value, value) if isinstance(value, (int, float)) else value.support()
        if lo < 0.01 or hi > 5.0:
            problems.append(f"{name}: Genesis needs friction in [0.01, 5]")
    fields = [f for f in scene_fields(recipe) if f.name.endswith(".restitution")]
    if elastic(recipe) and not any(is_random(f.value) for f in fields):  # drawn ones: checked per built scene
        try:
            contact_dampratios(recipe)
        except EngineUnsupported as err:
            problems.append(str(err))
    problems += robot_problems(recipe)
    if problems:
        raise EngineUnsupported("the recipe asks for what Genesis cannot simulate:\n" +
                                "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class BuiltScene:
    scene: Any  # Genesis objects: the library has no type information
    ground: Any
    objects: list  # Genesis entities in recipe order
    points: Any = None  # the liquid or cloth entity of a fluid or cloth recipe
    reads: int = 1  # Genesis steps per recipe step, contacts read after each (elastic scenes)
    cameras: tuple = ()  # Genesis cameras of the recipe's `cameras:`, in its order (`engines.genesis.cameras`)
    robots: tuple = ()  # the recipe's robots' entities, in recipe order


def build_scene(gs, recipe: Recipe, n_envs: int) -> BuiltScene:
    """Create and build the batched scene; per-episode values are set later, per env."""
    reads, per_read = _stepping(recipe)
    integrator = {"integrator": robot_integrator(gs, recipe)} if recipe.robots else {}
    scene = gs.Scene(
        sim_options=gs.options.SimOptions(dt=recipe.dt / reads, substeps=per_read, gravity=tuple(recipe.scene.gravity)),
        **solver_options(gs, recipe),
        # the exact (elliptic) friction cone: the default pyramid makes a fast-sliding box hop and
        # decelerate at a fraction of mu*g; elliptic decelerates at mu*g
        rigid_options=gs.options.RigidOptions(batch_links_info=True, batch_dofs_info=True,
                                              friction_cone=gs.friction_cone.elliptic,
                                              **integrator),
        show_viewer=False,
        **({"vis_options": vis_options(gs)} if recipe.cameras else {}),
    )
    ground = None
    g = recipe.scene.ground
    if g is not None:
        material = gs.materials.Rigid(friction=1.0)
        if g.size is None:
            morph = gs.morphs.Plane(pos=(0.0, 0.0, g.height))
        else:
            morph = gs.morphs.Box(size=(g.size[0], g.size[1], TABLE_THICKNESS),
                                  pos=(0.0, 0.0, g.height - TABLE_THICKNESS / 2), fixed=True)
        ground = scene.add_entity(morph, material=material, name="ground")
    # a mover is a free body that floats (gravity compensated) and is given its velocity every step:
    # Genesis couples particles to rigid bodies through their velocity, so a teleported fixed body
    # would pass through the liquid or cloth instead of pushing it
    held = held_containers(recipe)  # a robot's held cup: driven too, placed at its hand every step
    driven = {a.object for a in movers(recipe.actions)} | set(held)
    objects = [scene.add_entity(_morph(gs, obj, obj.name in driven, obj.name in held),
                                material=gs.materials.Rigid(friction=1.0,
                                                            gravity_compensation=float(obj.name in driven)),
                                name=obj.name)
               for obj in recipe.scene.objects]
    points = add_particle_entity(gs, scene, recipe)
    robots = tuple(add_robot(gs, scene, robot) for robot in recipe.robots)
    for entity, params in _contact_params(recipe, ground, objects):
        for geom in entity.geoms:  # an array: a list would break the scene's checkpoint (`__getstate__`)
            geom.set_sol_params(np.asarray(params, np.float64))
    cameras = tuple(add_cameras(scene, recipe.cameras))
    scene.build(n_envs=n_envs)
    return BuiltScene(scene, ground, objects, points, reads, cameras, robots)


def elastic(recipe: Recipe) -> bool:
    """Whether any body of the scene has a restitution (else Genesis' default, inelastic contacts)."""
    g = recipe.scene.ground
    return any(o.restitution is not None for o in recipe.scene.objects) or (g is not None and g.restitution is not None)


def _stepping(recipe: Recipe) -> tuple[int, int]:
    """(Genesis steps per recipe step, substeps per Genesis step). An elastic collision scene
    resolves each impact in SUBSTEPS_PER_CONTACT substeps, as calibrated, and reads contacts
    several times per impact; anything else keeps one Genesis step per recipe step."""
    if elastic(recipe):
        if recipe.kind == "collision":
            return restitution.contact_reads(recipe.dt)
        return 1, max(substeps(recipe), restitution.substep_dt(recipe.dt)[0])
    return 1, substeps(recipe)


def contact_dampratios(recipe: Recipe) -> dict[str, float]:
    """Each body's contact damping ratio in a scene with pinned restitutions (unset counts as 0);
    refuses a scene whose pairs the per-body values cannot all give their mean e."""
    g = recipe.scene.ground
    values = {o.name: nominal(o.restitution or 0.0) for o in recipe.scene.objects}
    if g is not None:
        values["ground"] = nominal(g.restitution or 0.0)
    movable = {o.name for o in recipe.scene.objects if not o.fixed}
    zetas, worst = restitution.body_dampratios(values, movable)
    if worst > restitution.PAIR_TOLERANCE:
        raise EngineUnsupported(
            f"scene.objects: Genesis averages the contact parameters of two bodies, and no per-body values give "
            f"every pair that can meet the mean of its two restitutions (worst pair off by {worst:.3f}); use fewer "
            "distinct restitution values (one per role: balls, cushions, ground)")
    return zetas


def _contact_params(recipe: Recipe, ground, objects: list) -> list[tuple[Any, list[float]]]:
    if not elastic(recipe):
        return []
    zetas = contact_dampratios(recipe)
    reads, per_read = _stepping(recipe)
    sub_dt = recipe.dt / (reads * per_read)
    named = ([("ground", ground)] if ground is not None else []) + \
        [(o.name, e) for o, e in zip(recipe.scene.objects, objects, strict=True)]
    return [(entity, restitution.sol_params(zetas[name], sub_dt)) for name, entity in named]


def _morph(gs, obj: RigidObject, mover: bool = False, held: bool = False):
    """The Genesis primitive for one object, at a placeholder pose (each env sets its own)."""
    shape = obj.shape
    if isinstance(shape, CupShape):  # fixed or free by its joint: a fixed cup's body has none
        return gs.morphs.MJCF(file=cup_file(shape, free=mover, held=held), pos=(0.0, 0.0, 0.0))
    if isinstance(shape, MESH_SHAPES):  # a driven one (a pouring mug) is as heavy as a driven cup
        asset = shape_asset(shape)
        mass = DRIVEN_MASS if mover else obj.nominal_mass(asset.volume)
        return mesh_morph(gs, obj.name, asset, mass, free=not obj.fixed or mover)
    common = {"pos": (0.0, 0.0, 0.0), "fixed": obj.fixed and not mover}
    if isinstance(shape, BoxShape):
        return gs.morphs.Box(size=tuple(nominal(s) for s in shape.size), **common)
    if isinstance(shape, SphereShape):
        return gs.morphs.Sphere(radius=nominal(shape.radius), **common)
    if isinstance(shape, CylinderShape):
        return gs.morphs.Cylinder(radius=nominal(shape.radius), height=nominal(shape.height), **common)
    raise EngineUnsupported(f"Genesis adapter has no mapping for shape '{shape.type}'")
