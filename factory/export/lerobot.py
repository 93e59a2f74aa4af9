"""LeRobot v3.0 (what `LeRobotDataset(repo_id, root=DIR)` reads), with camera videos.

    meta/info.json                             codebase_version v3.0, fps, features, totals, paths
    meta/stats.json                            per feature: min, max, mean, std, count, q01…q99
    meta/tasks.parquet                         one task: the recipe's description
    meta/episodes/chunk-000/file-KKK.parquet   per episode: length, data file, frame range, stats/…,
                                               and our parameters (`params.…`) and labels (`labels.…`)
    data/chunk-000/file-KKK.parquet            one frame per transition, one file per source shard
    videos/observation.images.<camera>/chunk-000/file-KKK.mp4
                                               a camera's rgb frames, one file per source shard, the
                                               episodes one after another (`videos/<key>/from_timestamp`)

Frame features: `observation.state`, `action`, `next.observation.state`, point fields as 2-D
`observation.<name>` / `next.observation.<name>` (N, 3), `next.done` (last transition),
`is_terminal`, per-step labels as `labels.<name>`, and LeRobot's own `timestamp`, `frame_index`,
`episode_index`, `index`, `task_index`, and per camera with an rgb stream the `video` feature
`observation.images.<camera>`: the frame of each transition's state, lossless (`factory.export.video`),
a camera recording every k-th state holding its frame k transitions. Episode stats and the aggregate follow LeRobot's
`compute_stats`/`aggregate_stats` (quantiles are count-weighted means of per-episode quantiles, as
LeRobot aggregates them, accumulated episode by episode; per-episode quantiles are exact, where
LeRobot estimates them from a histogram). The provenance is `info.json` → `physics_data_factory`.
"""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from factory.contract.rollout import CameraBlock
from factory.export import Progress
from factory.export.frames import held
from factory.export.source import Block, EpisodeSlice, Source
from factory.export.video import CODEC, PIX_FMT, Mp4Writer
from factory.names import next_column

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000  # files per chunk folder, LeRobot's default
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}


def frame_features(source: Source) -> dict[str, dict[str, Any]]:
    """info.json `features`: what each frame column holds (dtype, shape, names)."""
    layout = source.layout
    feats: dict[str, dict[str, Any]] = {
        "observation.state": {"dtype": "float32", "shape": [layout.state_size], "names": layout.state_names},
        "action": {"dtype": "float32", "shape": [layout.action_size], "names": layout.action_names},
        "next.observation.state": {"dtype": "float32", "shape": [layout.state_size], "names": layout.state_names},
    }
    for name in layout.points:
        for key in (f"observation.{name}", f"next.observation.{name}"):
            feats[key] = {"dtype": "float32", "shape": [layout.n_points, 3], "names": ["point", "xyz"]}
    for camera in video_cameras(source):
        feats[video_key(camera)] = {
            "dtype": "video", "shape": [camera.height, camera.width, 3], "names": ["height", "width", "channels"],
            "info": {"video.height": camera.height, "video.width": camera.width, "video.codec": CODEC,
                     "video.pix_fmt": PIX_FMT, "video.is_depth_map": False, "video.fps": fps(source),
                     "video.channels": 3, "has_audio": False}}
    feats["next.done"] = {"dtype": "bool", "shape": [1], "names": None}
    feats["is_terminal"] = {"dtype": "bool", "shape": [1], "names": None}
    for name, t in source.step_labels.items():
        feats[f"labels.{name}"] = {"dtype": np.dtype(t.to_pandas_dtype()).name, "shape": [1], "names": None}
    for name, dtype in (("timestamp", "float32"), ("frame_index", "int64"), ("episode_index", "int64"),
                        ("index", "int64"), ("task_index", "int64")):
        feats[name] = {"dtype": dtype, "shape": [1], "names": None}
    return feats


def fps(source: Source) -> float:
    """Recorded states per second: LeRobot's frame rate (an int where it is one)."""
    rate = 1.0 / source.layout.record_dt
    return round(rate) if abs(rate - round(rate)) < 1e-6 else rate


def video_cameras(source: Source) -> list[CameraBlock]:
    """The cameras whose rgb frames become videos (depth and segmentation have no lossless video form)."""
    return [c for c in source.layout.cameras if "rgb" in c.streams]


def video_key(camera: CameraBlock) -> str:
    return f"observation.images.{camera.name}"


