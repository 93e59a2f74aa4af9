"""Put the recipe's robots into a Genesis scene and find their joints, links and actuators in it.

Genesis loads the MJCF itself (`gs.morphs.MJCF`) with the file's actuators as joint position
controllers: force = gain·ctrl + bias₁·q + bias₂·dq within the force range, damping integrated
implicitly — MuJoCo's `general` actuator, so a control value means on Genesis what it means on
MuJoCo. The recipe's gains replace the file's the way the MuJoCo adapter replaces them (gain kp,
bias₁ −kp, bias₂ −kd). A gripper driven through a fixed tendon (the Panda's `split`) Genesis
approximates by giving each of the tendon's joints the whole actuator; here each joint gets its
coefficient's share instead, which is MuJoCo's force on it while the joints move together (the
file's equality holds them so). The layout (links that collide, joints, action names) comes from
the file's MJCF spec, read before anything is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from engines.genesis.kinematics import Chain, Joint, Link, quat_to_mat
from factory.contract.rollout import RobotBlock
from factory.contract.sampling import euler_to_quat
from factory.errors import EngineUnsupported
from factory.recipe.robot_file import describe
from factory.recipe.robots import JointVelocity, Robot, TiltPolicy
from factory.recipe.schema import Recipe


@dataclass(frozen=True)
class RobotFile:
    """What the layout and the gripper need from a robot file, read from its MJCF spec."""

    collidable: tuple[str, ...]  # bodies with a geom that collides, in file order
    integrator: str  # the file's <option integrator>, lower case
    actuator_joints: dict[str, tuple[tuple[str, float], ...]]  # actuator → (joint, coefficient) it drives


@lru_cache(maxsize=8)
def read_file(path: Path) -> RobotFile:
    import mujoco  # Genesis reads MJCF files with it too

    spec = mujoco.MjSpec.from_file(str(path))
    collidable = tuple(b.name for b in spec.bodies if b.name != "world"
                       and any(g.contype or g.conaffinity for g in b.geoms))
    tendons = {t.name: tuple((w.target.name, float(w.coef)) for w in t.path
                             if w.type == mujoco.mjtWrap.mjWRAP_JOINT) for t in spec.tendons}
    drives: dict[str, tuple[tuple[str, float], ...]] = {}
    for a in spec.actuators:
        if a.trntype == mujoco.mjtTrn.mjTRN_JOINT:
            drives[a.name] = ((a.target, 1.0),)
        elif a.trntype == mujoco.mjtTrn.mjTRN_TENDON:
            drives[a.name] = tendons.get(a.target, ())
    integrator = mujoco.mjtIntegrator(spec.option.integrator).name.removeprefix("mjINT_").lower()
    return RobotFile(collidable, integrator, drives)


def robot_problems(recipe: Recipe) -> list[str]:
    """What of the recipe's robots the Genesis adapter cannot run yet, each naming its field."""
    problems = []
    for i, robot in enumerate(recipe.robots):
        if robot.path().suffix.lower() == ".urdf":
            problems.append(f"robots.{i}.file: a URDF robot has no actuators of its own; the MuJoCo adapter adds "
                            "them, the Genesis adapter loads MJCF robots only for now")
        if robot.action_space == "joint_velocity" or isinstance(robot.controller, JointVelocity):
            problems.append(f"robots.{i}.controller: the Genesis adapter drives joint positions only for now "
                            "(a joint_velocity controller runs on MuJoCo)")
        if isinstance(robot.policy, TiltPolicy) and recipe.kind != "fluid":
            problems.append(f"robots.{i}.policy: Genesis carries a tilt's container only over a liquid (kind "
                            "fluid: a cup placed at the hand every step, touching the liquid alone); a rigid tilt "
                            "runs on MuJoCo, which welds it")
    return problems


def robot_links(recipe: Recipe) -> tuple[str, ...]:
    """Every robot's colliding links as contact bodies, `arm/hand`, robot by robot."""
    return tuple(f"{r.name}/{link}" for r in recipe.robots for link in read_file(r.path()).collidable)


def robot_blocks(recipe: Recipe) -> tuple[RobotBlock, ...]:
    return tuple(RobotBlock(r.name, tuple(describe(r.path()).joints)) for r in recipe.robots)


def robot_integrator(gs, recipe: Recipe):
    """The first robot file's integrator, as the MuJoCo adapter runs the whole scene with it: Euler, or
    implicitfast for the implicit ones (Genesis has no RK4 or full implicit)."""
    name = read_file(recipe.robots[0].path()).integrator
    return gs.integrator.Euler if name == "euler" else gs.integrator.implicitfast


def add_robot(gs, scene, robot: Robot):
    """The robot's entity, its root welded at the recipe's base pose."""
    x, y, z = robot.base.euler
    quat = euler_to_quat((x, y, z))  # extrinsic x-y-z degrees, as the MuJoCo adapter reads it
    return scene.add_entity(gs.morphs.MJCF(file=str(robot.path()), pos=tuple(robot.base.pos), quat=quat),
                            name=robot.name)


