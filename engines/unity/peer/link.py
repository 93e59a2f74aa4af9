"""The Unity side of ML-Agents' wire protocol, as com.unity.ml-agents' RpcCommunicator speaks it.

Unity is the gRPC client of `UnityToExternalProto.Exchange`. Handshake: Unity sends its
initialization output and receives Python's initialization input; it then sends an empty message,
whose reply is the first real input (the reset). From then on each reply carries the next input
and each request the output for the previous one. A reply whose header status is not 200 means
"quit". Side channel data travels as (channel uuid bytes_le, int32 length, payload) records.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator

import grpc
from mlagents_envs.communicator_objects.unity_message_pb2 import UnityMessageProto
from mlagents_envs.communicator_objects.unity_output_pb2 import UnityOutputProto
from mlagents_envs.communicator_objects.unity_to_external_pb2_grpc import (
    UnityToExternalProtoStub,
)

OK = 200


class UnityLink:
    def __init__(self, port: int, connect_timeout: float):
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(self._channel).result(timeout=connect_timeout)
        self._stub = UnityToExternalProtoStub(self._channel)

    def exchange(self, output: UnityOutputProto | None) -> UnityMessageProto:
        """Send an output, block until the trainer replies with the next message."""
        message = UnityMessageProto()
        message.header.status = OK
        if output is not None:
            message.unity_output.CopyFrom(output)
        return self._stub.Exchange(message, wait_for_ready=True)

    def close(self) -> None:
        self._channel.close()


def split_side_channel(data: bytes) -> Iterator[tuple[uuid.UUID, bytes]]:
    offset = 0
    while offset < len(data):
        channel = uuid.UUID(bytes_le=bytes(data[offset:offset + 16]))
        (length,) = struct.unpack_from("<i", data, offset + 16)
        yield channel, bytes(data[offset + 20:offset + 20 + length])
        offset += 20 + length


def join_side_channel(messages: list[tuple[uuid.UUID, bytes]]) -> bytes:
    return b"".join(channel.bytes_le + struct.pack("<i", len(body)) + body for channel, body in messages)