class BlockVideos:
    """One source shard's videos, a file per camera: each episode's frames appended, with its
    episode-table entries (file, time range) and LeRobot's image stats."""

    def __init__(self, source: Source, out: Path, chunk: int, file: int):
        self.source, self.chunk, self.file, self.fps = source, chunk, file, fps(source)
        self.writers = {c.name: Mp4Writer(out / VIDEO_PATH.format(video_key=video_key(c), chunk_index=chunk,
                                                                  file_index=file), c.width, c.height, self.fps)
                        for c in video_cameras(source)}

    def add(self, block: Block, ep: EpisodeSlice) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
        """Append episode `ep`'s frames; return its episode-table entries and stats per video key."""
        if not self.writers:
            return {}, {}
        frames = self.source.frames(block, ep.index)
        row: dict[str, Any] = {}
        stats = {}
        for camera in video_cameras(self.source):
            key, writer = video_key(camera), self.writers[camera.name]
            rgb = held(frames[camera.name]["rgb"], camera.every, ep.stop - ep.start)
            row |= {f"videos/{key}/chunk_index": self.chunk, f"videos/{key}/file_index": self.file,
                    f"videos/{key}/from_timestamp": writer.frames / self.fps}
            writer.add(rgb)
            row[f"videos/{key}/to_timestamp"] = writer.frames / self.fps
            stats[key] = image_stats(rgb)
        return row, stats

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def image_stats(frames: np.ndarray) -> dict[str, np.ndarray]:
    """LeRobot's stats of a video feature: per channel over every pixel of the episode, in [0, 1],
    shaped (3, 1, 1); `count` is the number of frames."""
    (stats,) = episode_stats(frames.reshape(-1, 3) / 255.0, [frames[..., 0].size])
    return {k: np.array([len(frames)]) if k == "count" else v.reshape(3, 1, 1) for k, v in stats.items()}


def _frames(block: Block, source: Source, first_index: int, episode_index: np.ndarray) -> pa.Table:
    """The block's transitions as LeRobot frames (columns in `frame_features` order); LeRobot looks
    episodes up by position, so `episode_index` numbers them 0, 1, … (the source's index is kept in
    the episodes table as `source_episode`)."""
    t, n = block.transitions, len(block)
    cols: dict[str, pa.Array] = {
        "observation.state": t["state"], "action": t["action"], "next.observation.state": t["next_state"]}
    for name in source.layout.points:  # LeRobot's Array2D storage: lists of lists
        two_d = pa.list_(pa.list_(pa.float32()))
        cols[f"observation.{name}"] = t[name].cast(two_d)
        cols[f"next.observation.{name}"] = t[next_column(name)].cast(two_d)
    cols["next.done"], cols["is_terminal"] = t["is_last"], t["is_terminal"]
    cols.update({f"labels.{name}": t[name] for name in source.step_labels})
    cols["timestamp"] = t["t"]
    cols["frame_index"] = t["step"].cast(pa.int64())
    cols["episode_index"] = pa.array(episode_index)
    cols["index"] = pa.array(np.arange(first_index, first_index + n, dtype=np.int64))
    cols["task_index"] = pa.array(np.zeros(n, np.int64))
    return pa.table(cols)


def episode_stats(values: np.ndarray, lengths: list[int]) -> list[dict[str, np.ndarray]]:
    """LeRobot's per-episode stats of one feature, over frames (and points) per last axis, for a
    block's rows (`values`, episode after episode, `lengths` rows each); episodes of one length,
    as a recipe makes them, are reduced together in one call per statistic."""
    width = values.shape[-1] if values.ndim > 1 else 1
    if len(set(lengths)) == 1:
        groups = [(values.reshape(len(lengths), -1, width), lengths[0])]
    else:
        starts = np.cumsum([0, *lengths[:-1]])
        groups = [(values[a:a + n].reshape(1, -1, width), n) for a, n in zip(starts, lengths, strict=True)]
    out = []
    for x, frames in groups:
        x = x.astype(np.float64)
        q = np.quantile(x, list(QUANTILES.values()), axis=1)  # (quantile, episode, width)
        cols = {"min": x.min(1), "max": x.max(1), "mean": x.mean(1), "std": x.std(1)}
        for e in range(len(x)):
            stats = {k: v[e] for k, v in cols.items()} | {"count": np.array([frames])}
            out.append(stats | {k: q[i, e] for i, k in enumerate(QUANTILES)})
    return out


