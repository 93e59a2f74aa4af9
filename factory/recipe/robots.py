"""The recipe's `robots:` section: an articulated robot from a robot file, its controller, its
action space and the scripted policy that makes its actions.

Names (joints, links, actuators) and the drawn initial configuration are checked against the
robot file when a recipe is loaded from YAML (`load_recipe` validates with the `check_files`
context), so a dataset whose manifest names a robot file absent on this machine still opens.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Discriminator, Field, Tag, ValidationInfo, model_validator

from factory.errors import did_you_mean
from factory.meshes import file_sha256
from factory.recipe.distributions import support
from factory.recipe.field_types import FixedVec3, Name, Num, Strict, Vec3, require_range
from factory.recipe.replay_file import ReplayFileError, check_replay
from factory.recipe.robot_file import RobotDescription, RobotFileError, describe, resolve

if TYPE_CHECKING:
    from factory.recipe.schema import Recipe

ActionSpace = Literal["joint_position", "joint_delta", "ee_delta", "joint_velocity"]


class PackageFile(Strict):
    """A file inside an installed Python package, e.g. `{package: genesis, path:
    assets/xml/franka_emika_panda/panda.xml}`; found without importing the package."""

    package: str = Field(min_length=1)
    path: str = Field(min_length=1, description="Relative to the package's folder.")


class Base(Strict):
    """Where the robot's root link is welded: fixed for every episode (the model is compiled once)."""

    pos: FixedVec3 = Field([0.0, 0.0, 0.0], description="m, world frame.")
    euler: FixedVec3 = Field([0.0, 0.0, 0.0], description="Extrinsic x-y-z, degrees.")


class JointPD(Strict):
    """Joint position PD: torque = kp (target - q) - kd dq, within the file's force limits. Unset
    gains keep the file's actuator gains."""

    type: Literal["joint_position"] = "joint_position"
    kp: float | dict[str, float] | None = Field(None, description="N·m/rad (N/m); one for all or per joint.")
    kd: float | dict[str, float] | None = Field(None, description="N·m·s/rad; one for all or per joint.")


class JointVelocity(Strict):
    """Joint velocity control: torque = kv (target velocity - dq), within the file's force limits, with
    the robot's links compensated for gravity (as a robot's own velocity interface does), so a zero
    command holds the arm still. The action is each actuated joint's velocity target (rad/s, m/s)."""

    type: Literal["joint_velocity"]
    kv: float | dict[str, float] = Field(description="N·m·s/rad (N·s/m); one for all or per joint.")

    @model_validator(mode="after")
    def _positive(self) -> JointVelocity:
        for joint, value in (self.kv.items() if isinstance(self.kv, dict) else [("", self.kv)]):
            if value <= 0:
                raise ValueError(f"kv{'.' + joint if joint else ''}: must be > 0, got {value:g}")
        return self


def _controller_type(value: object) -> str:
    """A controller without `type` is the joint position PD (recipes written before velocity control)."""
    found = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return found if isinstance(found, str) else "joint_position"


Controller = Annotated[Annotated[JointPD, Tag("joint_position")] | Annotated[JointVelocity, Tag("joint_velocity")],
                       Discriminator(_controller_type)]


class Gripper(Strict):
    """A gripper driven by one actuator of the file; its action is 0 (open) .. 1 (closed)."""

    actuator: str
    open: float = Field(description="The actuator's control value that opens the gripper.")
    closed: float = Field(description="The actuator's control value that closes it.")


