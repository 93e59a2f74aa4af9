"""Per-frame labels from a segmentation's ground truth, as Kubric gives them: how many pixels of each
body are seen, and the box around them.

Segmentation values are a body's index in `Layout.bodies` plus 1 (0: no body), so the labels'
last axis is that body order.
"""

from __future__ import annotations

import numpy as np

NO_BOX = -1  # every coordinate of the box of a body not seen in a frame


def visible_pixels(segmentation: np.ndarray, n_bodies: int) -> np.ndarray:
    """(F, H, W) segmentation → (F, n_bodies) int32: each body's pixel count per frame."""
    frames = segmentation.reshape(len(segmentation), -1).astype(np.int64)
    counts = np.stack([np.bincount(f, minlength=n_bodies + 1)[1:n_bodies + 1] for f in frames]) if len(frames) \
        else np.zeros((0, n_bodies), np.int64)
    return counts.astype(np.int32)


def bounding_boxes(segmentation: np.ndarray, n_bodies: int) -> np.ndarray:
    """(F, H, W) segmentation → (F, n_bodies, 4) int32 boxes (x_min, y_min, x_max, y_max), inclusive
    pixel indices (x along a row, y down the image); NO_BOX where a body is not seen."""
    boxes = np.full((len(segmentation), n_bodies, 4), NO_BOX, np.int32)
    for f, frame in enumerate(segmentation):
        for body in range(n_bodies):
            ys, xs = np.nonzero(frame == body + 1)
            if len(xs):
                boxes[f, body] = xs.min(), ys.min(), xs.max(), ys.max()
    return boxes


def frame_labels(frames: dict[str, dict[str, np.ndarray]], n_bodies: int) -> dict[str, dict[str, np.ndarray]]:
    """Each camera with a segmentation stream → {"visible_pixels", "bbox"} per frame."""
    return {camera: {"visible_pixels": visible_pixels(streams["segmentation"], n_bodies),
                     "bbox": bounding_boxes(streams["segmentation"], n_bodies)}
            for camera, streams in frames.items() if "segmentation" in streams}
