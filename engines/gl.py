"""Which OpenGL backend MuJoCo renders offscreen with: EGL beside an NVIDIA GPU, OSMesa (CPU) otherwise.

MuJoCo reads `MUJOCO_GL` once, when it is first imported, by the MuJoCo adapter or by another engine
(Genesis parses MJCF with it), so the `engines` package makes the choice before any engine loads; a
user's own `MUJOCO_GL` wins.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_backend() -> str:
    """egl where an NVIDIA driver is loaded (hardware rendering), else osmesa (software, any machine)."""
    return "egl" if Path("/dev/nvidiactl").exists() else "osmesa"


def choose_backend() -> None:
    """Set `MUJOCO_GL` for this process unless the user did."""
    os.environ.setdefault("MUJOCO_GL", default_backend())


def loaded_backend() -> str:
    """The backend MuJoCo actually loaded (it may have been imported before `choose_backend`)."""
    import mujoco

    context = getattr(mujoco, "GLContext", None)
    return context.__module__.split(".")[-1] if context is not None else "none"
