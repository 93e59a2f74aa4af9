"""What every storage format provides, and the atomic-write rule they all follow.

A shard file appears under its final name only when complete: it is written under a hidden
temporary name in the same folder and renamed, so a crash never leaves a file that a reader
(or a glob like `*.parquet`) could take as data.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pyarrow as pa

from factory.errors import StorageError
from factory.rollout import Contacts, EpisodeRecord, Layout

if TYPE_CHECKING:
    from factory.storage.location import Location

FORMATS: dict[str, str] = {
    "parquet": "factory.storage.parquet:ParquetFormat",
    "hdf5": "factory.storage.hdf5:HDF5Format",
}


class ShardWriter(Protocol):
    FORMAT: str

    def write_shard(self, root: Path, shard: int, records: list[EpisodeRecord], layout: Layout) -> list[Path]:
        """Write one shard of episodes; return the files written, relative to `root`."""


class ShardReader(Protocol):
    """Reads every shard of one format back as the same three Arrow tables, from a `factory.storage.location`."""

    def transitions(self, root: Location, files: list[str]) -> pa.Table: ...
    def episodes(self, root: Location, files: list[str]) -> pa.Table: ...
    def contacts(self, root: Location, files: list[str]) -> pa.Table: ...


def _load(fmt: str):
    try:
        module, attr = FORMATS[fmt].split(":")
    except KeyError:
        raise StorageError(f"unknown format '{fmt}'; known: {', '.join(FORMATS)}") from None
    return getattr(importlib.import_module(module), attr)()


def writer_for(fmt: str) -> ShardWriter:
    return _load(fmt)


def reader_for(fmt: str) -> ShardReader:
    return _load(fmt)


def shard_name(shard: int) -> str:
    return f"shard-{shard:05d}"


def is_shard_file(rel: str) -> bool:
    """Whether a dataset-relative path is one a format writes (`FORMAT/.../shard-NNNNN.ext`)."""
    parts = rel.split("/")
    return len(parts) > 1 and parts[0] in FORMATS and re.fullmatch(r"shard-\d{5}\.\w+", parts[-1]) is not None


def param_column(name: str) -> str:
    """Episode parameter `box.pos.x` → column `param__box__pos__x` (no quoting needed in SQL)."""
    return "param__" + name.replace(".", "__")


def fixed_list(values: np.ndarray, width: int) -> pa.FixedSizeListArray:
    """(n, width) float32 array → Arrow fixed-size list column, zero copy."""
    flat = pa.array(np.ascontiguousarray(values, dtype=np.float32).reshape(-1))
    # 'element' is the child name Parquet's compliant nested types use, so tables compare equal
    # whether they were built here or read back from a file
    return pa.FixedSizeListArray.from_arrays(flat, type=pa.list_(pa.field("element", pa.float32()), width))


def transitions_table(records: list[EpisodeRecord], layout: Layout) -> pa.Table:
    """Episodes' transitions as one Arrow table: the shape every reader returns."""
    lengths = np.array([r.rollout.transitions for r in records])
    steps = np.concatenate([np.arange(t, dtype=np.int32) for t in lengths])
    cols = {
        "episode": pa.array(np.repeat([r.index for r in records], lengths).astype(np.int64)),
        "step": pa.array(steps),
        "t": pa.array((steps * layout.record_dt).astype(np.float32)),
        "state": fixed_list(np.concatenate([r.rollout.states[:-1] for r in records]), layout.state_size),
        "action": fixed_list(np.concatenate([r.rollout.actions for r in records]), layout.action_size),
        "next_state": fixed_list(np.concatenate([r.rollout.states[1:] for r in records]), layout.state_size),
        "is_first": pa.array(steps == 0),
        "is_last": pa.array(steps == np.repeat(lengths - 1, lengths)),
        "is_terminal": pa.array(np.zeros(len(steps), bool)),
    }
    for name in layout.points:
        cols[name] = point_list(np.concatenate([r.rollout.points[name][:-1] for r in records]))
        cols[f"next_{name}"] = point_list(np.concatenate([r.rollout.points[name][1:] for r in records]))
    for name in records[0].step_labels:
        cols[name] = pa.array(np.concatenate([r.step_labels[name] for r in records]))
    return pa.table(cols)


def point_list(values: np.ndarray) -> pa.FixedSizeListArray:
    """(rows, N, 3) float32 → a column of N fixed-size xyz lists per row (Polars: Array(Array(f32, 3), N))."""
    rows, n, _ = values.shape
    xyz = fixed_list(values.reshape(rows * n, 3), 3)
    return pa.FixedSizeListArray.from_arrays(xyz, type=pa.list_(pa.field("element", xyz.type), n))


def episodes_table(records: list[EpisodeRecord], shard: int) -> pa.Table:
    """One row per episode: parameters, labels, and where its transitions start in the shard."""
    rows, offset = [], 0
    for r in records:
        row: dict[str, object] = {"episode": r.index, "shard": shard, "transitions": r.rollout.transitions}
        row.update({param_column(k): v for k, v in r.params.items()})
        row.update(r.episode_labels)
        if r.rollout.point_index is not None:
            row["point_index"] = r.rollout.point_index.astype(np.int32).tolist()
        row["transitions_offset"] = offset
        offset += r.rollout.transitions
        rows.append(row)
    return pa.Table.from_pylist(rows)


def contacts_table(records: list[EpisodeRecord], layout: Layout) -> pa.Table:
    c = Contacts.concat([r.rollout.contacts for r in records])
    episode = np.repeat([r.index for r in records], [len(r.rollout.contacts) for r in records])
    bodies = pa.array(list(layout.bodies))
    return pa.table({
        "episode": pa.array(episode.astype(np.int64)),
        "step": pa.array(c.step.astype(np.int32)),
        "body_a": pa.DictionaryArray.from_arrays(pa.array(c.body_a.astype(np.int32)), bodies),
        "body_b": pa.DictionaryArray.from_arrays(pa.array(c.body_b.astype(np.int32)), bodies),
        "position": fixed_list(c.position, 3),
        "normal": fixed_list(c.normal, 3),
        "force_on_a": fixed_list(c.force_on_a, 3),
        "force": pa.array(c.force.astype(np.float32)),
        "penetration": pa.array(c.penetration.astype(np.float32)),
    })
