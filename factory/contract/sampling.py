"""Turn a recipe and an episode index into that episode's concrete parameters.

An episode's values depend only on (recipe, seed, episode index): each parameter draws from its
own generator seeded by (seed, index, name), so episode 17 is the same in any batch, shard or
worker, and changing one parameter's distribution leaves the others' draws untouched.
Scene-shaping fields (`factory.recipe.scene_fields`) are drawn the same way from the episode's scene
variant instead of its index, so episodes of one variant share a buildable scene.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from factory.contract.cameras import CameraPose, Light, draw_views
from factory.contract.robots import RobotInit, sample_robot
from factory.contract.seeds import Reseeded, pcg64_seeds, seed_words
from factory.recipe.containers import LIP_AXES, Tilt, movers, tilt_schedule
from factory.recipe.distributions import Uniform, nominal, sample
from factory.recipe.meshes import MESH_SHAPES, shape_asset
from factory.recipe.scene_fields import SceneField, scene_fields
from factory.recipe.schema import Move, Push, RandomPush, Recipe, RigidObject


@dataclass(frozen=True)
class BodyInit:
    """One body's sampled properties and its state at step 0."""

    name: str
    mass: float
    friction: float
    pos: tuple[float, float, float]
    quat: tuple[float, float, float, float]  # w, x, y, z
    vel: tuple[float, float, float]
    ang_vel: tuple[float, float, float]


@dataclass(frozen=True)
class EpisodeSpec:
    """Everything an engine needs to run one episode, and nothing about storage."""

    index: int
    params: dict[str, float]
    bodies: tuple[BodyInit, ...]
    ground_friction: float
    forces: np.ndarray  # (steps, n_objects, 3) external force on each object per step, N
    velocities: np.ndarray  # (steps, n_moves, 3) commanded velocity of each `move` (m/s) or `tilt` (rad/s) action
    points_shift: tuple[float, float, float] = (0.0, 0.0, 0.0)  # liquid block / cloth offset from nominal
    robots: tuple[RobotInit, ...] = ()  # each robot's initial joints and policy draws
    cameras: tuple[CameraPose, ...] = ()  # each camera's pose, in the recipe's order
    light: Light | None = None  # the cameras' light; None: the engine's default


_UNIT = Uniform(type="uniform", low=0.0, high=1.0)


def episode_rng(seed: int, index: int, name: str) -> np.random.Generator:
    """The generator of one parameter of one episode: `np.random.default_rng([seed, index, crc32(name)])`."""
    words = np.array(seed_words(seed) + seed_words(index) + seed_words(_crc(name)), np.uint32)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))


@lru_cache(maxsize=4096)
def _crc(name: str) -> int:
    return zlib.crc32(name.encode())


class _Draw:
    """Draws named parameters for one episode and keeps every value it drew; `rngs` gives a random
    parameter's generator (by default `episode_rng`), and `random` lists their names as drawn."""

    def __init__(self, seed: int, index: int, rngs: Callable[[str], np.random.Generator] | None = None):
        self.rngs = rngs or (lambda name: episode_rng(seed, index, name))
        self.params: dict[str, float] = {}
        self.random: list[str] = []

    def __call__(self, name: str, value) -> float:
        if isinstance(value, (int, float)):  # constants need no generator (most fields; keeps runs fast)
            drawn = float(value)
        else:
            drawn = sample(value, self.rngs(name))
            self.random.append(name)
        self.params[name] = drawn
        return drawn

    def vec(self, name: str, values) -> tuple[float, float, float]:
        x, y, z = (self(f"{name}.{axis}", v) for axis, v in zip("xyz", values, strict=True))
        return x, y, z


def scene_variant(recipe: Recipe, index: int) -> int:
    """Which scene variant episode `index` runs on: i mod `scene_variants`, or its own."""
    return index % recipe.scene_variants if recipe.scene_variants else index


def source_index(recipe: Recipe, index: int) -> int:
    """The index episode `index` draws its values with: its own, or in a guided recipe the candidate it
    took (`factory.recipe.guided`)."""
    return index if recipe.guided is None else recipe.guided.source(index)


def scene_draws(recipe: Recipe, index: int, fields: list[SceneField] | None = None) -> dict[str, float]:
    """The scene-shaping values of episode `index`, drawn from (seed, its scene variant, name);
    `fields` are the recipe's `scene_fields` where the caller has them already."""
    variant = scene_variant(recipe, source_index(recipe, index))
    return {f.name: float(f.value) if isinstance(f.value, (int, float))
            else sample(f.value, episode_rng(recipe.seed, variant, f.name)) for f in fields or scene_fields(recipe)}


