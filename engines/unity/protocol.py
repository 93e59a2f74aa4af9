"""The factory's contract with a Unity scenario, on top of ML-Agents' own protocol.

Three parties implement it and must stay in step: the adapter (Python side), the C# kit in
`engines/unity/kit` and the protocol peer `engines.unity.peer` (Unity side). Bump
`PROTOCOL_VERSION` whenever anything here changes.

- Parameters travel through ML-Agents' EnvironmentParametersChannel as float32. Per-episode values
  are keyed `"<slot>/<name>"` (`"0/box.mass"`, `"3/box.pos.x"`), where slot is the agent's index in
  the build (0..K-1); scene-wide values use the `factory.` prefix (`"factory.dt"`).
- Restitution: a body's `<obj>.restitution` and the ground's `ground.restitution` (0 when absent)
  are physic-material bounciness with the Average combine: a contact bounces with the mean of its
  two values, and only when the bodies approach faster than `factory.bounce_threshold` (m/s).
- Every vector observation starts with `OBS_HEADER` (slot, step since the episode began); the
  recipe's `observation` list names the entries after it.
- The continuous action is the impulse (N*s, world frame) applied at the start of the coming step.
- Contacts come back on the side channel `LABELS_CHANNEL_ID`, one message per agent and step.
- Everything is in the factory frame: z up, right-handed, quaternions (w, x, y, z). The kit
  converts from Unity's y-up left-handed frame; the wire never carries Unity coordinates.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PROTOCOL_VERSION = 2
LABELS_CHANNEL_ID = uuid.UUID("6f1b2c8e-4d1a-4f3e-9a57-0c2d7e5b9a41")
OBS_HEADER = ("factory.slot", "factory.step")
IGNORED = "_"  # an observation entry the factory does not read

KEY_PROTOCOL = "factory.protocol"
KEY_DT = "factory.dt"
KEY_BOUNCE_THRESHOLD = "factory.bounce_threshold"
KEY_GRAVITY = ("factory.gravity.x", "factory.gravity.y", "factory.gravity.z")
EPISODE = "factory.episode"
EPISODE_SEED = "factory.seed"

MSG_CONTACTS = 1
CONTACT_FLOATS = 10  # position xyz, normal xyz (from a to b), force on a xyz (N), penetration (m)


def bounce_threshold(dt: float, gravity: Sequence[float]) -> float:
    """Approach speed (m/s) below which a contact does not bounce: twice what gravity adds in one
    step, so resting bodies stay at rest while slow impacts keep the recipe's restitution (Unity's
    own default, 2 m/s, would make every impact under 2 m/s plastic). Floored at 1 mm/s, as Unity
    needs a positive value."""
    g = float(np.linalg.norm(gravity))
    return max(2.0 * g * dt, 1e-3)


def pair_restitution(a: float, b: float) -> float:
    """The restitution of a contact between bodies of restitution a and b (Unity's Average combine)."""
    return (a + b) / 2


def param_key(slot: int, name: str) -> str:
    return f"{slot}/{name}"


def episode_seed(seed: int, index: int) -> int:
    """A 24-bit seed for Unity-side randomness: exact in float32, fixed by (recipe seed, episode)."""
    return zlib.crc32(f"{seed}:{index}".encode()) & 0xFFFFFF


@dataclass(frozen=True)
class ContactReport:
    """Contacts of one agent's scene at one step, as the Unity side reports them."""

    slot: int
    step: int  # physics steps since the episode began: the state index the contacts belong to
    pairs: tuple[tuple[str, str], ...]  # body names; "ground" is the support surface
    values: np.ndarray  # float32 (n, CONTACT_FLOATS)


def encode_contacts(report: ContactReport) -> bytes:
    """The message body, laid out as ML-Agents' OutgoingMessage writes it (little-endian)."""
    out = bytearray(struct.pack("<iiii", MSG_CONTACTS, report.slot, report.step, len(report.pairs)))
    for (a, b), row in zip(report.pairs, np.asarray(report.values, np.float32), strict=True):
        for name in (a, b):
            raw = name.encode("ascii")
            out += struct.pack("<i", len(raw)) + raw
        out += struct.pack(f"<{CONTACT_FLOATS}f", *row)
    return bytes(out)


def decode_contacts(data: bytes) -> ContactReport:
    kind, slot, step, n = struct.unpack_from("<iiii", data, 0)
    if kind != MSG_CONTACTS:
        raise ValueError(f"unknown label message kind {kind}")
    offset, pairs, values = 16, [], np.empty((n, CONTACT_FLOATS), np.float32)
    for i in range(n):
        names = []
        for _ in range(2):
            (length,) = struct.unpack_from("<i", data, offset)
            names.append(bytes(data[offset + 4:offset + 4 + length]).decode("ascii"))
            offset += 4 + length
        pairs.append((names[0], names[1]))
        values[i] = struct.unpack_from(f"<{CONTACT_FLOATS}f", data, offset)
        offset += 4 * CONTACT_FLOATS
    if offset != len(data):
        raise ValueError(f"label message has {len(data) - offset} trailing bytes")
    return ContactReport(slot, step, tuple(pairs), values)
