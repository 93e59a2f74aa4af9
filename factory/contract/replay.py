"""The `replay` policy: each transition's action read from the user's Parquet file, not computed.

Dataset episode k replays the file episode drawn for it (`arm.policy.episode`, stored with the episode's
parameters); the engine applies the row as the action, with the policy's noise, so a replay of a
dataset's own actions retraces its episodes.
"""

from __future__ import annotations

from factory.contract.commands import Command, Observation
from factory.contract.robots import RobotInit
from factory.recipe.replay_file import read_replay
from factory.recipe.robots import ReplayPolicy, Robot


def replay(robot: Robot, policy: ReplayPolicy, init: RobotInit, obs: Observation) -> Command:
    """The file's action row for this transition."""
    rows = read_replay(policy.file, robot.action_names, policy.episode_column).actions[int(init.policy["episode"])]
    return Command(action=rows[obs.step].copy())
