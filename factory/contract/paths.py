"""Timed straight-line paths: where a scripted policy's target is at a share of the episode."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

Path = Sequence[tuple[float, np.ndarray]]  # (share of the episode at which a point is reached, the point)


def along(path: Path, phase: float) -> np.ndarray:
    """The point on `path` at `phase`: straight lines between its points, the last point after its end."""
    for (t0, p0), (t1, p1) in itertools.pairwise(path):
        if phase <= t1:
            return p0 + (p1 - p0) * (phase - t0) / (t1 - t0)
    return path[-1][1]