class PushPolicy(Strict):
    """Approach `object` from the side opposite `heading_deg` and push it `distance` along it."""

    type: Literal["push"]
    object: Name
    heading_deg: Num = Field(description="Direction of the push in the horizontal plane, degrees from +x.")
    distance: Num = Field(description="How far to push the object, m.")
    standoff: float = Field(0.04, gt=0, description="Gap between the tool point and the object's side "
                                                    "before the push, m.")
    clearance: float = Field(0.08, gt=0, description="Height above the object's top while approaching, m.")
    tolerance: float = Field(0.03, gt=0, description="Label `pushed_to_target__X`: the object ends within "
                                                     "this of the push's goal, m.")
    noise: float = Field(0.0, ge=0, description="Std of Gaussian noise on each action, in action units.")
    random_share: Num = Field(0.0, description="Chance that a transition's command is a random joint move "
                              "instead of the policy's (drawn per episode), so datasets hold failures too.")


class RandomWalkPolicy(Strict):
    """Smooth joint-space motion through `waypoints` drawn uniformly around the initial configuration
    (its nominal values), within the joint limits: exploration near a pose the scene was laid out for,
    where draws over whole joint ranges would mostly drive the arm into the table."""

    type: Literal["random_walk"]
    waypoints: int = Field(3, ge=1, le=32)
    spread: float = Field(0.3, gt=0, description="Waypoints lie within this of the initial position (rad or m).")
    margin: float = Field(0.05, ge=0, description="Keep waypoints this far inside each joint limit (rad or m).")
    noise: float = Field(0.0, ge=0, description="Std of Gaussian noise on each action, in action units.")
    random_share: Num = Field(0.0, description="Chance that a transition's command is a random joint move "
                              "instead of the policy's (drawn per episode), so datasets hold failures too.")


class ReachPolicy(Strict):
    """Move the tool point in a straight line to a drawn `point`, or to `offset` from an object's centre
    (followed if it moves), arriving at 60 % of the episode, then hold."""

    type: Literal["reach"]
    point: Vec3 | None = Field(None, description="World position to reach, m; each axis may be a distribution.")
    object: Name | None = Field(None, description="A movable object to reach instead of a point.")
    offset: FixedVec3 = Field([0.0, 0.0, 0.1], description="Added to the object's centre, m.")
    tolerance: float = Field(0.02, gt=0, description="Label `reached__X`: the tool ends within this, m.")
    noise: float = Field(0.0, ge=0, description="Std of Gaussian noise on each action, in action units.")
    random_share: Num = Field(0.0, description="Chance that a transition's command is a random joint move "
                              "instead of the policy's (drawn per episode), so datasets hold failures too.")

    @model_validator(mode="after")
    def _one_target(self) -> ReachPolicy:
        if (self.point is None) == (self.object is None):
            raise ValueError("point: give exactly one of 'point' or 'object'")
        return self


class PickPlacePolicy(Strict):
    """Grasp `object` with the gripper, lift it, carry it and release it at a drawn `place`: the gripper
    opens above the object, closes round its centre, and opens again once the object stands on the place."""

    type: Literal["pick_place"]
    object: Name
    place: Vec3 = Field(description="Where the object's centre should end, m (world); each axis may be a "
                        "distribution. z: the centre's height when the object stands there.")
    lift: float = Field(0.1, gt=0, description="Height the object is carried at above the higher of its start and "
                        "its place, m.")
    clearance: float = Field(0.06, gt=0, description="Height above the object's top while approaching and "
                             "after releasing, m.")
    tolerance: float = Field(0.02, gt=0, description="Label `placed__X`: the object's centre ends within this of "
                             "the place, m.")
    noise: float = Field(0.0, ge=0, description="Std of Gaussian noise on each action, in action units.")
    random_share: Num = Field(0.0, description="Chance that a transition's command is a random joint move "
                              "instead of the policy's (drawn per episode), so datasets hold failures too.")


class ReplayPolicy(Strict):
    """The actions of a Parquet file, row by row: an episode column and one column per action name of the
    robot (as a dataset of this recipe names them); episode k replays the file's k-th episode (by
    ascending id, modulo their count), whose rows are its transitions in order (or by a `step` column)."""

    type: Literal["replay"]
    file: str = Field(min_length=1, description="A Parquet file, relative to the working directory.")
    episode_column: str = Field("episode", min_length=1, description="The column naming each row's episode.")
    noise: float = Field(0.0, ge=0, description="Std of Gaussian noise on each action, in action units.")
    random_share: Num = Field(0.0, description="Chance that a transition's command is a random joint move "
                              "instead of the file's (drawn per episode).")


