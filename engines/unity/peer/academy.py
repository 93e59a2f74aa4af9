"""The peer's scene: K agents, each with its own `World`, answering commands as an ML-Agents scene does.

Like the C# kit it reads per-slot parameters (`"<slot>/<name>"`), observes `[slot, step, state]`,
takes per-body impulses as continuous actions and reports contacts on the label channel. Agents
report in reverse slot order, as a Unity scene may register them in any order.
"""

from __future__ import annotations

import functools
import itertools
import json
import struct
import uuid
from pathlib import Path

import numpy as np
from mlagents_envs.communicator_objects.agent_info_pb2 import AgentInfoProto
from mlagents_envs.communicator_objects.brain_parameters_pb2 import (
    ActionSpecProto,
    BrainParametersProto,
)
from mlagents_envs.communicator_objects.observation_pb2 import NONE, ObservationProto
from mlagents_envs.communicator_objects.unity_output_pb2 import UnityOutputProto
from mlagents_envs.communicator_objects.unity_rl_input_pb2 import UnityRLInputProto

from engines.unity.peer.link import join_side_channel, split_side_channel
from engines.unity.peer.world import UNITY_BOUNCE_THRESHOLD, World
from engines.unity.protocol import (
    KEY_BOUNCE_THRESHOLD,
    KEY_DT,
    KEY_GRAVITY,
    LABELS_CHANNEL_ID,
    ContactReport,
    encode_contacts,
)

ENV_PARAMS_CHANNEL = uuid.UUID("534c891e-810f-11ea-a9d0-822485860400")
ENGINE_CONFIG_CHANNEL = uuid.UUID("e951342c-4f7e-11ea-b238-784f4387d1f7")
ENGINE_CONFIG_KEYS = {0: "resolution", 1: "quality_level", 2: "time_scale", 3: "target_frame_rate",
                      4: "capture_frame_rate"}


class Academy:
    def __init__(self, behavior: str, bodies: tuple[str, ...], agents: int, record: Path | None = None):
        self.behavior = f"{behavior}?team=0"  # ML-Agents' fully qualified behavior name
        self.worlds = [World(bodies) for _ in range(agents)]
        self.order = list(reversed(range(agents)))
        self.params: dict[str, float] = {}
        self.config: dict[str, object] = {}
        self.total_steps = 0
        self._episode_ids = itertools.count()
        self._agent_ids = [0] * agents
        self._spec_sent = False
        self._outgoing: list[tuple[uuid.UUID, bytes]] = []
        self._record = record

    def receive(self, rl_input: UnityRLInputProto) -> None:
        """Apply side channel data first, as the Academy does before running the command."""
        for channel, body in split_side_channel(rl_input.side_channel):
            if channel == ENV_PARAMS_CHANNEL:
                (length,) = struct.unpack_from("<i", body, 0)
                key = body[4:4 + length].decode("ascii")
                kind, value = struct.unpack_from("<if", body, 4 + length)
                if kind == 0:  # FLOAT; samplers are not part of the factory protocol
                    self.params[key] = value
            elif channel == ENGINE_CONFIG_CHANNEL:
                (kind,) = struct.unpack_from("<i", body, 0)
                fmt = "<f" if kind == 2 else "<" + "i" * ((len(body) - 4) // 4)
                values = struct.unpack_from(fmt, body, 4)
                self.config[ENGINE_CONFIG_KEYS[kind]] = values[0] if len(values) == 1 else list(values)
                self._log({"event": "config", **self.config})

    def _param(self, slot: int, name: str, default: float) -> float:
        return self.params.get(f"{slot}/{name}", default)

    def reset(self) -> None:
        for slot, world in enumerate(self.worlds):
            world.reset(functools.partial(self._param, slot))
            self._agent_ids[slot] = next(self._episode_ids)
        self._log({"event": "reset", "params": self.params})

    def step(self, rl_input: UnityRLInputProto) -> None:
        actions = list(rl_input.agent_actions[self.behavior].value) if self.behavior in rl_input.agent_actions else []
        dt = self.params.get(KEY_DT, 0.02)
        gravity = np.array([self.params.get(k, d) for k, d in zip(KEY_GRAVITY, (0.0, 0.0, -9.81), strict=True)])
        threshold = self.params.get(KEY_BOUNCE_THRESHOLD, UNITY_BOUNCE_THRESHOLD)
        for position, slot in enumerate(self.order):
            world = self.worlds[slot]
            impulses = np.zeros((len(world.bodies), 3))
            if position < len(actions):
                impulses = np.asarray(actions[position].continuous_actions, np.float64).reshape(-1, 3)
            contacts = world.step(impulses, dt, gravity, threshold)
            if contacts:
                report = ContactReport(slot, world.step_count, tuple((a, b) for a, b, _ in contacts),
                                       np.stack([v for _, _, v in contacts]))
                self._outgoing.append((LABELS_CHANNEL_ID, encode_contacts(report)))
        self.total_steps += 1

    def output(self) -> UnityOutputProto:
        out = UnityOutputProto()
        infos = out.rl_output.agentInfos[self.behavior].value
        for slot in self.order:
            world = self.worlds[slot]
            data = np.concatenate([[slot, world.step_count], world.observation()]).astype(np.float32)
            obs = ObservationProto(shape=[len(data)], compression_type=NONE, name="FactoryObservations")
            obs.float_data.data.extend(data.tolist())
            infos.append(AgentInfoProto(reward=0.0, done=False, id=self._agent_ids[slot], observations=[obs]))
        out.rl_output.side_channel = join_side_channel(self._outgoing)
        self._outgoing = []
        if not self._spec_sent:  # like C#, a behavior's parameters go out with its first agents
            size = 3 * len(self.worlds[0].names)
            out.rl_initialization_output.brain_parameters.append(BrainParametersProto(
                brain_name=self.behavior, is_training=True,
                action_spec=ActionSpecProto(num_continuous_actions=size, num_discrete_actions=0)))
            self._spec_sent = True
        return out

    def _log(self, entry: dict) -> None:
        if self._record is not None:
            with self._record.open("a") as f:
                f.write(json.dumps(entry) + "\n")
