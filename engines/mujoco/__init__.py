"""The MuJoCo engine adapter (rigid collisions on the CPU): `engine: mujoco` in a recipe."""

from engines.mujoco.engine import MuJoCoEngine

__all__ = ["MuJoCoEngine"]