def sample_episode(recipe: Recipe, index: int) -> EpisodeSpec:
    return _sample(recipe, index, _Draw(recipe.seed, source_index(recipe, index)), scene_draws(recipe, index))


def sample_episodes(recipe: Recipe, indices: Sequence[int]) -> list[EpisodeSpec]:
    """`sample_episode` of each index, the same specs: the first learns which parameters are
    random, and the others' generators for them are seeded together (`factory.contract.seeds`)."""
    if not indices:
        return []
    fields, variants = scene_fields(recipe), {}

    def scene(index: int) -> dict[str, float]:
        variant = scene_variant(recipe, index)
        if variant not in variants:
            variants[variant] = scene_draws(recipe, index, fields)
        return variants[variant]

    sources = [source_index(recipe, i) for i in indices]
    first = _Draw(recipe.seed, sources[0])
    specs = [_sample(recipe, indices[0], first, scene(indices[0]))]
    names = first.random
    table = _seed_table(recipe.seed, sources[1:], names)
    column, reseeded = {name: k for k, name in enumerate(names)}, Reseeded()
    for row, index, source in zip(table.tolist(), indices[1:], sources[1:], strict=True):
        def rngs(name: str, row=row, source=source) -> np.random.Generator:
            k = column.get(name)
            return episode_rng(recipe.seed, source, name) if k is None else reseeded.seeded(row[k])
        specs.append(_sample(recipe, index, _Draw(recipe.seed, source, rngs), scene(index)))
    return specs


def _seed_table(seed: int, indices: list[int], names: list[str]) -> np.ndarray:
    """(len(indices), len(names), 4) uint64: the PCG64 seed of each (episode, parameter) generator."""
    rows = [seed_words(seed) + seed_words(i) + seed_words(_crc(n)) for i in indices for n in names]
    seeds = np.empty((len(rows), 4), np.uint64)
    lengths = np.array([len(r) for r in rows], int)
    for length in np.unique(lengths):  # one word per number but for indices or seeds past 2**32
        at = np.flatnonzero(lengths == length)
        seeds[at] = pcg64_seeds(np.array([rows[k] for k in at], np.uint32).reshape(len(at), length))
    return seeds.reshape(len(indices), len(names), 4)


def _sample(recipe: Recipe, index: int, draw: _Draw, scene: dict[str, float]) -> EpisodeSpec:
    """Episode `index`, its values drawn by `draw` (with the generators of its source index)."""
    draw.params.update(scene)
    ground = recipe.scene.ground
    ground_friction = draw("ground.friction", ground.friction) if ground else 0.0
    bodies = tuple(_sample_body(obj, draw) for obj in recipe.scene.objects)
    names = [o.name for o in recipe.scene.objects]
    forces = np.zeros((recipe.steps, len(names), 3))
    moves = movers(recipe.actions)
    velocities = np.zeros((recipe.steps, len(moves), 3))
    for i, action in enumerate(recipe.actions):
        if isinstance(action, Move):
            v = draw.vec(f"actions.{i}.velocity", action.velocity)
            velocities[action.start:action.stop, moves.index(action)] = v
        elif isinstance(action, Tilt):  # about the lip's axis: the cup stands upright and unrotated at step 0
            omega = draw(f"actions.{i}.angular_velocity", action.angular_velocity)
            limit = draw(f"actions.{i}.max_angle_deg", action.max_angle_deg)
            rates = tilt_schedule(omega, limit, action.start, action.stop or recipe.steps, recipe.dt, recipe.steps)
            velocities[:, moves.index(action)] = rates[:, None] * np.array(LIP_AXES[action.lip])
        else:
            _schedule(action, f"actions.{i}", names.index(action.object), forces, recipe.dt, draw)
    shift = _points_shift(recipe, draw)
    robots = tuple(sample_robot(robot, draw, index) for robot in recipe.robots)
    cameras, light = draw_views(recipe, draw)
    return EpisodeSpec(index, draw.params, bodies, ground_friction, forces, velocities, shift, robots, cameras, light)


def _points_shift(recipe: Recipe, draw: _Draw) -> tuple[float, float, float]:
    """How far this episode's liquid block or cloth starts from where the scene was built."""
    if recipe.scene.fluid is not None:
        key, pos = "fluid.block.pos", recipe.scene.fluid.block.pos
    elif recipe.scene.cloth is not None:
        key, pos = "cloth.pos", recipe.scene.cloth.pos
    else:
        return (0.0, 0.0, 0.0)
    drawn = draw.vec(key, pos)
    dx, dy, dz = (d - nominal(p) for d, p in zip(drawn, pos, strict=True))
    return dx, dy, dz


