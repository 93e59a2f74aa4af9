"""Labels of robot episodes: how well the arm tracked its commands and what it did to the objects.

Pure functions of the recorded states, actions and contacts (and, for a push's goal, the episode's
drawn parameters), added to the collision labels every rigid episode gets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from factory.contract.rollout import Contacts, EpisodeRecord, Layout
from factory.labels.collision import LabelContext
from factory.labels.grasp import pick_place_labels
from factory.labels.tilt import tilt_labels
from factory.names import (
    DISPLACEMENT,
    DISPLACEMENT_HEADING_DEG,
    FIRST_ROBOT_CONTACT,
    GOAL_MISS,
    MAX_TRACKING_ERROR,
    MEAN_TRACKING_ERROR,
    PUSHED_TO_TARGET,
    REACH_ERROR,
    REACH_STEP,
    REACHED,
    SEP,
    TRACKING_ERROR,
    body_label,
    pair_label,
)
from factory.recipe.robots import PickPlacePolicy, PushPolicy, ReachPolicy, Robot, TiltPolicy
from factory.recipe.schema import RigidObject


@dataclass(frozen=True)
class RobotLabelContext:
    """The collision labels' context plus the robots' action spaces and push goals."""

    base: LabelContext
    robots: tuple[Robot, ...]
    objects: dict[str, RigidObject] = field(default_factory=dict)  # the scene's, by name: a tilt's container


def tracking_error(layout: Layout, robot: Robot, states: np.ndarray, actions: np.ndarray,
                   action_start: int) -> np.ndarray:
    """(T,) per transition: how far the arm ended from what its action asked. Joint spaces: the largest
    |q(t+1) − target(t)| over the actuated joints (rad or m); `joint_velocity`: the largest |dq(t+1) −
    target(t)| (rad/s or m/s); `ee_delta`: |tool(t+1) − tool(t) − Δ| (m, the position part of the action)."""
    start, _ = layout.robot_span(robot.name)
    block = next(b for b in layout.robots if b.name == robot.name)
    n = len(block.joints)
    if robot.action_space == "ee_delta":
        tool = states[:, start + 2 * n:start + 2 * n + 3]
        return np.linalg.norm(tool[1:] - tool[:-1] - actions[:, action_start:action_start + 3], axis=-1)
    cols = [start + block.joints.index(j) for j in robot.actuated]
    asked = actions[:, action_start:action_start + len(cols)]
    if robot.action_space == "joint_velocity":
        return np.abs(states[1:, [c + n for c in cols]] - asked).max(axis=-1)
    q = states[:, cols]
    target = asked if robot.action_space == "joint_position" else q[:-1] + asked
    return np.abs(q[1:] - target).max(axis=-1)


def first_robot_contact(layout: Layout, contacts: Contacts, robot: str, obj: str) -> int:
    """The first recorded step at which any link of `robot` touches `obj`; -1 if none does."""
    links = [i for i, b in enumerate(layout.bodies) if b.startswith(f"{robot}/")]
    other = layout.bodies.index(obj)
    a, b = contacts.body_a, contacts.body_b
    hit = (np.isin(a, links) & (b == other)) | (np.isin(b, links) & (a == other))
    return int(contacts.step[hit].min()) if hit.any() else -1


def displacement(layout: Layout, states: np.ndarray, obj: str) -> tuple[float, float]:
    """(distance in m, heading in the horizontal plane in degrees from +x) from first to last state."""
    pos = layout.field(states, obj, "pos")
    move = pos[-1].astype(float) - pos[0]
    return float(np.linalg.norm(move)), math.degrees(math.atan2(move[1], move[0]))


def push_goal(params: dict[str, float], robot: str, obj: str) -> np.ndarray:
    """Where `robot`'s push means to leave `obj`'s centre in the horizontal plane (from the episode's draws)."""
    heading = math.radians(params[f"{robot}.policy.heading_deg"])
    start = np.array([params[f"{obj}.pos.x"], params[f"{obj}.pos.y"]])
    return start + params[f"{robot}.policy.distance"] * np.array([math.cos(heading), math.sin(heading)])


def reach_error(layout: Layout, robot: Robot, policy: ReachPolicy, states: np.ndarray,
                params: dict[str, float]) -> np.ndarray:
    """(T+1,) distance from the tool point to the reach's target at each state, m."""
    start, _ = layout.robot_span(robot.name)
    n = len(next(b for b in layout.robots if b.name == robot.name).joints)
    tool = states[:, start + 2 * n:start + 2 * n + 3]
    if policy.object is not None:
        target = layout.field(states, policy.object, "pos") + np.asarray(policy.offset)
    else:
        target = np.array([params[f"{robot.name}.policy.point.{axis}"] for axis in "xyz"])
    return np.linalg.norm(tool - target, axis=-1)


def robot_labels(record: EpisodeRecord, ctx: RobotLabelContext) -> EpisodeRecord:
    """The record with its robots' labels added and the pair labels of link pairs (robot self-contacts
    are not recorded) left out."""
    layout, rollout = ctx.base.layout, record.rollout
    steps, episode = dict(record.step_labels), {k: v for k, v in record.episode_labels.items() if not _link_pair(k)}
    action_start = 0
    for robot in ctx.robots:
        error = tracking_error(layout, robot, rollout.states, rollout.actions, action_start)
        steps[body_label(TRACKING_ERROR, robot.name)] = error.astype(np.float32)
        episode[body_label(MAX_TRACKING_ERROR, robot.name)] = float(error.max())
        episode[body_label(MEAN_TRACKING_ERROR, robot.name)] = float(error.mean())
        action_start += len(robot.action_names)
        for obj in layout.objects:
            if obj in ctx.base.fixed:
                continue
            episode[pair_label(FIRST_ROBOT_CONTACT, robot.name, obj)] = first_robot_contact(
                layout, rollout.contacts, robot.name, obj)
        if isinstance(robot.policy, PushPolicy):
            obj = robot.policy.object
            distance, heading = displacement(layout, rollout.states, obj)
            episode[body_label(DISPLACEMENT, obj)] = distance
            episode[body_label(DISPLACEMENT_HEADING_DEG, obj)] = heading
            final = layout.field(rollout.states, obj, "pos")[-1, :2]
            miss = float(np.linalg.norm(final - push_goal(record.params, robot.name, obj)))
            episode[body_label(GOAL_MISS, obj)] = miss
            episode[body_label(PUSHED_TO_TARGET, obj)] = miss <= robot.policy.tolerance
        if isinstance(robot.policy, ReachPolicy):
            error = reach_error(layout, robot, robot.policy, rollout.states, record.params)
            within = np.flatnonzero(error <= robot.policy.tolerance)
            episode[body_label(REACH_ERROR, robot.name)] = float(error[-1])
            episode[body_label(REACHED, robot.name)] = bool(error[-1] <= robot.policy.tolerance)
            episode[body_label(REACH_STEP, robot.name)] = int(within[0]) if len(within) else -1
        if isinstance(robot.policy, TiltPolicy):
            container = ctx.objects[robot.policy.object]
            others = [o for o in layout.objects if o != container.name and o not in ctx.base.fixed]
            episode.update(tilt_labels(layout, rollout.states, container, robot.policy.lip, others))
        if isinstance(robot.policy, PickPlacePolicy):
            place = np.array([record.params[f"{robot.name}.policy.place.{axis}"] for axis in "xyz"])
            episode.update(pick_place_labels(layout, rollout.states, rollout.contacts, robot.name,
                                             robot.policy.object, place, robot.policy.tolerance))
    return EpisodeRecord(rollout, record.params, steps, episode)




def _link_pair(label: str) -> bool:
    """A pair label between two robot links, like `touched__arm/hand__arm/link7`."""
    parts = label.split(SEP)
    return len(parts) == 3 and "/" in parts[1] and "/" in parts[2]
