"""A robot's per-episode draws: its initial joint positions and its policy's parameters.

Drawn through the episode's per-parameter generators like every other field (names such as
`arm.initial.joint2`, `arm.policy.heading_deg`), so they are stored with the episode's parameters
and an episode's robot does the same thing in any batch. Action noise and the choice of random
actions have their own generators, `arm.policy.noise` and `arm.policy.random`, consumed step by step
by the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from factory.recipe.distributions import Uniform, nominal
from factory.recipe.replay_file import read_replay
from factory.recipe.robot_file import describe
from factory.recipe.robots import (
    PickPlacePolicy,
    PushPolicy,
    RandomWalkPolicy,
    ReachPolicy,
    ReplayPolicy,
    Robot,
    TiltPolicy,
)

Draw = Callable[[str, object], float]


@dataclass(frozen=True)
class RobotInit:
    """One robot's drawn values for one episode."""

    name: str
    initial: dict[str, float]  # joint → position at step 0, for the joints the recipe lists
    policy: dict[str, float]  # the policy's drawn parameters by their name within the policy


def sample_robot(robot: Robot, draw: Draw, index: int = 0) -> RobotInit:
    """The robot's draws for episode `index` (a replay's file episode depends on the index alone)."""
    n = robot.name
    initial = {joint: draw(f"{n}.initial.{joint}", value) for joint, value in robot.initial.items()}
    policy = robot.policy
    if isinstance(policy, PushPolicy):
        drawn = {"heading_deg": draw(f"{n}.policy.heading_deg", policy.heading_deg),
                 "distance": draw(f"{n}.policy.distance", policy.distance)}
    elif isinstance(policy, ReachPolicy):
        points = zip("xyz", policy.point or (), strict=False)
        drawn = {f"point.{axis}": draw(f"{n}.policy.point.{axis}", value) for axis, value in points}
    elif isinstance(policy, PickPlacePolicy):
        drawn = {f"place.{axis}": draw(f"{n}.policy.place.{axis}", value)
                 for axis, value in zip("xyz", policy.place, strict=True)}
    elif isinstance(policy, ReplayPolicy):
        episodes = read_replay(policy.file, robot.action_names, policy.episode_column).episodes
        drawn = {"episode": draw(f"{n}.policy.episode", episodes[index % len(episodes)])}
    elif isinstance(policy, TiltPolicy):
        drawn = {"angle_deg": draw(f"{n}.policy.angle_deg", policy.angle_deg)}
    elif isinstance(policy, RandomWalkPolicy):
        limits = describe(robot.path()).joints
        drawn = {f"waypoint{k}.{joint}": draw(f"{n}.policy.waypoint{k}.{joint}", _around(
                     nominal(robot.initial.get(joint, 0.0)), policy.spread, limits[joint], policy.margin))
                 for k in range(policy.waypoints) for joint in robot.actuated}
    drawn["random_share"] = draw(f"{n}.policy.random_share", policy.random_share)
    return RobotInit(n, initial, drawn)


def _around(centre: float, spread: float, limits: tuple[float, float], margin: float) -> Uniform:
    """Uniform within `spread` of `centre`, kept `margin` inside the joint's range where the range allows."""
    low, high = max(centre - spread, limits[0] + margin), min(centre + spread, limits[1] - margin)
    if low >= high:  # a range narrower than twice the margin: its middle
        low = high = (limits[0] + limits[1]) / 2
    return Uniform(type="uniform", low=low, high=high)
