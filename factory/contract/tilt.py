"""The `tilt` policy: turn a container held in the hand about its lip, as a pour does.

The container is welded to the ee link where the episode starts it (the engine does that); the policy
moves the tool point and the hand's orientation as one rigid body turning about the horizontal axis
through the container's lip, so the lip stays where it was while the opening tips over it. Its angle
grows linearly from `START` to `END` of the episode up to the drawn `angle_deg`, then holds.
"""

from __future__ import annotations

import math

import numpy as np

from factory.contract.commands import Command, Observation
from factory.contract.extents import lip_point
from factory.contract.robots import RobotInit
from factory.recipe.containers import LIP_AXES
from factory.recipe.robots import TiltPolicy
from factory.recipe.schema import RigidObject

START, END = 0.2, 0.7  # shares of the episode at which the tilt begins and reaches its angle


def tilt_angle(init: RobotInit, phase: float) -> float:
    """The tilt (rad) at `phase`, the share of the episode elapsed."""
    share = min(max((phase - START) / (END - START), 0.0), 1.0)
    return math.radians(init.policy["angle_deg"]) * share


def tilt(policy: TiltPolicy, init: RobotInit, obs: Observation, obj: RigidObject, start: np.ndarray) -> Command:
    """The tool point and hand turned by the tilt about the lip of the container as it started (upright,
    unrotated, at `start`)."""
    angle = tilt_angle(init, (obs.step + 1) / obs.steps)
    axis = np.array(LIP_AXES[policy.lip])
    pivot = start + lip_point(obj, policy.lip)
    half = angle / 2
    turn = np.array([math.cos(half), *(math.sin(half) * axis)])
    return Command(tool=pivot + _rotate(axis, angle, obs.tool_start - pivot), turn=turn)


def _rotate(axis: np.ndarray, angle: float, v: np.ndarray) -> np.ndarray:
    """`v` turned by `angle` about the unit `axis` (Rodrigues)."""
    c, s = math.cos(angle), math.sin(angle)
    return v * c + np.cross(axis, v) * s + axis * np.dot(axis, v) * (1 - c)
