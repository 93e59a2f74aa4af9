"""The recipe schema: one strict pydantic model per concept, variants joined by a `type` tag.

A recipe describes a *family* of scenarios: any numeric field may hold a distribution, and each
episode draws its own values (see `factory.contract.sampling`); fields that shape a built scene are drawn
per scene variant (see `factory.scene_variants`). Engines map the scene onto their own
representation and refuse, with a clear error, what they cannot represent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from factory.errors import did_you_mean
from factory.recipe.cameras import Camera, Lighting, check_cameras
from factory.recipe.containers import CupShape, Tilt, check_pour
from factory.recipe.distributions import Uniform, nominal, support
from factory.recipe.field_types import FixedVec3, Name, Num, Strict, Vec3, require_range
from factory.recipe.generated import BottleShape, BowlShape, MugShape, TrayShape
from factory.recipe.guided import Guided
from factory.recipe.meshes import MESH_TYPES, MeshSetShape, MeshShape
from factory.recipe.particles import Cloth, Fluid, Move
from factory.recipe.robots import Robot, check_robots
from factory.registry import FORMATS


# ---------------------------------------------------------------- shapes
class BoxShape(Strict):
    type: Literal["box"]
    size: Vec3 = Field(description="Edge lengths along x, y, z in metres.")

    def validate_physical(self) -> None:
        for axis, s in zip("xyz", self.size, strict=True):
            require_range(s, f"size.{axis}", 0.0)


class SphereShape(Strict):
    type: Literal["sphere"]
    radius: Num = Field(description="Radius in metres.")

    def validate_physical(self) -> None:
        require_range(self.radius, "radius", 0.0)


class CylinderShape(Strict):
    type: Literal["cylinder"]
    radius: Num
    height: Num

    def validate_physical(self) -> None:
        require_range(self.radius, "radius", 0.0)
        require_range(self.height, "height", 0.0)


Shape = Annotated[BoxShape | SphereShape | CylinderShape | CupShape | MeshShape | MeshSetShape | MugShape | BowlShape
                  | BottleShape | TrayShape, Field(discriminator="type")]


# ---------------------------------------------------------------- scene
class RigidObject(Strict):
    """One rigid body; pose and velocities are its state at step 0."""

    name: Name
    shape: Shape
    mass: Num | None = Field(1.0, description="Mass in kg; a mesh given none is weighed by its `density`.")
    density: Num | None = Field(None, description="kg/m³: a mesh's mass is this times its volume.")
    friction: Num = Field(0.5, description="Coulomb friction coefficient (Genesis: 0.01-5).")
    restitution: Num | None = Field(None, description="Coefficient of restitution; a contact takes the mean "
                                    "of its two bodies' values (the ground counts as a body; unset is 0).")
    pos: Vec3 = Field(description="Initial centre position in metres.")
    euler: Vec3 = Field([0.0, 0.0, 0.0], description="Initial orientation, extrinsic x-y-z, degrees.")
    vel: Vec3 = Field([0.0, 0.0, 0.0], description="Initial linear velocity in m/s.")
    ang_vel: Vec3 = Field([0.0, 0.0, 0.0], description="Initial angular velocity in rad/s.")
    fixed: bool = Field(False, description="Welded to the world (a wall, a target post).")

    def nominal_mass(self, volume: float = 0.0) -> float:
        """The mass at nominal values: `mass`, or `density` times `volume` (a mesh body's, m³)."""
        if self.mass is not None:
            return nominal(self.mass)
        return nominal(self.density if self.density is not None else 0.0) * volume

    @model_validator(mode="before")
    @classmethod
    def _default_mass(cls, data: object) -> object:
        """A primitive weighs 1 kg unless told; a mesh has no default: its `density` or `mass` weighs it."""
        if isinstance(data, dict) and "mass" not in data and _type_of(data.get("shape")) in MESH_TYPES:
            return {**data, "mass": None}
        return data

    @model_validator(mode="after")
    def _physical(self) -> RigidObject:
        self.shape.validate_physical()
        if self.shape.type in MESH_TYPES and (self.mass is None) == (self.density is None):
            raise ValueError("density: give a mesh either `density` (kg/m³, weighed by its volume) or `mass` (kg)")
        if self.shape.type not in MESH_TYPES and self.density is not None:
            raise ValueError("density: only a mesh is weighed by its volume; give this object's `mass`")
        if self.mass is not None:
            require_range(self.mass, "mass", 0.0)
        if self.density is not None:
            require_range(self.density, "density", 0.0)
        require_range(self.friction, "friction", 0.0, low_open=False)
        if self.restitution is not None:
            require_range(self.restitution, "restitution", 0.0, 1.0, low_open=False)
        return self

    @model_serializer(mode="wrap")
    def _without_unset_density(self, handler: SerializerFunctionWrapHandler) -> dict:
        """A body weighed by its `mass` dumps (and hashes) as it did before meshes had a density."""
        data = handler(self)
        if self.density is None:
            data.pop("density", None)
        return data


def _type_of(shape: object) -> object:
    return shape.get("type") if isinstance(shape, dict) else getattr(shape, "type", None)


class Ground(Strict):
    """The support surface: an infinite plane, or a table top of `size` whose top is at z=`height`."""

    friction: Num = 0.5
    restitution: Num | None = Field(None, description="Coefficient of restitution of the surface; a contact "
                                    "takes the mean of its two bodies' values.")
    height: float = 0.0
    size: Annotated[list[float], Field(min_length=2, max_length=2)] | None = Field(
        None, description="Table top extent [x, y] in metres; objects can fall off its edges.")

    @model_validator(mode="after")
    def _physical(self) -> Ground:
        require_range(self.friction, "friction", 0.0, low_open=False)
        if self.restitution is not None:
            require_range(self.restitution, "restitution", 0.0, 1.0, low_open=False)
        if self.size is not None and min(self.size) <= 0:
            raise ValueError("size: must be positive")
        return self


class Scene(Strict):
    gravity: FixedVec3 = [0.0, 0.0, -9.81]  # noqa: RUF012 - pydantic copies a field's default per instance
    ground: Ground | None = Field(default_factory=Ground)
    objects: list[RigidObject] = Field(min_length=1)
    fluid: Fluid | None = Field(None, description="The liquid of a `kind: fluid` recipe.")
    cloth: Cloth | None = Field(None, description="The sheet of a `kind: cloth` recipe.")

    @model_validator(mode="after")
    def _unique_names(self) -> Scene:
        names = [o.name for o in self.objects]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"objects: names must be unique; repeated: {', '.join(dupes)}")
        if "ground" in names:
            raise ValueError("objects: 'ground' is reserved for the support surface")
        return self


