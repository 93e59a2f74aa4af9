"""Auto-labels: pure functions from recorded arrays to per-step and per-episode labels.

`label_context` gathers the few scene facts an episode kind's labels need; `label_rollout`
applies that kind's functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from factory.contract.rollout import Contacts, EpisodeRecord, Layout, Rollout
from factory.labels.cloth import ClothContext, cloth_episode_labels, cloth_step_labels
from factory.labels.collision import (
    LabelContext,
    batch_episode_labels,
    batch_step_labels,
)
from factory.labels.fluid import FluidContext, fluid_episode_labels, fluid_step_labels
from factory.labels.pixels import frame_labels
from factory.labels.pour import PourContext, object_pose, pour_episode_labels, pour_step_labels
from factory.labels.robot import RobotLabelContext, robot_labels
from factory.names import param_name
from factory.recipe.containers import CupShape, Tilt, container_cavity
from factory.recipe.distributions import nominal
from factory.recipe.generated import MugShape
from factory.recipe.meshes import MESH_TYPES
from factory.recipe.scene_fields import episode_scene, scene_fields
from factory.recipe.schema import BoxShape, CylinderShape, Recipe, SphereShape

Context = LabelContext | FluidContext | ClothContext | RobotLabelContext


def label_context(recipe: Recipe, layout: Layout) -> Context:
    if recipe.kind == "fluid":
        return _fluid_context(recipe, layout)
    if recipe.kind == "cloth":
        return _cloth_context(recipe)
    if recipe.robots:
        return RobotLabelContext(_rigid_context(recipe, layout), tuple(recipe.robots),
                                 {o.name: o for o in recipe.scene.objects})
    return _rigid_context(recipe, layout)


def _rigid_context(recipe: Recipe, layout: Layout) -> LabelContext:
    ground = recipe.scene.ground
    return LabelContext(
        layout=layout,
        fixed=frozenset(o.name for o in recipe.scene.objects if o.fixed),
        ground_height=ground.height if ground else float("-inf"),
        ground_size=tuple(ground.size) if ground and ground.size else None,
        rest_speed=recipe.labels.rest_speed,
        min_impact_force=recipe.labels.min_impact_force,
        striker=recipe.labels.striker,
        poses=tuple(o.name for o in recipe.scene.objects if o.shape.type in MESH_TYPES and not o.fixed),
    )


def _fluid_context(recipe: Recipe, layout: Layout) -> FluidContext:
    fluid = recipe.scene.fluid
    assert fluid is not None  # a fluid recipe has its fluid
    target, source = fluid.target, fluid.source
    return FluidContext(
        tank_lower=np.array(fluid.tank.lower), tank_upper=np.array(fluid.tank.upper),
        target_lower=np.array(target.lower) if target else None,
        target_upper=np.array(target.upper) if target else None,
        source_lower=np.array(source.lower) if source else None,
        source_upper=np.array(source.upper) if source else None,
        particle_size=nominal(fluid.particle_size), record_dt=layout.record_dt, settle_speed=recipe.labels.rest_speed,
        pour=_pour_context(recipe, layout),
        containers=tuple((layout.objects.index(o.name), container_cavity(o.shape)) for o in recipe.scene.objects
                         if isinstance(o.shape, (CupShape, MugShape)) and o.name in layout.objects))


def _pour_context(recipe: Recipe, layout: Layout) -> PourContext | None:
    tilt = next((a for a in recipe.actions if isinstance(a, Tilt)), None)
    if tilt is None:
        return None
    shapes = {o.name: o.shape for o in recipe.scene.objects}
    cup, into = shapes[tilt.object], shapes[tilt.into]
    assert recipe.scene.fluid is not None and isinstance(cup, (CupShape, MugShape)) and isinstance(
        into, (CupShape, MugShape))  # the recipe's check_pour
    slack = nominal(recipe.scene.fluid.particle_size) / 2
    return PourContext(cup=layout.objects.index(tilt.object), cup_cavity=container_cavity(cup),
                       target=layout.objects.index(tilt.into), target_cavity=container_cavity(into),
                       slack=slack, record_dt=layout.record_dt)


def _cloth_context(recipe: Recipe) -> ClothContext:
    """The cloth falls on the scene's first fixed object: a sphere, or a box seen as its inscribed disk."""
    obj = next(o for o in recipe.scene.objects if o.fixed)
    center = np.array([nominal(v) for v in obj.pos])
    if isinstance(obj.shape, SphereShape):
        radius = half_height = nominal(obj.shape.radius)
    elif isinstance(obj.shape, BoxShape):
        radius = min(nominal(obj.shape.size[0]), nominal(obj.shape.size[1])) / 2
        half_height = nominal(obj.shape.size[2]) / 2
    else:
        assert isinstance(obj.shape, CylinderShape)
        radius = nominal(obj.shape.radius)
        half_height = nominal(obj.shape.height) / 2
    ground, cloth = recipe.scene.ground, recipe.scene.cloth
    assert cloth is not None  # a cloth recipe has its sheet
    return ClothContext(object_center=center, object_radius=radius, object_top=center[2] + half_height,
                        contact_distance=2 * nominal(cloth.particle_size),
                        ground_height=ground.height if ground else 0.0)


