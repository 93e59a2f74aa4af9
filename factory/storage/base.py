"""What every storage format provides, and the atomic-write rule they all follow.

A shard file appears under its final name only when complete: it is written under a hidden
temporary name in the same folder and renamed, so a crash never leaves a file that a reader
(or a glob like `*.parquet`) could take as data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pyarrow as pa

from factory.contract.rollout import Contacts, EpisodeRecord, Layout
from factory.errors import StorageError
from factory.names import next_column, param_column
from factory.registry import FORMATS, load_entry

if TYPE_CHECKING:
    from factory.storage.location import Location


@dataclass(frozen=True)
class Piece:
    """The smallest unit of transitions one worker reads on its own (a Parquet row group, an HDF5
    episode group): whole episodes only, named by the file (relative to the dataset) that holds it."""

    file: str
    key: int | str  # the format's own handle: row-group number, group name
    episodes: tuple[int, ...]  # the episodes it holds, in storage order


class ShardWriter(Protocol):
    FORMAT: str

    def write_shard(self, root: Path, shard: int, records: list[EpisodeRecord], layout: Layout,
                    checked: bool = False) -> list[Path]:
        """Check `records` (`check_records`, unless the caller has: `checked`), write one shard of them;
        return the files written, relative to `root`."""


class ShardReader(Protocol):
    """Reads every shard of one format back, from a `factory.storage.location`, as the same Arrow
    tables (`transitions_table`, `episodes_table`, `contacts_table`), whole or streamed."""

    FORMAT: str

    def transitions(self, root: Location, files: list[str]) -> pa.Table: ...
    def episodes(self, root: Location, files: list[str]) -> pa.Table: ...
    def contacts(self, root: Location, files: list[str]) -> pa.Table: ...

    def pieces(self, root: Location, files: list[str]) -> list[Piece]:
        """Every piece of transitions, in storage order (shard, then episode)."""

    def read_piece(self, root: Location, piece: Piece, columns: Sequence[str] | None = None,
                   batch_rows: int = 8192) -> Iterator[pa.Table]:
        """A piece's transitions (only `columns`, all by default) as tables of at most `batch_rows`
        rows, in the schema of `transitions()`, in episode then step order. At least the rows of
        `piece.episodes`: a caller may narrow those to skip what a format stores apart, and filters
        rows itself (`Dataset.read_piece` does both)."""

    def column(self, root: Location, files: list[str], table: str, name: str) -> pa.ChunkedArray:
        """One column of one of the three tables, read shard by shard, in storage order."""

    def frames(self, root: Location, file: str, layout: Layout, episode: int) -> dict[str, dict[str, np.ndarray]]:
        """Episode `episode`'s camera frames and frame labels (camera → stream or label → array),
        read from its shard, of which `file` is a file."""

    def records(self, root: Location, files: list[str], layout: Layout,
                episodes: Iterable[int] | None = None) -> Iterator[EpisodeRecord]:
        """Whole episodes (all, or those in `episodes`) as the records that were written, one at a
        time, in storage order: what a converter or a merge feeds a writer."""


def _load(fmt: str):
    """The format class registered as `fmt`, checked to be that format (FORMAT == key)."""
    cls = load_entry(FORMATS, fmt, "format", StorageError)
    if getattr(cls, "FORMAT", None) != fmt:
        raise StorageError(f"FORMATS['{fmt}'] is {FORMATS[fmt]}, whose FORMAT is "
                           f"{getattr(cls, 'FORMAT', None)!r}, not '{fmt}'")
    return cls()


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


def arrow(values: np.ndarray) -> pa.Array:
    """A 1-D numpy array of numbers or bools → Arrow, zero copy but for bools. Not `pa.array`: it asks
    pandas whether numpy data is categorical, and importing pandas for that costs a writer process
    more than a small shard's whole write."""
    values = np.ascontiguousarray(values)
    if values.dtype == np.bool_:
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])


def strings(names: Sequence[str]) -> pa.Array:
    """Python strings → an Arrow string array, without `pa.array` (see `arrow`)."""
    data = [n.encode() for n in names]
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in data])]).astype(np.int32)
    return pa.Array.from_buffers(pa.string(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))])


def fixed_list(values: np.ndarray, width: int) -> pa.FixedSizeListArray:
    """(n, width) float32 array → Arrow fixed-size list column, zero copy."""
    flat = arrow(np.ascontiguousarray(values, dtype=np.float32).reshape(-1))
    # 'element' is the child name Parquet's compliant nested types use, so tables compare equal
    # whether they were built here or read back from a file
    return pa.FixedSizeListArray.from_arrays(flat, type=pa.list_(pa.field("element", pa.float32()), width))


