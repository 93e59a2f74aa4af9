"""What every exporter reads: a dataset streamed one shard at a time, with its features named.

An exporter never holds more than one source shard: `Source.blocks()` reads a shard's transitions
and episodes through the storage reader and yields them as a `Block`, in episode order. The
`Source` also says what the columns are (state, action, point fields, per-step labels, episode
parameters and labels) and what the dataset came from (`provenance`), so each exporter maps
them onto its own format's features and metadata.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa

from factory.names import EPISODE_COLUMNS, episode_row, fixed_transition_columns
from factory.storage import reader_for
from factory.storage.dataset import Dataset
from factory.storage.manifest import MANIFEST


@dataclass(frozen=True)
class EpisodeSlice:
    """One episode of a block: its row in the episodes table and its transition rows [start, stop)."""

    index: int
    row: dict[str, Any]
    start: int
    stop: int

    @property
    def params(self) -> dict[str, float]:
        return episode_row(self.row)[0]

    @property
    def labels(self) -> dict[str, Any]:
        return episode_row(self.row)[1]


@dataclass(frozen=True)
class Block:
    """One source shard: transitions sorted by (episode, step), the shard's episode rows and its files."""

    transitions: pa.Table
    episodes: pa.Table
    files: tuple[str, ...] = ()

    def __len__(self) -> int:
        return self.transitions.num_rows

    def matrix(self, column: str) -> np.ndarray:
        """A fixed-size-list column as a (rows, width) float32 array."""
        arr = self.transitions[column].combine_chunks()
        return arr.flatten().to_numpy(zero_copy_only=False).reshape(-1, arr.type.list_size)

    def points(self, column: str) -> np.ndarray:
        """A point column as a (rows, N, 3) float32 array."""
        arr = self.transitions[column].combine_chunks()
        return arr.flatten().flatten().to_numpy(zero_copy_only=False).reshape(-1, arr.type.list_size, 3)

    def column(self, name: str) -> np.ndarray:
        return self.transitions[name].to_numpy()

    def slices(self) -> list[EpisodeSlice]:
        episode = self.column("episode")
        starts = np.flatnonzero(np.r_[True, episode[1:] != episode[:-1]])
        stops = np.r_[starts[1:], len(episode)]
        rows = {r["episode"]: r for r in self.episodes.to_pylist()}
        return [EpisodeSlice(int(episode[a]), rows[int(episode[a])], int(a), int(b))
                for a, b in zip(starts, stops, strict=True)]


def shard_files(ds: Dataset) -> list[list[str]]:
    """Each shard's files in the dataset's chosen format, in episode order: what one shard's read takes."""
    prefix = f"{ds.format}/"
    return [[f["path"] for f in s["files"] if f["path"].startswith(prefix)]
            for s in sorted(ds.manifest["shards"], key=lambda s: s["episodes"][0])]


class Source:
    """A finished dataset, read shard by shard for export."""

    def __init__(self, ds: Dataset):
        self.ds = ds
        self.layout = ds.layout
        self.manifest = ds.manifest
        self._reader = reader_for(ds.format)

    @property
    def name(self) -> str:
        return self.manifest["recipe"]["name"]

    @property
    def transitions(self) -> int:
        return int(self.manifest["counts"]["transitions"])

    @property
    def episodes(self) -> int:
        return int(self.manifest["counts"]["episodes"])

    def blocks(self) -> Iterator[Block]:
        for files in shard_files(self.ds):
            if not files:
                continue
            t = self._reader.transitions(self.ds.location, files).sort_by([("episode", "ascending"),
                                                                             ("step", "ascending")])
            e = self._reader.episodes(self.ds.location, files).sort_by([("episode", "ascending")])
            if t.num_rows:
                yield Block(t, e, tuple(files))

    def frames(self, block: Block, episode: int) -> dict[str, dict[str, np.ndarray]]:
        """Episode `episode`'s camera frames and frame labels (camera → stream or label → array), read
        from its block's shard alone: one episode's frames in memory at a time."""
        return self._reader.frames(self.ds.location, block.files[0], self.layout, episode)

    @cached_property
    def _schemas(self) -> tuple[pa.Schema, pa.Schema]:
        """The transitions and episodes schemas (of the first shard: every shard has the same)."""
        first = next(self.blocks())
        return first.transitions.schema, first.episodes.schema

    @property
    def step_labels(self) -> dict[str, pa.DataType]:
        """Per-step label columns and their Arrow types."""
        schema = self._schemas[0]
        skip = fixed_transition_columns(self.layout.points)
        return {f.name: f.type for f in schema if f.name not in skip}

    @property
    def episode_columns(self) -> dict[str, pa.DataType]:
        """Episode parameter columns (`factory.names.param_column`) and labels, with their Arrow types."""
        return {f.name: f.type for f in self._schemas[1] if f.name not in EPISODE_COLUMNS}

    @cached_property
    def provenance(self) -> dict[str, Any]:
        """Where the data came from, for each format's metadata: the source manifest's sha256 and recipe."""
        m = self.manifest
        return {
            "source": str(self.ds.location),
            "source_format": self.ds.format,
            "manifest_sha256": hashlib.sha256(self.ds.location.read_bytes(MANIFEST)).hexdigest(),
            "recipe_hash": m.get("recipe_hash"),
            "recipe": m["recipe"],
            "seed": m.get("seed"),
            "engine": m.get("engine"),
            "factory_version": m.get("factory_version"),
            "created": m.get("created"),
            "merged_from": [{k: v for k, v in s.items() if k != "merge"} for s in m["merge"]["sources"]]
            if "merge" in m else None,
            "features": m["features"],
        }



def plain(value: object) -> object:
    """json.dumps' `default` for numpy scalars (labels and parameters read from Arrow)."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