class TiltPolicy(Strict):
    """Hold `object`, a container welded to the hand where it starts (upright and unrotated), and tilt it
    about the lip on its `lip` side by a drawn `angle_deg`, as a pour does; what it holds may spill."""

    type: Literal["tilt"]
    object: Name
    lip: Literal["+x", "-x", "+y", "-y"] = Field("+x", description="The side of the container it tips over "
                                                 "(world frame).")
    angle_deg: Num = Field(description="How far it turns, degrees (0-180]: reached at 70 % of the episode.")
    noise: float = Field(0.0, ge=0, description="Std of Gaussian noise on each action, in action units.")
    random_share: Num = Field(0.0, description="Chance that a transition's command is a random joint move "
                              "instead of the policy's (drawn per episode).")


Policy = Annotated[PushPolicy | RandomWalkPolicy | ReachPolicy | PickPlacePolicy | ReplayPolicy | TiltPolicy,
                   Field(discriminator="type")]


class Robot(Strict):
    """An articulated robot; its joints and end-effector pose join the state, its commands are the action."""

    name: Name
    file: str | PackageFile = Field(description="An MJCF path (relative to the working directory) or "
                                                "{package, path}.")
    base: Base = Field(default_factory=Base)
    initial: dict[str, Num] = Field({}, description="Joint → position at step 0 (rad or m), a number or a "
                                    "distribution; unlisted joints start at 0.")
    actuated: list[str] = Field(min_length=1, description="Joints the action commands; each needs an "
                                "actuator in the file.")
    controller: Controller = Field(default_factory=JointPD)
    gripper: Gripper | None = None
    ee_link: str = Field(description="The link whose pose is the end-effector's.")
    ee_offset: FixedVec3 = Field([0.0, 0.0, 0.0], description="Tool point in the ee link's frame, m.")
    action_space: ActionSpace = Field("joint_position", description="joint_position: joint targets; "
                                      "joint_delta: targets minus the joints' positions; ee_delta: the tool "
                                      "point's move (m, world frame) and the hand's turn about world z (rad), "
                                      "solved by damped least squares IK from the episode's first orientation; "
                                      "joint_velocity: joint velocity targets (the joint_velocity controller's, "
                                      "and its default).")
    policy: Policy

    @property
    def action_unit(self) -> str:
        """What the robot's action columns hold, in words with their units."""
        command = {"joint_position": "joint position targets (rad, m)",
                   "joint_delta": "joint targets minus positions (rad, m)",
                   "ee_delta": "the tool point's move (m) and the hand's turn about z (rad)",
                   "joint_velocity": "joint velocity targets (rad/s, m/s)"}[self.action_space]
        return f"{self.name}: {command}" + (", then the gripper (0 open .. 1 closed)" if self.gripper else "")

    @property
    def action_names(self) -> tuple[str, ...]:
        """The robot's action columns: its command in `action_space`, then its gripper."""
        if self.action_space == "ee_delta":
            names = [f"{self.name}.ee.d{c}" for c in ("x", "y", "z", "yaw")]
        else:
            suffix = {"joint_position": "target", "joint_delta": "delta", "joint_velocity": "velocity"}[
                self.action_space]
            names = [f"{self.name}.{j}.{suffix}" for j in self.actuated]
        return (*names, *([f"{self.name}.gripper"] if self.gripper else []))

    @model_validator(mode="before")
    @classmethod
    def _velocity_actions(cls, data: object) -> object:
        """A joint_velocity controller commands joint velocities unless the recipe says otherwise (and is
        refused then)."""
        if isinstance(data, dict) and "action_space" not in data and _controller_type(data.get("controller")) == \
                "joint_velocity":
            return {**data, "action_space": "joint_velocity"}
        return data

    @model_validator(mode="after")
    def _against_file(self, info: ValidationInfo) -> Robot:
        require_range(self.policy.random_share, "policy.random_share", 0.0, 1.0, low_open=False)
        if isinstance(self.policy, PushPolicy):
            require_range(self.policy.distance, "policy.distance", 0.0, low_open=False)
        self._check_controller()
        if isinstance(self.policy, TiltPolicy):
            require_range(self.policy.angle_deg, "policy.angle_deg", 0.0, 180.0)
            if self.action_space == "ee_delta":
                raise ValueError("action_space: a tilt turns the hand about a horizontal axis, and ee_delta moves "
                                 "the tool and turns it about z only: use joint_position, joint_delta or "
                                 "joint_velocity")
        if isinstance(self.policy, PickPlacePolicy) and self.gripper is None:
            raise ValueError(f"policy.type: a '{self.policy.type}' policy grasps with the robot's gripper, and "
                             "this robot has none: give it a 'gripper' (an actuator of its file) or choose push, "
                             "reach or random_walk")
        if not (info.context or {}).get("check_files"):
            return self
        try:
            robot = describe(self.path())
        except RobotFileError as exc:
            raise ValueError(f"file: {exc}") from None
        self._check_names(robot)
        return self

    def _check_controller(self) -> None:
        """A velocity controller and velocity actions go together, with a gain for every actuated joint."""
        controller = self.controller
        velocity = isinstance(controller, JointVelocity)
        if velocity != (self.action_space == "joint_velocity"):
            raise ValueError("action_space: a joint_velocity controller takes joint velocity targets: action_space "
                             "joint_velocity (the default with it)" if velocity else
                             "action_space: joint_velocity targets need the controller {type: joint_velocity, kv: ...}")
        if isinstance(controller, JointVelocity) and isinstance(controller.kv, dict):
            missing = [j for j in self.actuated if j not in controller.kv]
            if missing:
                raise ValueError(f"controller.kv: no gain for {', '.join(missing)}; give one per actuated joint or "
                                 "one number for all")

    def _check_urdf_drive(self) -> None:
        """A URDF has no actuators: the engine makes one per actuated joint with the recipe's gains."""
        if self.gripper is not None:
            raise ValueError("gripper: a URDF has no actuators to name; use the robot's MJCF for a gripper (a URDF "
                             "robot's unactuated joints are held where they start)")
        controller = self.controller
        if isinstance(controller, JointPD):
            for gain in ("kp", "kd"):
                value = getattr(controller, gain)
                missing = self.actuated if value is None else [j for j in self.actuated
                                                                if isinstance(value, dict) and j not in value]
                if missing:
                    raise ValueError(f"controller.{gain}: a URDF has no actuators, so the controller's gains drive "
                                     f"its joints: give {gain} for {', '.join(missing)} (one number for all, or "
                                     "one per actuated joint)")

    def path(self) -> Path:
        """The robot file on this machine."""
        if isinstance(self.file, PackageFile):
            try:
                return resolve(self.file.path, self.file.package)
            except RobotFileError as exc:
                raise ValueError(f"file.package: {exc}") from None
        return resolve(self.file)

    def _check_names(self, robot: RobotDescription) -> None:
        joints = list(robot.joints)
        for key, names in (("initial", list(self.initial)), ("actuated", self.actuated)):
            for i, name in enumerate(names):
                if name not in robot.joints:
                    where = f"{key}.{name}" if key == "initial" else f"{key}.{i}"
                    raise ValueError(f"{where}: '{name}' is not a joint of the robot{did_you_mean(name, joints)}; "
                                     f"joints: {', '.join(joints)}")
        if robot.urdf:
            self._check_urdf_drive()
        driven = {joint: actuator for actuator, joint in robot.actuators.items() if joint}
        for i, name in enumerate(self.actuated):
            if name not in driven and not robot.urdf:
                raise ValueError(f"actuated.{i}: joint '{name}' has no actuator in the robot file")
        for name, (low, high) in robot.joints.items():
            lo, hi = support(self.initial.get(name, 0.0))
            if lo < low or hi > high:
                drawn = f"{lo:g}" if lo == hi else f"values in [{lo:g}, {hi:g}]"
                unset = "" if name in self.initial else " (unset: joints start at 0; give it a value)"
                raise ValueError(f"initial.{name}: can take {drawn}, outside the joint's range "
                                 f"[{low:g}, {high:g}]{unset}")
        if self.ee_link not in robot.links:
            raise ValueError(f"ee_link: '{self.ee_link}' is not a link of the robot"
                             f"{did_you_mean(self.ee_link, robot.links)}; links: {', '.join(robot.links)}")
        if self.gripper and self.gripper.actuator not in robot.actuators:
            raise ValueError(f"gripper.actuator: '{self.gripper.actuator}' is not an actuator of the robot"
                             f"{did_you_mean(self.gripper.actuator, robot.actuators)}; actuators: "
                             f"{', '.join(robot.actuators)}")
        gains = ("kv",) if isinstance(self.controller, JointVelocity) else ("kp", "kd")
        for gain in gains:
            value = getattr(self.controller, gain)
            for name in value if isinstance(value, dict) else ():
                if name not in self.actuated:
                    raise ValueError(f"controller.{gain}.{name}: not an actuated joint; actuated: "
                                     f"{', '.join(self.actuated)}")


