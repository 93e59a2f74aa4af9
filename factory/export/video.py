"""Lossless MP4 video of camera frames, for LeRobot's `video` features.

H.264 in its RGB flavour (`libx264rgb`, High 4:4:4 Predictive, pixel format gbrp) at constant
quality 0 is lossless: every decoded pixel equals the stored one. One encoder thread makes the same
bytes on every run. Frame k of a file is stamped k / fps, as LeRobot's decoders look frames up.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

CODEC, PIX_FMT = "h264", "gbrp"  # what a reader sees (info.json's video.codec, video.pix_fmt)
_OPTIONS = {"crf": "0", "preset": "veryfast", "threads": "1"}


def frame_rate(fps: float) -> Fraction:
    """`fps` as the exact fraction a video stream's rate must be (1/dt of a recipe's recording)."""
    return Fraction(fps).limit_denominator(100_000)


class Mp4Writer:
    """Appends (F, H, W, 3) uint8 frames to one MP4 file; `frames` counts what is written so far."""

    def __init__(self, path: Path, width: int, height: int, fps: float):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(path), "w", format="mp4")
        self._stream = self._container.add_stream("libx264rgb", rate=frame_rate(fps))
        self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, "rgb24"
        self._stream.options = dict(_OPTIONS)
        self.frames = 0

    def add(self, frames: np.ndarray) -> None:
        for frame in frames:
            for packet in self._stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                self._container.mux(packet)
        self.frames += len(frames)

    def close(self) -> None:
        for packet in self._stream.encode():  # flush the encoder's delayed frames
            self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def read_mp4(path: Path) -> np.ndarray:
    """Every frame of an MP4 file as (F, H, W, 3) uint8 RGB."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
