"""Camera frames matched to the transitions an exporter writes.

A camera with `every` k has a frame of every k-th recorded state. A training sample of transition t
shows the frame of state t where there is one; formats that need a frame on every row (LeRobot's
videos) hold the latest frame before it.
"""

from __future__ import annotations

import numpy as np

from factory.contract.rollout import CameraBlock


def held(frames: np.ndarray, every: int, count: int) -> np.ndarray:
    """The frame shown at each of the first `count` recorded states: its own, or the latest before it."""
    return frames[np.arange(count) // every]


def frame_of_step(camera: CameraBlock, step: int) -> int | None:
    """Index of the frame of recorded state `step`, None where the camera has none."""
    return step // camera.every if step % camera.every == 0 else None