def check_robots(recipe: Recipe, check_files: bool = False) -> None:
    """Cross-checks of the `robots:` section against the rest of the recipe (and, with `check_files`, a
    replay policy's file against the robot's actions and the recipe's episode length)."""
    if not recipe.robots:
        return
    if recipe.kind != "collision" or recipe.actions:
        raise ValueError("robots: a robot recipe is kind 'collision' with no 'actions' (the robots' policies act)")
    objects = {o.name: o for o in recipe.scene.objects}
    names = [r.name for r in recipe.robots]
    for i, robot in enumerate(recipe.robots):
        if robot.name in objects or robot.name == "ground" or names.count(robot.name) > 1:
            raise ValueError(f"robots.{i}.name: '{robot.name}' is already the name of an object, the ground "
                             "or another robot")
        if check_files and isinstance(robot.policy, ReplayPolicy):
            policy = robot.policy
            try:
                check_replay(policy.file, robot.action_names, policy.episode_column, recipe.recorded_steps)
            except ReplayFileError as exc:
                raise ValueError(f"robots.{i}.policy.file: {exc}") from None
        target = getattr(robot.policy, "object", None)
        if target is not None and (target not in objects or objects[target].fixed):
            movable = [n for n, o in objects.items() if not o.fixed]
            raise ValueError(f"robots.{i}.policy.object: '{target}' is not a movable object of the scene"
                             f"{did_you_mean(target, movable)}; movable: {', '.join(movable)}")
        if isinstance(robot.policy, TiltPolicy) and objects[robot.policy.object].euler != [0.0, 0.0, 0.0]:
            k = list(objects).index(robot.policy.object)
            raise ValueError(f"scene.objects.{k}.euler: the container a tilt holds starts upright and unrotated "
                             "(its lip is a side of its box in the world frame): leave euler at 0")


def robot_file_table(robots: list[Robot]) -> dict[str, list[dict[str, str]]]:
    """Each robot's files as the manifest lists them: its robot file and a replay policy's action file, each
    with its sha256, so a dataset says which files made it (the recipe names them only by path)."""
    table = {}
    for robot in robots:
        files = [("robot", robot.path())]
        if isinstance(robot.policy, ReplayPolicy):
            files.append(("replay", Path(robot.policy.file)))
        table[robot.name] = [{"role": role, "file": str(path), "sha256": file_sha256(path)} for role, path in files]
    return table
