"""The `pick_place` policy: grasp an object with the gripper, lift it, carry it to a drawn place, release it.

Like every scripted policy it is a pure function of the true state, the episode's draws and the step:
a path timed by the share of the episode elapsed, whose first legs follow the object where it is now
(so a random move that nudged it is corrected before the grasp) and whose carry starts from where the
object was drawn.
"""

from __future__ import annotations

import numpy as np

from factory.contract.commands import Command, Observation
from factory.contract.extents import half_height, reach_radius
from factory.contract.paths import along
from factory.contract.robots import RobotInit
from factory.recipe.robots import PickPlacePolicy
from factory.recipe.schema import RigidObject

# shares of the episode at which each leg ends: above the object, down round it, fingers closed, lifted,
# carried above the place, steadied there, lowered onto it, set down, fingers opened, tool back up
ABOVE, DOWN, CLOSED, LIFTED, CARRIED, HOVERED, LOWERED, SET, RELEASED, RETREATED = (
    0.2, 0.3, 0.4, 0.5, 0.66, 0.7, 0.77, 0.82, 0.87, 0.95)
OPEN, CLOSE = 0.0, 1.0


def place_point(init: RobotInit) -> np.ndarray:
    """Where the episode's pick_place means to leave the object's centre (its drawn `place`)."""
    return np.array([init.policy[f"place.{axis}"] for axis in "xyz"])


def pick_place(policy: PickPlacePolicy, init: RobotInit, obs: Observation, obj: RigidObject,
               start: np.ndarray) -> Command:
    """The tool point goes `clearance` above the object's top with the fingers open, down to its centre,
    closes the fingers, lifts it `lift` above the higher of its start and its place, carries it above the
    place, lets the arm catch up there, lowers it until its centre is at the place, waits for
    the arm to set it down there, opens the fingers and rises clear; from the lowering on, never lower
    than an object it does not hold as grasped allows (`lowest_safe`)."""
    phase = (obs.step + 1) / obs.steps
    place = place_point(init)
    up = np.array([0.0, 0.0, half_height(obj) + policy.clearance])
    if phase <= CLOSED:
        now = obs.objects[policy.object]
        tool = along([(0.0, obs.tool_start), (ABOVE, now + up), (DOWN, now), (CLOSED, now)], phase)
        return Command(tool=tool, gripper=OPEN if phase <= DOWN else CLOSE)
    carry = max(start[2], place[2]) + policy.lift
    above = np.array([*place[:2], carry])
    path = [(CLOSED, start), (LIFTED, np.array([*start[:2], carry])), (CARRIED, above), (HOVERED, above),
            (LOWERED, place), (RELEASED, place), (RETREATED, place + up)]
    tool = along(path, phase)
    if phase > HOVERED:
        tool = np.array([*tool[:2], max(tool[2], lowest_safe(policy, obs, obj, place))])
    return Command(tool=tool, gripper=CLOSE if phase <= SET else OPEN)


def lowest_safe(policy: PickPlacePolicy, obs: Observation, obj: RigidObject, place: np.ndarray) -> float:
    """How low the tool may go while setting the object down: no limit while the object hangs in the
    fingers as grasped (its centre within half its half-height of the tool point); otherwise the arm,
    lowering to the place, would press it into the table: a dropped object lying under the fingers, or
    one turned in the grip hanging below them. Then the tool stops where the object's centre, moving with
    the tool, is its reach radius above the table (no corner touches, whatever its turn), and never lower
    than `clearance` above a dropped object's top."""
    centre, half = obs.objects[policy.object], half_height(obj)
    if np.all(np.abs(obs.tool - centre) < half / 2):
        return -np.inf
    hang = obs.tool[2] + place[2] - half + reach_radius(obj) - centre[2]
    return min(hang, centre[2] + half + policy.clearance)