# ---------------------------------------------------------------- actions
class Push(Strict):
    """A scripted push: a force held for `duration` steps, or an impulse, at each listed step."""

    type: Literal["push"]
    object: Name
    at: list[Annotated[int, Field(ge=0)]] = Field(min_length=1, description="Simulation steps.")
    force: Vec3 | None = Field(None, description="Newtons, world frame, held for `duration` steps.")
    impulse: Vec3 | None = Field(None, description="N*s, world frame, delivered within one step.")
    duration: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _one_kind(self) -> Push:
        if (self.force is None) == (self.impulse is None):
            raise ValueError("impulse: give exactly one of 'force' or 'impulse'")
        return self


class RandomPush(Strict):
    """An impulse whose step, size and heading are drawn per episode; it happens with `probability`."""

    type: Literal["random_push"]
    object: Name
    step: Num = Field(description="Simulation step of the push (rounded down).")
    impulse: Num = Field(description="Impulse magnitude in N*s.")
    heading_deg: Num = Field(default_factory=lambda: Uniform(type="uniform", low=0.0, high=360.0),
                             description="Direction in the horizontal plane, degrees from +x.")
    elevation_deg: Num = 0.0
    probability: float = Field(1.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _physical(self) -> RandomPush:
        require_range(self.step, "step", 0.0, low_open=False)
        require_range(self.impulse, "impulse", 0.0, low_open=False)
        return self


Action = Annotated[Push | RandomPush | Move | Tilt, Field(discriminator="type")]


# ---------------------------------------------------------------- engines
class GenesisEngine(Strict):
    type: Literal["genesis"]
    backend: Literal["cpu", "gpu"] = "cpu"


class UnityEngine(Strict):
    """A Unity player build, or the Editor, driven through ML-Agents (see engines/unity/README.md)."""

    type: Literal["unity"]
    file_name: str | None = Field(None, description="Player build path without .x86_64/.exe/.app, "
                                  "relative to the working directory; null waits for the Editor (press Play).")
    behavior_name: str = Field(min_length=1, description="Behavior Parameters > Behavior Name of the factory agents.")
    base_port: int | None = Field(None, ge=1024, le=65535, description="Port of worker 0; default 5005 for "
                                  "a build, 5004 for the Editor. Worker k listens on base_port + worker_id + k.")
    worker_id: int = Field(0, ge=0, le=1000, description="Worker id of the first build; parallel workers count up.")
    no_graphics: bool = Field(True, description="Run builds with -nographics -batchmode.")
    time_scale: float = Field(20.0, gt=0, le=100, description="Unity Time.timeScale (EngineConfigurationChannel).")
    timeout_wait: int = Field(60, ge=1, description="Seconds to wait for a build to connect or answer a step.")
    max_restarts: int = Field(2, ge=0,
                              description="Restarts of a crashed or hung build per batch before the run fails.")
    args: list[str] = Field([], description="Extra command-line arguments for the build.")
    observation: list[str] | None = Field(None, description="Name of each vector observation entry after the "
                                          "2-entry header (slot, step): a state field like 'box.pos.x', or '_' to "
                                          "ignore it. Default: the state layout, object by object.")
    action: list[str] | None = Field(None, description="Name of each continuous action entry, like "
                                     "'box.impulse.x'. Default: every object's impulse, in scene order.")


class MuJoCoEngine(Strict):
    """MuJoCo on the CPU: each thread steps its own episodes (the same bytes at any thread count)."""

    type: Literal["mujoco"]
    threads: int | None = Field(None, ge=1, le=256, description="Threads stepping a batch; default: "
                                "the cores this process may run on.")


Engine = Annotated[GenesisEngine | UnityEngine | MuJoCoEngine, Field(discriminator="type")]


# ---------------------------------------------------------------- outputs, labels
if TYPE_CHECKING:  # a Literal built at run time is no static type
    FormatName = str
else:
    FormatName = Literal[tuple(FORMATS)]  # the storage registry's keys, in its order


class Outputs(Strict):
    formats: list[FormatName] = Field(list(FORMATS), min_length=1, description="Storage formats to "
                                      "write, each once; every one holds the same data.")
    record_every: int = Field(1, ge=1, description="Record every k-th simulation step.")
    shard_size: int = Field(256, ge=1, description="Episodes per data file.")

    @field_validator("formats")
    @classmethod
    def _each_once(cls, formats: list[str]) -> list[str]:
        if twice := sorted({f for f in formats if formats.count(f) > 1}):
            raise ValueError(f"{', '.join(twice)} listed more than once; list each format once")
        return formats


class Quarantine(Strict):
    """Bounds past which an episode is treated as a blown-up simulation and kept out of the data.

    Non-finite states or contacts are always quarantined; these bounds catch what stays finite.
    """

    max_speed: float | None = Field(None, gt=0, description="m/s; any object faster than this at a "
                                    "recorded state quarantines the episode.")
    max_penetration: float | None = Field(None, gt=0, description="m; any contact deeper than this "
                                          "quarantines the episode.")


class LabelOptions(Strict):
    rest_speed: float = Field(0.02, gt=0, description="m/s below which a body counts as at rest.")
    min_impact_force: float = Field(0.0, ge=0, description="Contacts weaker than this (N) are not impacts.")
    striker: Name | None = Field(None, description="A struck ball (billiards' cue ball): adds the strike "
                                 "labels of `factory.labels.strike` (first ball hit, contact order, cushion "
                                 "bounces, balls moved, final positions).")


Band = Annotated[list[float], Field(min_length=2, max_length=2)]


class QualityOptions(Strict):
    """What `factory report` holds out for out-of-distribution tests, and its pass/fail thresholds."""

    holdout: dict[str, Band | list[Band]] = Field(
        {}, description="Episode parameter (e.g. 'ball.mass') → [low, high], or a list of such bands "
        "(PhyWorld-style: one below and one above the training range): episodes drawn in a band are "
        "never trained on and make that band's out-of-distribution test set.")

    def bands(self) -> dict[str, list[tuple[float, float]]]:
        """Every holdout parameter's bands as (low, high) pairs, whichever form the recipe used."""
        return {name: [(b[0], b[1]) for b in (spec if isinstance(spec[0], list) else [spec])]
                for name, spec in self.holdout.items()}
    min_improvement: float = Field(0.2, ge=0, lt=1, description="The model's one-step error and its "
                                   "position error after the rollout horizon must each be at most "
                                   "(1 - this) × the best trivial baseline's.")
    max_nonfinite: int = Field(0, ge=0, description="NaN/inf values allowed in states and actions.")
    max_penetration: float = Field(0.01, gt=0, description="Contact penetration depth (m) that at most "
                                   "one contact in 1,000 may exceed; single transient spikes at impacts pass.")
    max_energy_gain: float = Field(0.05, gt=0, description="Largest energy gain over one transition with "
                                   "no action, as a fraction of the episode's energy scale.")
    max_action_residual: float = Field(0.5, gt=0, description="Median |m·Δv − J| / |J| over pushes: "
                                       "how far recorded pushes may be from moving what they push.")
    max_mover_residual: float = Field(0.1, gt=0, description="Fluid and cloth: median |Δx/dt − v| / "
                                      "max(|v|, |Δx/dt|) over transitions where a scripted mover moves or "
                                      "is told to: how far its recorded motion may be from its action v.")
    max_label_mismatch: float = Field(0.05, ge=0, le=1, description="Fraction of episodes whose labels "
                                      "may disagree with their states.")
    max_duplicates: float = Field(0.0, ge=0, le=1, description="Fraction of duplicate episodes allowed.")
    min_volume_ratio: float = Field(0.9, gt=0, le=1, description="Liquids: an episode whose final "
                                    "volume over its step-0 volume (label `volume_ratio`) is below this "
                                    "counts as compressed.")
    min_coverage: float = Field(0.5, ge=0, le=1, description="Fraction of histogram bins each randomized "
                                "parameter must fill over its declared range.")
    max_ood_ratio: float = Field(5.0, gt=0, description="Out-of-distribution one-step error may be at "
                                 "most this multiple of the in-distribution error.")
    max_tracking_error: float = Field(0.1, gt=0, description="Robots commanded in joint positions or deltas: "
                                      "median |q(t+1) - target(t)| over transitions and actuated joints (rad "
                                      "or m): how far the arm may lag what it was told.")
    max_tool_tracking_error: float = Field(0.03, gt=0, description="Robots commanded in `ee_delta`: median "
                                           "|tool(t+1) - tool(t) - Δ| over transitions (m).")

    LATER: ClassVar[dict[str, float]] = {"max_tracking_error": 0.1, "max_tool_tracking_error": 0.03}
    """Fields added after datasets existed: left out of a recipe's dump (and hash) at these defaults."""


# ---------------------------------------------------------------- recipe
MAX_EPISODES = 100_000_000  # per dataset: planning and the manifest list every shard
MAX_SHARDS = 100_000


DEFAULT_LICENSE = "cc-by-4.0"


class Recipe(Strict):
    """A scenario family: what to simulate, how to randomize it, and what to write."""

    name: Name
    description: str = ""
    license: str = Field(DEFAULT_LICENSE, min_length=1, description="The data's license, an SPDX-style id as the "
                         "Hugging Face Hub spells it (cc-by-4.0, cc0-1.0, apache-2.0, other): written into the "
                         "dataset card's front matter.")
    kind: Literal["collision", "fluid", "cloth"] = Field(
        "collision", description="collision: rigid bodies; fluid: scene.fluid; cloth: scene.cloth.")
    engine: Engine
    seed: int = Field(ge=0)
    episodes: int = Field(ge=1, le=MAX_EPISODES, description=f"At most {MAX_EPISODES:,} per dataset; "
                          "`factory merge` joins datasets.")
    steps: int = Field(ge=1, description="Simulation steps per episode.")
    dt: float = Field(gt=0, le=0.1, description="Simulation time step in seconds.")
    n_envs: int = Field(1, ge=1, le=4096, description="Episodes simulated together in one batched scene.")
    scene_variants: int | None = Field(
        None, ge=1, description="How many scenes the scene-shape fields (object sizes, particle spacing, "
        "liquid volume, viscosity, cloth size and compliances) are drawn for: episode i uses variant "
        "i mod K, and an engine that batches one built scene (Genesis) builds K scenes. Null: drawn per "
        "episode, and episodes that drew the same values share a scene (use a `choice`).")
    scene: Scene
    actions: list[Action] = []  # noqa: RUF012 - pydantic copies a field's default per instance
    robots: list[Robot] = Field([], description="Articulated robots whose commands are the action "
                                "(factory.recipe.robots); a recipe with robots takes no other actions.")
    cameras: list[Camera] = Field([], description="Cameras whose frames are recorded with each episode "
                                  "(factory.recipe.cameras); MuJoCo renders them.")
    lighting: Lighting | None = Field(None, description="The light of the cameras' frames, drawn per episode; "
                                      "null: the engine's default light.")
    outputs: Outputs = Field(default_factory=Outputs)
    labels: LabelOptions = Field(default_factory=LabelOptions)
    quality: QualityOptions = Field(default_factory=QualityOptions)
    quarantine: Quarantine = Field(default_factory=Quarantine)
    guided: Guided | None = Field(None, description="Written by `factory run --guided-by`, not by hand: which "
                                  "candidate of the recipe's own distributions each episode took "
                                  "(factory.recipe.guided).")

    @field_validator("engine", mode="before")
    @classmethod
    def _engine_shorthand(cls, value: object) -> object:
        """`engine: genesis` is short for `engine: {type: genesis}`."""
        return {"type": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> Recipe:
        sections = {"fluid": self.scene.fluid, "cloth": self.scene.cloth}
        for kind, section in sections.items():
            if (kind == self.kind) != (section is not None):
                raise ValueError(f"scene.{kind}: required for kind '{kind}'" if kind == self.kind else
                                 f"scene.{kind}: only a kind '{kind}' recipe has one (this is '{self.kind}')")
        for i, action in enumerate(self.actions):
            self._check_action(i, action)
        check_robots(self, bool((info.context or {}).get("check_files")))
        check_cameras(self.cameras, [o.name for o in self.scene.objects], [r.name for r in self.robots])
        if self.lighting is not None and not self.cameras:
            raise ValueError("lighting: lights only the cameras' frames; this recipe has no cameras")
        striker = self.labels.striker
        movable = [o.name for o in self.scene.objects if not o.fixed]
        if striker is not None and striker not in movable:
            raise ValueError(f"labels.striker: '{striker}' is not a movable object of the scene"
                             f"{did_you_mean(striker, movable)}; movable: {', '.join(movable)}")
        if self.kind != "collision" and not any(isinstance(a, (Move, Tilt)) for a in self.actions):
            raise ValueError(f"actions: a {self.kind} recipe needs a 'move' action (a gate, wall, object or "
                             "grasped corner) or a 'tilt' (a cup), whose velocity is each transition's action")
        if -(-self.episodes // self.outputs.shard_size) > MAX_SHARDS:
            raise ValueError(f"outputs.shard_size: {self.episodes:,} episodes in shards of "
                             f"{self.outputs.shard_size} make more than {MAX_SHARDS:,} shards; raise shard_size")
        if self.guided is not None and len(self.guided.candidates) != self.episodes:
            raise ValueError(f"guided: selects {len(self.guided.candidates)} episodes, the recipe runs {self.episodes}")
        if self.steps % self.outputs.record_every:
            raise ValueError(f"outputs.record_every: steps ({self.steps}) must be a multiple of "
                             f"record_every ({self.outputs.record_every})")
        return self

    def _check_action(self, i: int, action: Push | RandomPush | Move | Tilt) -> None:
        objects = {o.name: o for o in self.scene.objects}
        if isinstance(action, Tilt):
            check_pour(action, i, objects, self.scene.fluid)
        grasped = self.kind == "cloth" and self.scene.cloth is not None and self.scene.cloth.grasp == "corner"
        names = list(objects) + (["cloth"] if grasped else [])
        if action.object not in names:
            raise ValueError(f"actions.{i}.object: '{action.object}' is not an object of the scene"
                             f"{did_you_mean(action.object, names)}; objects: {', '.join(names)}")
        if isinstance(action, (Move, Tilt)):
            if self.kind == "collision":
                raise ValueError(f"actions.{i}.type: '{action.type}' drives fluid and cloth scenes; collision "
                                 "recipes use 'push' or 'random_push'")
            if action.object != "cloth" and not objects[action.object].fixed:
                raise ValueError(f"actions.{i}.object: '{action.object}' must be fixed to be moved kinematically")
            stop = action.stop if action.stop is not None else self.steps
            if not action.start < stop <= self.steps:
                raise ValueError(f"actions.{i}.stop: the {action.type} must run within steps "
                                 f"{action.start}..{self.steps}")
            return
        if self.kind != "collision":
            raise ValueError(f"actions.{i}.type: '{action.type}' is for collision recipes; "
                             f"a {self.kind} recipe moves things with 'move'")
        if objects[action.object].fixed:
            raise ValueError(f"actions.{i}.object: '{action.object}' is fixed and cannot be pushed")
        last = max(action.at) if isinstance(action, Push) else support(action.step)[1]
        if last >= self.steps:
            field = "at" if isinstance(action, Push) else "step"
            raise ValueError(f"actions.{i}.{field}: acts at step {last:g}, past the episode's {self.steps} steps")

    @model_serializer(mode="wrap")
    def _without_later_defaults(self, handler: SerializerFunctionWrapHandler) -> dict:
        """A recipe that leaves the fields added since the first datasets at their defaults (no robots,
        cameras, lighting or guide, the default license) dumps, and so hashes, as it did before they
        existed: its datasets still resume."""
        data = handler(self)
        for section in ("robots", "cameras", "lighting", "guided"):
            if not getattr(self, section):
                data.pop(section, None)
        if data.get("license") == DEFAULT_LICENSE:
            data.pop("license")
        quality = data.get("quality", {})
        for name, default in QualityOptions.LATER.items():
            if quality.get(name) == default:
                quality.pop(name)
        return data

    @property
    def recorded_steps(self) -> int:
        """Transitions per episode as stored."""
        return self.steps // self.outputs.record_every