def episode_context(recipe: Recipe, layout: Layout) -> Callable[[dict[str, float]], Context]:
    """Label context of a stored episode from its parameters: its scene-shaping values (which may
    vary by episode, `factory.recipe.scene_fields`) pinned, one context per distinct scene."""
    names = [f.name for f in scene_fields(recipe)]
    contexts: dict[tuple, Context] = {}

    def of(params: dict[str, float]) -> Context:
        flat = {param_name(k): v for k, v in params.items()}
        key = tuple(flat.get(n) for n in names)
        if key not in contexts:
            contexts[key] = label_context(episode_scene(recipe, flat), layout)
        return contexts[key]
    return of


def label_frames(records: list[EpisodeRecord], layout: Layout) -> list[EpisodeRecord]:
    """The records with their cameras' per-frame visibility and boxes (`factory.labels.pixels`)."""
    if not layout.cameras:
        return records
    return [replace(r, frame_labels=frame_labels(r.rollout.frames, len(layout.bodies))) for r in records]


def label_rollouts(rollouts: list[Rollout], params: list[dict[str, float]], ctx: Context) -> list[EpisodeRecord]:
    """Label a batch of episodes (equal lengths, as an engine batch returns them).

    Collision labels run over the whole batch at once; fluid and cloth labels, per episode, are
    already array work on thousands of points.
    """
    if not rollouts:
        return []
    if isinstance(ctx, RobotLabelContext):
        return [robot_labels(r, ctx) for r in label_rollouts(rollouts, params, ctx.base)]
    if isinstance(ctx, LabelContext):
        steps, episodes = _collision_labels(rollouts, ctx)
    else:
        steps, episodes = zip(*(_particle_labels(r, ctx) for r in rollouts), strict=True)
    return [EpisodeRecord(rollout=r, params=p, step_labels=s, episode_labels=e)
            for r, p, s, e in zip(rollouts, params, steps, episodes, strict=True)]


def label_rollout(rollout: Rollout, params: dict[str, float], ctx: Context) -> EpisodeRecord:
    return label_rollouts([rollout], [params], ctx)[0]


def _collision_labels(rollouts: list[Rollout], ctx: LabelContext) -> tuple[list, list]:
    contacts = Contacts.concat([r.contacts for r in rollouts])
    episode = np.repeat(np.arange(len(rollouts)), [len(r.contacts) for r in rollouts])
    states = np.stack([r.states for r in rollouts])
    steps = batch_step_labels(contacts, episode, len(rollouts), rollouts[0].transitions)
    return ([{name: values[b] for name, values in steps.items()} for b in range(len(rollouts))],
            batch_episode_labels(states, contacts, episode, ctx))


def _particle_labels(rollout: Rollout, ctx: FluidContext | ClothContext) -> tuple[dict, dict]:
    if isinstance(ctx, FluidContext):
        pos, vel = (rollout.points[k] for k in ("particle_pos", "particle_vel"))
        states = rollout.states
        steps, episode = fluid_step_labels(pos, ctx, states), fluid_episode_labels(pos, vel, ctx, states)
        if ctx.pour is not None:
            poses = {"cup": object_pose(states, ctx.pour.cup), "target": object_pose(states, ctx.pour.target)}
            steps |= pour_step_labels(pos, poses, ctx.pour)
            episode |= pour_episode_labels(pos, poses, ctx.pour)
        return steps, episode
    pos = rollout.points["vertex_pos"]
    return cloth_step_labels(pos, ctx), cloth_episode_labels(pos, ctx)


__all__ = ["ClothContext", "Context", "FluidContext", "LabelContext", "RobotLabelContext", "episode_context",
           "label_context", "label_rollout", "label_rollouts"]
