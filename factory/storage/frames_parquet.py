"""Camera frames of a Parquet shard: `parquet/frames/shard-*.parquet`, one row per (episode, camera,
frame), beside the shard's other tables.

Columns: `episode` (int64), `camera` (string), `step` (int32, the recorded state the frame shows),
one large_binary column per stream — the frame's raw C-order bytes, null where a camera lacks the
stream; shape and dtype are the manifest layout's `cameras` entry (`CameraBlock`) — and, for
cameras with segmentation, `visible_pixels` (list of int32, one per layout body) and `bbox` (list of
int32, x_min, y_min, x_max, y_max per body). Raw bytes under zstd keep frames lossless; a row group
holds one episode, so reading an episode reads its own frames only.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from factory.contract.rollout import CameraBlock, EpisodeRecord, Layout

LABELS = ("visible_pixels", "bbox")
STREAMS = tuple(CameraBlock.DTYPES)


def frames_table(record: EpisodeRecord, layout: Layout) -> pa.Table:
    """One episode's frames as rows of the frames table."""
    episode, camera, step = [], [], []
    labels: dict[str, list[list[int] | None]] = {k: [] for k in LABELS}
    pixels: dict[str, list[bytes | None]] = {s: [] for s in STREAMS}
    states = len(record.rollout.states)
    for cam in layout.cameras:
        frames, cam_labels = record.rollout.frames[cam.name], record.frame_labels.get(cam.name, {})
        for i, t in enumerate(cam.steps(states)):
            episode.append(record.index)
            camera.append(cam.name)
            step.append(int(t))
            for s in STREAMS:
                pixels[s].append(frames[s][i].tobytes() if s in frames else None)
            for k in LABELS:
                labels[k].append(cam_labels[k][i].ravel().tolist() if k in cam_labels else None)
    return pa.table({"episode": pa.array(episode, pa.int64()), "camera": pa.array(camera, pa.string()),
                     "step": pa.array(step, pa.int32())}
                    | {s: pa.array(v, pa.large_binary()) for s, v in pixels.items()}
                    | {k: pa.array(v, pa.list_(pa.int32())) for k, v in labels.items()})


def write_frames(path, records: list[EpisodeRecord], layout: Layout, options: dict) -> None:
    """The shard's frames table at `path`, a row group per episode."""
    tables = [frames_table(r, layout) for r in records]
    with pq.ParquetWriter(path, tables[0].schema, **options) as writer:
        for table in tables:
            writer.write_table(table, row_group_size=max(table.num_rows, 1))


def episode_frames(table: pa.Table, layout: Layout) -> dict[str, dict[str, np.ndarray]]:
    """One episode's rows of the frames table back as camera → stream (or label) → array."""
    out = {}
    n_bodies = len(layout.bodies)
    for cam in layout.cameras:
        rows = table.filter(pc.equal(table["camera"], cam.name)).sort_by("step")
        out[cam.name] = {s: _stack(rows[s].to_pylist(), cam, s) for s in cam.streams}
        if "segmentation" in cam.streams:
            shapes = {"visible_pixels": (n_bodies,), "bbox": (n_bodies, 4)}
            out[cam.name] |= {k: np.array(rows[k].to_pylist(), np.int32).reshape(-1, *shapes[k]) for k in LABELS}
    return out


def _stack(values: list[bytes], cam: CameraBlock, stream: str) -> np.ndarray:
    dtype, shape = np.dtype(CameraBlock.DTYPES[stream]), cam.shape(stream)
    return np.stack([np.frombuffer(v, dtype).reshape(shape) for v in values]) if values \
        else np.zeros((0, *shape), dtype)
