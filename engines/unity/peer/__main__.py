"""Command line of the protocol peer; accepts (and ignores) the Unity player flags ML-Agents passes."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import grpc
from mlagents_envs.communicator_objects.command_pb2 import QUIT, RESET, STEP
from mlagents_envs.communicator_objects.unity_output_pb2 import UnityOutputProto

from engines.unity.peer.academy import Academy
from engines.unity.peer.link import OK, UnityLink

API_VERSION = "1.5.0"  # what com.unity.ml-agents 2.x reports
PACKAGE_VERSION = "2.2.1-exp.1"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m engines.unity.peer", description=__doc__)
    p.add_argument("--mlagents-port", "--port", dest="port", type=int, default=5004)
    p.add_argument("--bodies", required=True, help="comma-separated body names, in observation order")
    p.add_argument("--behavior", default="FactoryScene", help="behavior name (without ?team=0)")
    p.add_argument("--agents", type=int, default=1, help="agents (episode slots) in the scene")
    p.add_argument("--api-version", default=API_VERSION, help="communication API version to announce")
    p.add_argument("--connect-timeout", type=float, default=30.0)
    p.add_argument("--record", type=Path, help="append received engine settings and parameters (JSON lines)")
    faults = p.add_argument_group("fault injection, for tests")
    faults.add_argument("--crash-at-step", type=int, help="exit with status 3 at this step of the process")
    faults.add_argument("--hang-at-step", type=int, help="stop answering at this step of the process")
    faults.add_argument("--fault-once", type=Path, help="inject the fault only if this file does not exist "
                        "(it is created), so a restarted peer runs cleanly")
    return p


def _inject_faults(args: argparse.Namespace, step: int) -> None:
    if step not in (args.crash_at_step, args.hang_at_step):
        return
    if args.fault_once is not None:
        if args.fault_once.exists():
            return
        args.fault_once.touch()
    if step == args.crash_at_step:
        os._exit(3)
    while True:
        time.sleep(3600)


def serve(args: argparse.Namespace) -> int:
    link = UnityLink(args.port, args.connect_timeout)
    init = UnityOutputProto()
    init.rl_initialization_output.name = "PhysicsPeer"
    init.rl_initialization_output.communication_version = args.api_version
    init.rl_initialization_output.package_version = PACKAGE_VERSION
    init.rl_initialization_output.capabilities.baseRLCapabilities = True
    init.rl_initialization_output.capabilities.hybridActions = True
    reply = link.exchange(init)
    if reply.header.status != OK:
        return 0
    academy = Academy(args.behavior, tuple(args.bodies.split(",")), args.agents, args.record)
    message = link.exchange(None)
    while message.header.status == OK:
        rl_input = message.unity_input.rl_input
        academy.receive(rl_input)
        if rl_input.command == QUIT:
            break
        if rl_input.command == RESET:
            academy.reset()
        elif rl_input.command == STEP:
            academy.step(rl_input)
            _inject_faults(args, academy.total_steps)
        message = link.exchange(academy.output())
    link.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args, _unity_flags = _parser().parse_known_args(argv)
    try:
        return serve(args)
    except grpc.RpcError as exc:  # the trainer went away without a quit: a Unity player quits too
        print(f"peer: connection to the trainer lost ({exc.code().name})", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
