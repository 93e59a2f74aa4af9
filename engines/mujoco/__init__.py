"""The MuJoCo engine adapter (rigid collisions on the CPU): `engine: mujoco` in a recipe.

`MUJOCO_GL` is already chosen: the `engines` package does it before any engine (Genesis imports
MuJoCo too) can import mujoco.
"""

from engines.mujoco.engine import MuJoCoEngine

__all__ = ["MuJoCoEngine"]