def transitions_table(records: list[EpisodeRecord], layout: Layout, columns: Sequence[str] | None = None) -> pa.Table:
    """Episodes' transitions as one Arrow table: the shape every reader returns; only `columns`
    (kept in the table's own order) when given, so a streamed read builds only what it needs."""
    lengths = np.array([r.rollout.transitions for r in records])
    steps = np.concatenate([np.arange(t, dtype=np.int32) for t in lengths])
    rollouts = [r.rollout for r in records]
    cols: dict[str, Callable[..., pa.Array]] = {
        "episode": lambda: arrow(np.repeat([r.index for r in records], lengths).astype(np.int64)),
        "step": lambda: arrow(steps),
        "t": lambda: arrow((steps * layout.record_dt).astype(np.float32)),
        "state": lambda: fixed_list(np.concatenate([r.states[:-1] for r in rollouts]), layout.state_size),
        "action": lambda: fixed_list(np.concatenate([r.actions for r in rollouts]), layout.action_size),
        "next_state": lambda: fixed_list(np.concatenate([r.states[1:] for r in rollouts]), layout.state_size),
        "is_first": lambda: arrow(steps == 0),
        "is_last": lambda: arrow(steps == np.repeat(lengths - 1, lengths)),
        "is_terminal": lambda: arrow(np.zeros(len(steps), bool)),
    }
    for name in layout.points:
        cols[name] = lambda name=name: point_list(np.concatenate([r.points[name][:-1] for r in rollouts]))
        cols[next_column(name)] = lambda name=name: point_list(np.concatenate([r.points[name][1:] for r in rollouts]))
    for name in records[0].step_labels:
        cols[name] = lambda name=name: arrow(np.concatenate([r.step_labels[name] for r in records]))
    if unknown := sorted(set(columns or ()) - set(cols)):
        raise StorageError(f"no transitions column {', '.join(unknown)}; columns: {', '.join(cols)}")
    return pa.table({name: make() for name, make in cols.items() if columns is None or name in columns})


def chained(parts: list[pa.ChunkedArray]) -> pa.ChunkedArray:
    """Columns read file by file as one column (of at least one file)."""
    return pa.chunked_array([c for p in parts for c in p.chunks], type=parts[0].type)


def column_array(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Any column of the tables → numpy: scalars (n,), vectors (n, width), point fields (n, N, 3)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    arr, shape = column, []
    while pa.types.is_fixed_size_list(arr.type):
        width = arr.type.list_size
        shape.append(width)
        arr = arr.values.slice(arr.offset * width, len(arr) * width)  # the slice's own values, no compute call
    return arr.to_numpy(zero_copy_only=False).reshape(-1, *shape)


def point_list(values: np.ndarray) -> pa.FixedSizeListArray:
    """(rows, N, 3) float32 → a column of N fixed-size xyz lists per row (Polars: Array(Array(f32, 3), N))."""
    rows, n, _ = values.shape
    xyz = fixed_list(values.reshape(rows * n, 3), 3)
    return pa.FixedSizeListArray.from_arrays(xyz, type=pa.list_(pa.field("element", xyz.type), n))


def episodes_table(records: list[EpisodeRecord], shard: int) -> pa.Table:
    """One row per episode: parameters, labels, and where its transitions start in the shard."""
    first = records[0]
    values = {param_column(k): np.array([r.params[k] for r in records]) for k in first.params}
    values |= {k: np.array([r.episode_labels[k] for r in records]) for k in first.episode_labels}
    index = None if first.rollout.point_index is None else np.stack([np.asarray(r.rollout.point_index)
                                                                     for r in records])
    return episode_columns(np.array([r.index for r in records]), shard,
                           np.array([r.rollout.transitions for r in records]), values, index)


def episode_columns(episode: np.ndarray, shard: int, transitions: np.ndarray, values: dict[str, np.ndarray],
                    point_index: np.ndarray | None) -> pa.Table:
    """The episodes table from its columns (`values`: parameter columns, then labels; `point_index`
    (E, N) or None), in the column order and types every format reads back."""
    n = len(episode)
    cols = {"episode": arrow(episode.astype(np.int64)), "shard": arrow(np.full(n, shard, np.int64)),
            "transitions": arrow(transitions.astype(np.int64))}
    cols |= {name: arrow(v) for name, v in values.items()}
    if point_index is not None:
        width = point_index.shape[1]
        cols["point_index"] = pa.ListArray.from_arrays(arrow(np.arange(0, (n + 1) * width, width, dtype=np.int32)),
                                                       arrow(point_index.reshape(-1).astype(np.int64)))
    cols["transitions_offset"] = arrow((np.cumsum(transitions) - transitions).astype(np.int64))
    return pa.table(cols)


def contacts_table(records: list[EpisodeRecord], layout: Layout) -> pa.Table:
    rollouts = [r.rollout for r in records]
    episode = np.repeat(np.array([r.index for r in rollouts], np.int64), [len(r.contacts) for r in rollouts])
    return contact_rows(episode, Contacts.concat([r.contacts for r in rollouts]), layout)


def contact_rows(episode: np.ndarray, c: Contacts, layout: Layout) -> pa.Table:
    """The contacts table of contact rows `c`, row i of episode `episode[i]`."""
    bodies = strings(layout.bodies)
    return pa.table({
        "episode": arrow(episode.astype(np.int64)),
        "step": arrow(c.step.astype(np.int32)),
        "body_a": pa.DictionaryArray.from_arrays(arrow(c.body_a.astype(np.int32)), bodies),
        "body_b": pa.DictionaryArray.from_arrays(arrow(c.body_b.astype(np.int32)), bodies),
        "position": fixed_list(c.position, 3),
        "normal": fixed_list(c.normal, 3),
        "force_on_a": fixed_list(c.force_on_a, 3),
        "force": arrow(c.force.astype(np.float32)),
        "penetration": arrow(c.penetration.astype(np.float32)),
    })


FRAME_STREAMS = ("rgb", "depth", "segmentation")


def with_frames(record: EpisodeRecord, frames: dict[str, dict[str, np.ndarray]]) -> EpisodeRecord:
    """A record read back with its camera frames (camera → stream or label → array, as read) split
    into the rollout's frames and the record's frame labels, as they were written."""
    if not frames:
        return record
    streams = {c: {k: v for k, v in a.items() if k in FRAME_STREAMS} for c, a in frames.items()}
    labels = {c: {k: v for k, v in a.items() if k not in FRAME_STREAMS} for c, a in frames.items()}
    return replace(record, rollout=replace(record.rollout, frames=streams),
                   frame_labels={c: a for c, a in labels.items() if a})
