"""The protocol peer: a stand-in Unity build that speaks ML-Agents' real gRPC protocol.

Run as `python -m engines.unity.peer --mlagents-port N --bodies a,b`, or through the launcher
`engines/unity/peer_build/PhysicsPeer.x86_64`, which `UnityEnvironment` starts like a Linux player.
"""
