"""Put the recipe's robots into the scene's model, and find their joints, actuators and links in it.

Each robot file is attached with `MjSpec.attach` under the prefix `name/`, so its links, joints and
actuators are named `arm/hand`, `arm/joint3`. The scene's own geoms keep their explicit `<pair>`s
with each other (`mjcf.scene_model`) and get `conaffinity="1"`, so the robot's geoms (contype 1 in
the Panda and most MJCF robots) collide with them through MuJoCo's own filter, with MuJoCo's
friction mixing (the larger of the two geoms'), and with each other as the file says. The root link
does not collide with the ground it stands on. A contact sensor per (robot link, ground or object)
records those contacts every step, after the object pairs' sensors, so `contacts.batch_contacts`
reads them all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import mujoco
import numpy as np

from engines.mujoco.mjcf import SENSOR_DATA, SceneModel, scene_model
from engines.mujoco.urdf import HOLD, robot_spec
from factory.contract.rollout import RobotBlock
from factory.errors import EngineUnsupported
from factory.recipe.robots import JointVelocity, Robot, TiltPolicy
from factory.recipe.schema import Recipe

LINK_SLOTS = 4  # contacts a (link, body) sensor reports per step
CARRY = "carries"  # the name of the weld holding a tilt's container to the hand: `arm/carries`
_ONE_DOF = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))


@dataclass(frozen=True)
class RobotParts:
    """Where one robot lives in the compiled model."""

    recipe: Robot
    block: RobotBlock  # its state block: every one-dof joint, in the file's order
    qadr: np.ndarray  # qpos address of each block joint
    dadr: np.ndarray  # qvel address of each block joint
    actuated: np.ndarray  # index into the block's joints of each actuated joint
    actuators: np.ndarray  # actuator id driving each actuated joint
    limits: np.ndarray  # (n_actuated, 2) joint ranges
    ee: int  # body id of the end-effector link
    gripper: int | None  # actuator id
    holds: tuple[tuple[int, int], ...] = ()  # (equality id, qpos address) of each joint held where it starts
    carry: int | None = None  # the weld holding a tilt's container to the ee link

    @property
    def action_names(self) -> list[str]:
        return list(self.recipe.action_names)


@dataclass(frozen=True)
class RobotScene:
    model: mujoco.MjModel
    contacts: SceneModel  # bodies: ground, objects, then robot links; pairs and slots of every contact sensor
    robots: tuple[RobotParts, ...]


def robot_scene(recipe: Recipe) -> RobotScene:
    """Compile the scene with its robots, contact sensors for their links, and the recipe's gains."""
    scene = scene_model(recipe)
    spec = mujoco.MjSpec.from_string(scene.xml)
    for geom in spec.geoms:
        geom.conaffinity = 1
    roots = {}
    for robot in recipe.robots:
        child = robot_spec(robot)
        if isinstance(robot.controller, JointVelocity):  # a velocity interface holds the arm against gravity
            for body in child.bodies[1:]:  # not the world
                body.gravcomp = 1.0
        spec.option.integrator = child.option.integrator  # the file's choice (Panda: implicitfast) for the whole scene
        frame = spec.worldbody.add_frame(pos=robot.base.pos, quat=_quat(robot.base.euler))
        root = child.worldbody.first_body()
        roots[robot.name] = f"{robot.name}/{root.name}"
        frame.attach_body(root, f"{robot.name}/", "")
        if scene.bodies[:1] == ("ground",):
            spec.add_exclude(bodyname1=roots[robot.name], bodyname2="world")
        if isinstance(robot.policy, TiltPolicy):
            _carry(spec, robot, robot.policy.object)
    model = spec.compile()
    links = _collidable_links(model, recipe)
    bodies = scene.bodies + tuple(links)
    pairs, slots = list(scene.pairs), list(scene.slots)
    for link in links:
        owner = link.split("/")[0]
        for other in scene.bodies:
            if other == "ground" and link == roots[owner]:
                continue
            one_geom = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, other) >= 0  # a mesh: a geom per part
            spec.add_sensor(type=mujoco.mjtSensor.mjSENS_CONTACT, objtype=mujoco.mjtObj.mjOBJ_BODY, objname=link,
                            reftype=mujoco.mjtObj.mjOBJ_GEOM if one_geom else mujoco.mjtObj.mjOBJ_BODY,
                            refname=other, intprm=[_data_bits(), 0, LINK_SLOTS])
            pairs.append((bodies.index(other), bodies.index(link)))
            slots.append(LINK_SLOTS)
    model = spec.compile()
    parts = tuple(_parts(model, robot) for robot in recipe.robots)
    for part in parts:
        _set_gains(model, part)
    return RobotScene(model, SceneModel(scene.xml, bodies, tuple(pairs), tuple(slots), scene.geom_pairs), parts)