def _sample_body(obj: RigidObject, draw: _Draw) -> BodyInit:
    n = obj.name
    return BodyInit(
        name=n,
        mass=_mass(obj, draw),
        friction=draw(f"{n}.friction", obj.friction),
        pos=draw.vec(f"{n}.pos", obj.pos),
        quat=euler_to_quat(draw.vec(f"{n}.euler", obj.euler)),
        vel=draw.vec(f"{n}.vel", obj.vel),
        ang_vel=draw.vec(f"{n}.ang_vel", obj.ang_vel),
    )


def _mass(obj: RigidObject, draw: _Draw) -> float:
    """The body's mass: drawn, or a mesh's density (drawn) times the volume of this episode's mesh at its scale."""
    n = obj.name
    if obj.mass is not None:
        return draw(f"{n}.mass", obj.mass)
    assert isinstance(obj.shape, MESH_SHAPES) and obj.density is not None  # the schema's rule: a mesh has one
    density = draw(f"{n}.density", obj.density)
    drawn = {key.removeprefix(f"{n}."): value for key, value in draw.params.items() if key.startswith(f"{n}.")}
    volume = shape_asset(obj.shape, drawn).volume  # of this episode's scene values (file, scale, sizes)
    draw.params[f"{n}.mass"] = mass = density * volume
    return mass


def _schedule(action: Push | RandomPush, key: str, obj: int, forces: np.ndarray, dt: float,
              draw: _Draw) -> None:
    """Add the action's forces to the per-step force table; an impulse J is J/dt for one step."""
    steps = forces.shape[0]
    if isinstance(action, Push):
        if action.force is not None:
            vec = np.array(draw.vec(f"{key}.force", action.force))
            for start in action.at:
                forces[start:min(start + action.duration, steps), obj] += vec
        else:
            vec = np.array(draw.vec(f"{key}.impulse", action.impulse))
            for start in action.at:
                forces[start, obj] += vec / dt
        return
    happens = draw(f"{key}.roll", _UNIT) < action.probability
    step = int(draw(f"{key}.step", action.step))
    magnitude = draw(f"{key}.impulse", action.impulse)
    heading = math.radians(draw(f"{key}.heading_deg", action.heading_deg))
    elevation = math.radians(draw(f"{key}.elevation_deg", action.elevation_deg))
    draw.params[f"{key}.applied"] = float(happens)
    if happens:
        direction = np.array([math.cos(elevation) * math.cos(heading),
                              math.cos(elevation) * math.sin(heading), math.sin(elevation)])
        forces[min(step, steps - 1), obj] += magnitude * direction / dt


def euler_to_quat(euler_deg: tuple[float, float, float]) -> tuple[float, float, float, float]:
    """Extrinsic x-y-z rotation in degrees → unit quaternion (w, x, y, z)."""
    hx, hy, hz = (math.radians(a) / 2 for a in euler_deg)
    cx, sx, cy, sy, cz, sz = math.cos(hx), math.sin(hx), math.cos(hy), math.sin(hy), math.cos(hz), math.sin(hz)
    return (cx * cy * cz + sx * sy * sz,
            sx * cy * cz - cx * sy * sz,
            cx * sy * cz + sx * cy * sz,
            cx * cy * sz - sx * sy * cz)


def transition_impulses(forces: np.ndarray, dt: float, record_every: int) -> np.ndarray:
    """Per-step forces (steps, n_objects, 3) → impulse per recorded transition (T, n_objects*3); for
    a batch, (B, steps, n_objects, 3) → (B, T, n_objects*3), each episode's the same as alone.

    A transition spans `record_every` simulation steps; its action is the total impulse
    (N*s) applied to each object during them, so actions keep their meaning at any recording rate.
    """
    *batch, steps, n_objects, _ = forces.shape
    grouped = forces.reshape(*batch, steps // record_every, record_every, n_objects * 3)
    return (grouped.sum(axis=-2) * dt).astype(np.float32)


def transition_velocities(velocities: np.ndarray, record_every: int) -> np.ndarray:
    """Per-step mover velocities (steps, n_moves, 3) → mean velocity per transition (T, n_moves*3)."""
    steps, n_moves, _ = velocities.shape
    grouped = velocities.reshape(steps // record_every, record_every, n_moves * 3)
    return grouped.mean(axis=1).astype(np.float32)