@dataclass(frozen=True)
class RobotParts:
    """Where one robot lives in the built scene."""

    recipe: Robot
    entity: Any  # the Genesis entity (the library has no type information)
    block: RobotBlock
    dofs: np.ndarray  # solver dof index of each block joint
    gripper: np.ndarray  # solver dof indices the gripper's actuator drives (empty without a gripper)
    ee: int  # solver link index of the ee link
    chain: Chain

    @property
    def actuated(self) -> np.ndarray:
        """Index into the block's joints of each actuated joint."""
        return self.chain.actuated

    @property
    def limits(self) -> np.ndarray:
        """(n_actuated, 2) the actuated joints' ranges."""
        return self.chain.limits


def robot_parts(robot: Robot, entity, block: RobotBlock) -> RobotParts:
    """Find the robot's joints and links in its built entity and set the recipe's gains."""
    joints = {j.name: j for j in entity.joints}
    missing = [name for name in block.joints if name not in joints]
    if missing:
        raise EngineUnsupported(f"robots: {robot.name}: Genesis merged or dropped joints {', '.join(missing)} "
                                "of the robot file")
    dofs = np.array([joints[name].dof_start for name in block.joints])
    links = {link.name: link for link in entity.links}
    facts = read_file(robot.path())
    lost = [name for name in facts.collidable if name not in links]
    if lost:
        raise EngineUnsupported(f"robots: {robot.name}: Genesis merged links {', '.join(lost)} of the robot file")
    limits = np.array([joints[name].desc.dofs_limit[0] for name in robot.actuated], np.float64)
    gripper = facts.actuator_joints.get(robot.gripper.actuator, ()) if robot.gripper else ()
    parts = RobotParts(robot, entity, block, dofs, np.array([joints[name].dof_start for name, _ in gripper], int),
                       links[robot.ee_link].idx, _chain(entity, robot, block, limits))
    _set_gains(parts, [coef for _, coef in gripper])
    return parts


def _chain(entity, robot: Robot, block: RobotBlock, limits: np.ndarray) -> Chain:
    """The kinematic chain from the root to the ee link, from Genesis' description of the entity: each
    link's pose in its parent, the welded root's as the built scene holds it (the base pose applied)."""
    by_idx = {link.idx: link for link in entity.links}
    path = [next(link for link in entity.links if link.name == robot.ee_link)]
    while path[-1].parent_idx >= 0:
        path.append(by_idx[path[-1].parent_idx])
    path.reverse()
    solver = entity.solver
    root_pos = solver.get_links_pos()[0, path[0].idx].cpu().numpy()
    root_quat = solver.get_links_quat()[0, path[0].idx].cpu().numpy()
    links = []
    for k, link in enumerate(path):
        joints = tuple(Joint(block.joints.index(j.name), *_axis(j), j.type.name == "REVOLUTE")
                       for j in link.joints if j.name in block.joints)
        pos, quat = (root_pos, root_quat) if k == 0 else (link.desc.pos, link.desc.quat)
        links.append(Link(k - 1, np.asarray(pos, np.float64), quat_to_mat(np.asarray(quat, np.float64)), joints))
    actuated = np.array([block.joints.index(name) for name in robot.actuated])
    return Chain(tuple(links), np.asarray(robot.ee_offset, np.float64), actuated, limits)


def _axis(joint) -> tuple[np.ndarray, np.ndarray]:
    """(axis, anchor) of a one-dof joint in its link's frame."""
    desc = joint.desc
    motion = desc.dofs_motion_ang[0] if joint.type.name == "REVOLUTE" else desc.dofs_motion_vel[0]
    return np.asarray(motion, np.float64), np.asarray(desc.pos, np.float64)


def _set_gains(parts: RobotParts, coefs: list[float]) -> None:
    """The recipe's PD gains on the actuated joints; the gripper tendon's share on each of its joints."""
    entity, robot = parts.entity, parts.recipe
    local = parts.dofs - entity.dof_start
    for gain, setter in (("kp", entity.set_dofs_kp), ("kd", entity.set_dofs_kv)):
        value = getattr(robot.controller, gain)
        pairs = [(i, value.get(j) if isinstance(value, dict) else value)
                 for i, j in zip(local[parts.actuated], robot.actuated, strict=True)]
        pairs = [(i, v) for i, v in pairs if v is not None]
        if pairs:
            setter(np.array([v for _, v in pairs]), [i for i, _ in pairs])
    if len(coefs) > 1:  # a tendon: Genesis gave every joint the whole actuator
        dofs = list(parts.gripper - entity.dof_start)
        share, total = np.array(coefs), sum(coefs)
        gain = entity.get_dofs_act_gain(dofs)[0].cpu().numpy()
        bias = [b[0].cpu().numpy() for b in entity.get_dofs_act_bias(dofs)]
        low, high = (r[0].cpu().numpy() for r in entity.get_dofs_force_range(dofs))
        entity.set_dofs_act_gain(gain * share, dofs)
        entity.set_dofs_act_bias(*(b * share * total for b in bias), dofs)
        entity.set_dofs_force_range(low * share, high * share, dofs)