def _carry(spec: mujoco.MjSpec, robot: Robot, obj: str) -> None:
    """Weld `obj` to the robot's ee link (at the pose each episode starts them in: `RobotEpisodes`), and
    let none of the robot's links collide with what it holds."""
    spec.add_equality(name=f"{robot.name}/{CARRY}", type=mujoco.mjtEq.mjEQ_WELD, objtype=mujoco.mjtObj.mjOBJ_BODY,
                      name1=f"{robot.name}/{robot.ee_link}", name2=obj)
    for body in spec.bodies:
        if body.name.startswith(f"{robot.name}/"):
            spec.add_exclude(bodyname1=body.name, bodyname2=obj)


@cache
def _data_bits() -> int:
    """The contact sensor's `data` bitfield for `mjcf.SENSOR_DATA`, as MuJoCo's XML parser sets it."""
    spec = mujoco.MjSpec.from_string('<mujoco><worldbody><geom name="a" size="1"/></worldbody><sensor>'
                                     f'<contact geom1="a" data="{SENSOR_DATA}"/></sensor></mujoco>')
    return int(spec.sensors[0].intprm[0])


def _quat(euler_deg: list[float]) -> list[float]:
    quat = np.zeros(4)
    mujoco.mju_euler2Quat(quat, np.radians(euler_deg), "XYZ")  # extrinsic x-y-z, as objects' euler
    return quat.tolist()


def _collidable_links(model: mujoco.MjModel, recipe: Recipe) -> list[str]:
    """The robots' links that have a geom able to collide, in model order."""
    prefixes = tuple(f"{r.name}/" for r in recipe.robots)
    collides = {int(model.geom_bodyid[g]) for g in range(model.ngeom)
                if model.geom_contype[g] or model.geom_conaffinity[g]}
    return [model.body(b).name for b in range(model.nbody)
            if model.body(b).name.startswith(prefixes) and b in collides]


def _parts(model: mujoco.MjModel, robot: Robot) -> RobotParts:
    n = robot.name
    joints = [model.joint(j).name.removeprefix(f"{n}/") for j in range(model.njnt)
              if model.joint(j).name.startswith(f"{n}/") and int(model.jnt_type[j]) in _ONE_DOF]
    ids = [model.joint(f"{n}/{j}").id for j in joints]
    driven = {int(model.actuator_trnid[a, 0]): a for a in range(model.nu)
              if int(model.actuator_trntype[a]) == int(mujoco.mjtTrn.mjTRN_JOINT)}
    missing = [j for j in robot.actuated if model.joint(f"{n}/{j}").id not in driven]
    if missing:
        raise EngineUnsupported(f"robots: {n}: joints {', '.join(missing)} have no actuator in the robot file")
    actuated_ids = [model.joint(f"{n}/{j}").id for j in robot.actuated]
    return RobotParts(
        recipe=robot,
        block=RobotBlock(n, tuple(joints)),
        qadr=np.array([model.jnt_qposadr[i] for i in ids]),
        dadr=np.array([model.jnt_dofadr[i] for i in ids]),
        actuated=np.array([joints.index(j) for j in robot.actuated]),
        actuators=np.array([driven[i] for i in actuated_ids]),
        limits=np.array([model.jnt_range[i] if model.jnt_limited[i] else (-math.inf, math.inf) for i in actuated_ids]),
        ee=model.body(f"{n}/{robot.ee_link}").id,
        gripper=model.actuator(f"{n}/{robot.gripper.actuator}").id if robot.gripper else None,
        holds=tuple((e, int(model.jnt_qposadr[model.eq_obj1id[e]])) for e in range(model.neq)
                    if model.equality(e).name.startswith(f"{n}/{HOLD}")),
        carry=model.equality(f"{n}/{CARRY}").id if isinstance(robot.policy, TiltPolicy) else None,
    )


def _set_gains(model: mujoco.MjModel, part: RobotParts) -> None:
    """The recipe's gains on the actuated joints' actuators: PD, force = kp·(ctrl − q) − kd·dq, or velocity,
    force = kv·(ctrl − dq) with ctrl unbounded (the file's control range is a position range)."""
    controller = part.recipe.controller
    if isinstance(controller, JointVelocity):
        for joint, actuator in zip(part.recipe.actuated, part.actuators, strict=True):
            kv = controller.kv[joint] if isinstance(controller.kv, dict) else controller.kv  # every joint's: checked
            model.actuator_gainprm[actuator, 0] = kv
            model.actuator_biasprm[actuator, :3] = (0.0, 0.0, -kv)
            model.actuator_ctrllimited[actuator] = 0
        return
    for joint, actuator in zip(part.recipe.actuated, part.actuators, strict=True):
        kp, kd = (g.get(joint) if isinstance(g, dict) else g for g in (controller.kp, controller.kd))
        if kp is not None:
            model.actuator_gainprm[actuator, 0], model.actuator_biasprm[actuator, 1] = kp, -kp
        if kd is not None:
            model.actuator_biasprm[actuator, 2] = -kd
