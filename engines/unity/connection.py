"""One Unity process (a player build, or the Editor) on one port: launch, handshake, checks, teardown.

ML-Agents' Python side is the gRPC server: `UnityEnvironment` listens on base_port + worker_id and
launches the build with `--mlagents-port`, and the build connects back. Errors that mean "fix the
recipe or the build" are translated here into factory errors; errors that mean "the process died
or hung" (`RECOVERABLE`) pass through so the engine can restart the build.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from mlagents_envs import env_utils
from mlagents_envs.base_env import BehaviorSpec
from mlagents_envs.environment import UnityEnvironment
from mlagents_envs.exception import (
    UnityCommunicatorStoppedException,
    UnityEnvironmentException,
    UnityTimeOutException,
    UnityWorkerInUseException,
)
from mlagents_envs.side_channel.engine_configuration_channel import (
    EngineConfigurationChannel,
)
from mlagents_envs.side_channel.environment_parameters_channel import (
    EnvironmentParametersChannel,
)

from engines.unity.labels import LabelsChannel
from factory.errors import EngineUnsupported, SimulationError, did_you_mean
from factory.recipe.schema import UnityEngine as UnityConfig

RECOVERABLE = (UnityCommunicatorStoppedException, UnityTimeOutException, UnityEnvironmentException)
API_HINT = ("mlagents-envs 0.28 speaks communication API 1.5.0: use the com.unity.ml-agents 2.x package "
            "(ML-Agents Release 19 or 20) in the Unity project")


class PortInUse(SimulationError):
    """The worker's port is taken by a process outside the factory's port claims."""


def port_of(cfg: UnityConfig, worker_id: int) -> int:
    editor = cfg.file_name is None
    base = cfg.base_port or (UnityEnvironment.DEFAULT_EDITOR_PORT if editor else UnityEnvironment.BASE_ENVIRONMENT_PORT)
    return base + worker_id


def check_build_exists(file_name: str) -> None:
    if env_utils.validate_environment_path(file_name) is None:
        raise EngineUnsupported(f"engine.file_name: no Unity build at '{file_name}' (looked for the file and "
                                "its .x86_64/.x86/.exe/.app variants; relative paths start from the current "
                                "directory)")


@dataclass
class Connection:
    """A connected build whose behavior passed the recipe's checks."""

    env: UnityEnvironment
    behavior: str  # fully qualified, e.g. "FactoryScene?team=0"
    agents: int  # agents (episode slots) the build runs at once
    params: EnvironmentParametersChannel
    labels: LabelsChannel
    port: int
    closed: bool = False

    def __post_init__(self) -> None:
        # An open UnityEnvironment deadlocks interpreter exit: its gRPC servicer thread waits on a
        # pipe, and concurrent.futures joins that thread before atexit would close the env. Threading
        # exit hooks run before that join (latest first), so close the connection there.
        threading._register_atexit(self.close)  # type: ignore[attr-defined]  # private, not in typeshed

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.env.close()

    def abort(self) -> None:
        """Close a build that died or hung: kill it now instead of waiting `timeout_wait` for it to quit."""
        if not self.closed:
            self.closed = True
            self.env._close(timeout=0)  # mlagents' own path for failed launches (pinned 0.28.0)


def connect(cfg: UnityConfig, worker_id: int, seed: int, shared: dict[str, float], obs_size: int,
            action_size: int) -> Connection:
    """Launch (or wait for) the build, hand it the scene-wide values, and check its behavior."""
    params, engine_config, labels = EnvironmentParametersChannel(), EngineConfigurationChannel(), LabelsChannel()
    engine_config.set_configuration_parameters(time_scale=cfg.time_scale, target_frame_rate=-1)
    for key, value in shared.items():
        params.set_float_parameter(key, float(value))
    editor, port = cfg.file_name is None, port_of(cfg, worker_id)
    try:
        env = UnityEnvironment(file_name=cfg.file_name, worker_id=worker_id, base_port=cfg.base_port,
                               seed=seed % 2**31, no_graphics=cfg.no_graphics, timeout_wait=cfg.timeout_wait,
                               additional_args=list(cfg.args), side_channels=[params, engine_config, labels])
    except UnityWorkerInUseException:
        raise PortInUse(f"port {port} is in use (worker id {worker_id}): another build or factory "
                              "worker holds it; give each worker its own engine.worker_id or base_port") from None
    except UnityTimeOutException as exc:
        if editor:
            raise SimulationError(f"no Unity Editor connected on port {port} within {cfg.timeout_wait} s: "
                                  "open the scene and press Play after starting the run") from exc
        raise
    except UnityEnvironmentException as exc:
        if "communication API version" in str(exc):
            raise SimulationError(f"the Unity build speaks another ML-Agents protocol: {str(exc).splitlines()[0]} "
                                  f"{API_HINT}") from None
        raise
    try:
        env.reset()
        behavior = _find_behavior(env, cfg.behavior_name)
        _check_spec(env.behavior_specs[behavior], behavior, obs_size, action_size)
        agents = len(env.get_steps(behavior)[0])
        if agents == 0:
            raise EngineUnsupported(f"behavior '{behavior}' has no agent requesting a decision after a reset; "
                                    "add a DecisionRequester with Decision Period 1")
    except BaseException:
        env.close()
        raise
    return Connection(env, behavior, agents, params, labels, port)


def _find_behavior(env: UnityEnvironment, wanted: str) -> str:
    """The build's behavior called `wanted`, with or without its '?team=N' suffix."""
    names = list(env.behavior_specs)
    matches = [n for n in names if n == wanted or n.split("?")[0] == wanted]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise EngineUnsupported(f"engine.behavior_name '{wanted}' matches several behaviors {matches}; "
                                "give the full name with its '?team=N' suffix")
    short = [n.split("?")[0] for n in names]
    raise EngineUnsupported(f"engine.behavior_name: the Unity build has no behavior '{wanted}'"
                            f"{did_you_mean(wanted, short)}; it has: {', '.join(names) or 'none'}")


def _check_spec(spec: BehaviorSpec, behavior: str, obs_size: int, action_size: int) -> None:
    shapes = [tuple(o.shape) for o in spec.observation_specs]
    if shapes != [(obs_size,)]:
        raise EngineUnsupported(f"behavior '{behavior}' observes {shapes}, but the recipe expects one vector of "
                                f"{obs_size} (2 header entries + engine.observation); check Behavior "
                                "Parameters > Vector Observation > Space Size")
    act = spec.action_spec
    if act.continuous_size != action_size or act.discrete_size:
        raise EngineUnsupported(f"behavior '{behavior}' takes {act.continuous_size} continuous and "
                                f"{act.discrete_size} discrete actions, but the recipe sends {action_size} "
                                "continuous (engine.action)")
