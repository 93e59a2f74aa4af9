"""Scripted robot policies: pure functions of (observation, episode draws, step) → a command.

Policies read the simulator's true state (object positions, joint positions, the tool point), not
sensors: the data shows what a competent script does, not what perception allows. A command is a
tool-point target or joint targets; the engine turns it into the recipe's action space (with its own
inverse kinematics where needed) and adds the action noise, so a policy knows no engine. With no
memory between steps, an episode replays exactly from its recorded states.
"""

from __future__ import annotations

import math

import numpy as np

from factory.contract.commands import Command, Observation
from factory.contract.extents import half_height, reach_along
from factory.contract.paths import along
from factory.contract.pick_place import pick_place
from factory.contract.replay import replay
from factory.contract.robots import RobotInit
from factory.contract.tilt import tilt
from factory.recipe.robots import (
    PickPlacePolicy,
    PushPolicy,
    RandomWalkPolicy,
    ReachPolicy,
    ReplayPolicy,
    Robot,
    TiltPolicy,
)
from factory.recipe.schema import RigidObject

APPROACH, DESCEND, PUSH = 0.3, 0.45, 0.9  # fractions of the episode at which a push's phases end
STEER = 4.0  # lateral gain of a push (see `push`)
REACH = 0.6  # share of the episode at which a reach arrives
RANDOM_MOVE = 0.1  # rad (m for slide joints): the largest move of each joint in a random command


def act(robot: Robot, init: RobotInit, obs: Observation, objects: dict[str, RigidObject],
        start: dict[str, tuple[float, float, float]]) -> Command:
    """The robot's command at `obs.step`; `start` holds each object's drawn position at step 0."""
    policy = robot.policy
    if isinstance(policy, PushPolicy):
        return push(policy, init, obs, objects[policy.object], np.array(start[policy.object]))
    if isinstance(policy, ReachPolicy):
        return reach(policy, init, obs)
    if isinstance(policy, PickPlacePolicy):
        return pick_place(policy, init, obs, objects[policy.object], np.array(start[policy.object]))
    if isinstance(policy, ReplayPolicy):
        return replay(robot, policy, init, obs)
    if isinstance(policy, TiltPolicy):
        return tilt(policy, init, obs, objects[policy.object], np.array(start[policy.object]))
    return random_walk(robot, policy, init, obs)


def random_command(obs: Observation, rng: np.random.Generator) -> Command:
    """A random move of every actuated joint from where it is: the share of an episode's commands that
    are not the policy's (`random_share`)."""
    return Command(joints=obs.q + rng.uniform(-RANDOM_MOVE, RANDOM_MOVE, len(obs.q)))


def push_goal(init: RobotInit, start: np.ndarray) -> np.ndarray:
    """Where a push means to leave the object's centre: `distance` along `heading_deg` from its start."""
    return start + init.policy["distance"] * _heading(init)


def push(policy: PushPolicy, init: RobotInit, obs: Observation, obj: RigidObject, start: np.ndarray) -> Command:
    """From where the tool started to above the side opposite the heading, down to the object's
    centre height, then along the heading until the object's centre would be `distance` from its
    start (the standoff closed, then `distance`), then hold: a path timed by the episode's share
    elapsed. While pushing, the tool moves `STEER` times the object's drift off the line to the other
    side of it, at most half the object's half-width: pushing the object's far half turns it back
    toward the line (a gain tuned on Panda pushes of a 5 cm cube). The hand turns about z to face the
    heading, modulo half a turn (closed fingers push alike either way round); pushed with an oblique
    face, the cube slid along it."""
    u = _heading(init)
    before = start - u * (reach_along(obj, u) + policy.standoff)
    above = before + np.array([0.0, 0.0, half_height(obj) + policy.clearance])
    phase = (obs.step + 1) / obs.steps
    facing = (init.policy["heading_deg"] + 90.0) % 180.0 - 90.0  # closed fingers push alike either way round
    yaw = math.radians(facing) * min(phase / APPROACH, 1.0)  # the hand turns to face the heading
    if phase <= DESCEND:
        return Command(tool=along([(0.0, obs.tool_start), (APPROACH, above), (DESCEND, before)], phase), yaw=yaw)
    pushed = min((phase - DESCEND) / (PUSH - DESCEND), 1.0) * (policy.standoff + init.policy["distance"])
    side = np.array([-u[1], u[0], 0.0])
    drift = float(np.dot(obs.objects[policy.object] - start, side))
    limit = reach_along(obj, side) / 2  # within the object's face
    offset = np.clip(-drift * STEER, -limit, limit)
    return Command(tool=before + u * pushed + side * offset, yaw=yaw)


def reach_target(policy: ReachPolicy, init: RobotInit, objects: dict[str, np.ndarray]) -> np.ndarray:
    """The point a reach aims at: its drawn point, or the object's centre (where it is now) plus `offset`."""
    if policy.object is not None:
        return objects[policy.object] + np.asarray(policy.offset)
    return np.array([init.policy[f"point.{axis}"] for axis in "xyz"])


def reach(policy: ReachPolicy, init: RobotInit, obs: Observation) -> Command:
    """A straight line from where the tool started to the target, arriving at `REACH` of the episode."""
    target = reach_target(policy, init, obs.objects)
    share = min((obs.step + 1) / obs.steps / REACH, 1.0)
    return Command(tool=obs.tool_start + (target - obs.tool_start) * share)


def random_walk(robot: Robot, policy: RandomWalkPolicy, init: RobotInit, obs: Observation) -> Command:
    """Joint targets on straight lines from the initial configuration through the drawn waypoints, each
    reached at an equal share of the episode."""
    points = [np.array([init.initial.get(j, 0.0) for j in robot.actuated])]
    points += [np.array([init.policy[f"waypoint{k}.{j}"] for j in robot.actuated]) for k in range(policy.waypoints)]
    at = (obs.step + 1) / obs.steps * policy.waypoints
    k = min(int(at), policy.waypoints - 1)
    return Command(joints=points[k] + (points[k + 1] - points[k]) * min(at - k, 1.0))


def _heading(init: RobotInit) -> np.ndarray:
    angle = math.radians(init.policy["heading_deg"])
    return np.array([math.cos(angle), math.sin(angle), 0.0])