class Aggregate:
    """LeRobot's `aggregate_feature_stats` over episodes added one at a time, in constant memory:
    pooled mean and variance, min of mins, max of maxes, count-weighted quantiles."""

    def __init__(self) -> None:
        self.count = 0
        self.sums: dict[str, np.ndarray] = {}  # count-weighted sums of mean, mean² + std², quantiles

    def add(self, stats: dict[str, np.ndarray]) -> None:
        c = int(stats["count"][0])
        parts = {"mean": stats["mean"], "square": stats["std"] ** 2 + stats["mean"] ** 2,
                 **{k: stats[k] for k in QUANTILES}}
        for k, v in parts.items():
            self.sums[k] = self.sums.get(k, 0) + c * v
        self.sums["min"] = np.minimum(self.sums.get("min", stats["min"]), stats["min"])
        self.sums["max"] = np.maximum(self.sums.get("max", stats["max"]), stats["max"])
        self.count += c

    def result(self) -> dict[str, np.ndarray]:
        mean = self.sums["mean"] / self.count
        var = np.maximum(self.sums["square"] / self.count - mean ** 2, 0)
        return {"min": self.sums["min"], "max": self.sums["max"], "mean": mean, "std": np.sqrt(var),
                "count": np.array([self.count]), **{k: self.sums[k] / self.count for k in QUANTILES}}


class LeRobotExporter:
    FORMAT = "lerobot"

    def write(self, source: Source, out: Path, scratch: Path, progress: Progress) -> list[str]:
        feats = frame_features(source)
        stat_keys = [k for k, f in feats.items() if f["dtype"] not in ("bool", "video")]
        task = source.manifest["recipe"].get("description") or source.name
        summaries = {k: Aggregate() for k in [*stat_keys, *map(video_key, video_cameras(source))]}
        frames = episodes = 0
        for file_index, block in enumerate(source.blocks()):
            chunk, file = divmod(file_index, CHUNKS_SIZE)
            slices = block.slices()
            ids = np.repeat(np.arange(episodes, episodes + len(slices)), [e.stop - e.start for e in slices])
            table = _frames(block, source, frames, ids)
            _write(out / DATA_PATH.format(chunk_index=chunk, file_index=file), table)
            lengths = [e.stop - e.start for e in slices]
            stats = {key: episode_stats(_numpy(table[key]), lengths) for key in stat_keys}
            rows = []
            with closing(BlockVideos(source, out, chunk, file)) as videos:
                for i, (new_index, ep) in enumerate(zip(range(episodes, episodes + len(slices)), slices, strict=True)):
                    row: dict[str, Any] = {
                        "episode_index": new_index, "source_episode": ep.index, "tasks": [task],
                        "length": ep.stop - ep.start,
                        "data/chunk_index": chunk, "data/file_index": file,
                        "dataset_from_index": frames + ep.start, "dataset_to_index": frames + ep.stop}
                    video_row, video_stats = videos.add(block, ep)
                    row |= video_row
                    for key, ep_stats in ({k: stats[k][i] for k in stat_keys} | video_stats).items():
                        summaries[key].add(ep_stats)
                        row.update({f"stats/{key}/{name}": v.tolist() for name, v in ep_stats.items()})
                    row["meta/episodes/chunk_index"], row["meta/episodes/file_index"] = chunk, file
                    row.update({f"params.{k}": v for k, v in ep.params.items()})
                    row.update({f"labels.{k}": v for k, v in ep.labels.items()})
                    rows.append(row)
            _write(out / EPISODES_PATH.format(chunk_index=chunk, file_index=file), pa.Table.from_pylist(rows))
            frames += len(block)
            episodes += len(rows)
            progress(len(block))
        (out / "meta").mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"task_index": [0]}, index=pd.Index([task])).to_parquet(out / "meta" / "tasks.parquet")
        totals = {k: {name: v.tolist() for name, v in summary.result().items()} for k, summary in summaries.items()}
        (out / "meta" / "stats.json").write_text(json.dumps(totals, indent=1))
        info = {
            "codebase_version": CODEBASE_VERSION, "robot_type": None,
            "total_episodes": episodes, "total_frames": frames, "total_tasks": 1,
            "chunks_size": CHUNKS_SIZE, "data_files_size_in_mb": 100, "video_files_size_in_mb": 200,
            "fps": fps(source), "splits": {"train": f"0:{episodes}"}, "data_path": DATA_PATH,
            "video_path": VIDEO_PATH if video_cameras(source) else None,
            "features": feats,
            "physics_data_factory": source.provenance,
        }
        (out / "meta" / "info.json").write_text(json.dumps(info, indent=1, default=str))
        return ["meta/info.json"]


def _write(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="snappy")


def _numpy(column: pa.ChunkedArray) -> np.ndarray:
    """A frame column as an array of shape (frames, *feature shape)."""
    arr = column.combine_chunks()
    if pa.types.is_list(arr.type) and pa.types.is_list(arr.type.value_type):  # 2-D points
        flat = arr.flatten()
        return flat.flatten().to_numpy(zero_copy_only=False).reshape(len(arr), -1, 3)
    if pa.types.is_fixed_size_list(arr.type):
        return arr.flatten().to_numpy(zero_copy_only=False).reshape(len(arr), arr.type.list_size)
    return arr.to_numpy(zero_copy_only=False)

