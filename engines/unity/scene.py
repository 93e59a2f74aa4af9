"""Map a recipe onto a Unity scenario: what the build receives, and how its vectors read.

Unity scenes are authored, so unlike Genesis nothing is built from the recipe here: the adapter
sends every episode value as a parameter and reads the agent's vectors through the recipe's
`observation` and `action` name lists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.unity.protocol import (
    EPISODE,
    EPISODE_SEED,
    IGNORED,
    KEY_BOUNCE_THRESHOLD,
    KEY_DT,
    KEY_GRAVITY,
    KEY_PROTOCOL,
    OBS_HEADER,
    PROTOCOL_VERSION,
    bounce_threshold,
    episode_seed,
)
from factory.contract.rollout import Layout
from factory.contract.sampling import EpisodeSpec, sample_episode
from factory.errors import EngineUnsupported, did_you_mean
from factory.recipe.distributions import Distribution, is_random, nominal
from factory.recipe.meshes import MESH_TYPES
from factory.recipe.schema import Recipe
from factory.recipe.schema import UnityEngine as UnityConfig


def make_layout(recipe: Recipe) -> Layout:
    objects = tuple(o.name for o in recipe.scene.objects)
    bodies = (("ground",) if recipe.scene.ground else ()) + objects
    return Layout(objects, bodies, recipe.dt * recipe.outputs.record_every)


def unity_config(recipe: Recipe) -> UnityConfig:
    """The recipe's `engine:` section: a Unity one, as the registry picks this engine by its type."""
    assert isinstance(recipe.engine, UnityConfig), recipe.engine.type
    return recipe.engine


def check_representable(recipe: Recipe, layout: Layout) -> None:
    """Raise `EngineUnsupported` naming every field the Unity adapter cannot honour."""
    cfg = unity_config(recipe)
    problems = _name_problems("observation", cfg.observation, layout.state_names, complete=True)
    problems += _name_problems("action", cfg.action, layout.action_names, complete=False)
    mapped = set(cfg.action if cfg.action is not None else layout.action_names)
    for i, action in enumerate(recipe.actions):
        missing = [f"{action.object}.impulse.{c}" for c in "xyz" if f"{action.object}.impulse.{c}" not in mapped]
        if missing:
            problems.append(f"actions[{i}] pushes '{action.object}', but engine.action has no entry for "
                            f"{', '.join(missing)}")
    if cfg.file_name is None and cfg.worker_id != 0:
        problems.append("engine.worker_id: the Editor (no file_name) serves one connection; use worker_id 0")
    problems += [f"scene.objects.{i}.shape: a '{o.shape.type}' needs its mesh in the scene, and a Unity build's "
                 "scenes are authored in the Editor (the factory cannot send it geometry); use engine: mujoco or "
                 "genesis" for i, o in enumerate(recipe.scene.objects) if o.shape.type in MESH_TYPES]
    problems += _unrecorded_restitution(recipe)
    if problems:
        raise EngineUnsupported("the recipe asks for what the Unity adapter cannot do:\n" +
                                "\n".join(f"  - {p}" for p in problems))


def _restitutions(recipe: Recipe) -> list[tuple[str, str, float | Distribution]]:
    """(recipe path, parameter name, value) of every restitution the recipe sets."""
    found = [(f"scene.objects.{i}.restitution", f"{o.name}.restitution", o.restitution)
             for i, o in enumerate(recipe.scene.objects) if o.restitution is not None]
    ground = recipe.scene.ground
    if ground is not None and ground.restitution is not None:
        found.append(("scene.ground.restitution", "ground.restitution", ground.restitution))
    return found


def _unrecorded_restitution(recipe: Recipe) -> list[str]:
    """A Unity build takes any value per agent, so a drawn restitution is sent per episode; but only
    if the sampler draws it, so that the episodes table records the value the build used."""
    drawn = sample_episode(recipe, 0).params
    return [f"{path}: the factory does not draw restitution per episode, so the episodes table would not "
            "record the value Unity used; give a fixed value" for path, name, value in _restitutions(recipe)
            if is_random(value) and name not in drawn]


def _name_problems(field: str, names: list[str] | None, valid: list[str], complete: bool) -> list[str]:
    if names is None:
        return []
    problems = [f"engine.{field}[{i}] '{n}' is not a field of the scene{did_you_mean(n, valid)}"
                for i, n in enumerate(names) if n not in valid and not (complete and n == IGNORED)]
    repeated = sorted({n for n in names if n != IGNORED and names.count(n) > 1})
    if repeated:
        problems.append(f"engine.{field} names {', '.join(repeated)} more than once")
    absent = [n for n in valid if n not in names] if complete else []
    if absent:
        problems.append(f"engine.{field} must name every state entry; missing {', '.join(absent[:6])}"
                        + (f" and {len(absent) - 6} more" if len(absent) > 6 else ""))
    return problems


@dataclass(frozen=True)
class VectorMap:
    """Where each state entry sits in an observation, and each action entry in the impulse vector."""

    state_in_obs: np.ndarray  # (state_size,) int: observation column of each layout state entry
    obs_size: int  # header included
    action_from_impulse: np.ndarray  # (action entries,) int: index into the flat per-object impulses

    def states(self, obs: np.ndarray) -> np.ndarray:
        return obs[..., self.state_in_obs]

    def actions(self, impulses: np.ndarray) -> np.ndarray:
        return impulses[..., self.action_from_impulse]


def vector_map(recipe: Recipe, layout: Layout) -> VectorMap:
    cfg = unity_config(recipe)
    observation = cfg.observation if cfg.observation is not None else layout.state_names
    action = cfg.action if cfg.action is not None else layout.action_names
    header = len(OBS_HEADER)
    return VectorMap(np.array([header + observation.index(n) for n in layout.state_names]),
                     header + len(observation),
                     np.array([layout.action_names.index(n) for n in action]))


def scene_parameters(recipe: Recipe) -> dict[str, float]:
    """Values shared by every agent of the build."""
    return {KEY_PROTOCOL: PROTOCOL_VERSION, KEY_DT: recipe.dt,
            **dict(zip(KEY_GRAVITY, recipe.scene.gravity, strict=True)),
            KEY_BOUNCE_THRESHOLD: bounce_threshold(recipe.dt, recipe.scene.gravity)}


def episode_parameters(recipe: Recipe, spec: EpisodeSpec) -> dict[str, float]:
    """Every sampled value of the episode by its recipe name, plus what the scene needs derived."""
    params = dict(spec.params)
    for obj, body in zip(recipe.scene.objects, spec.bodies, strict=True):
        params.update(zip((f"{obj.name}.quat.{c}" for c in "wxyz"), body.quat, strict=True))
        params[f"{obj.name}.fixed"] = float(obj.fixed)
    for _, name, value in _restitutions(recipe):
        if name not in params:  # a drawn value is in spec.params already (see check_representable)
            params[name] = nominal(value)
    ground = recipe.scene.ground
    if ground is not None:
        params["ground.height"] = ground.height
        if ground.size is not None:
            params.update({"ground.size.x": ground.size[0], "ground.size.y": ground.size[1]})
    params[EPISODE] = spec.index
    params[EPISODE_SEED] = episode_seed(recipe.seed, spec.index)
    return params
