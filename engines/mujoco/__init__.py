"""The MuJoCo engine adapter (rigid collisions on the CPU): `engine: mujoco` in a recipe."""

from engines.mujoco.gl import choose_backend

choose_backend()  # before anything imports mujoco: it reads MUJOCO_GL once

from engines.mujoco.engine import MuJoCoEngine  # noqa: E402

__all__ = ["MuJoCoEngine"]
