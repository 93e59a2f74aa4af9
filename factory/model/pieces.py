"""Streaming reads of a dataset's triples, one *piece* at a time, without torch.

A piece is the smallest unit a worker reads on its own: a Parquet row group (row groups hold
whole episodes) or an HDF5 episode group. Loaders, statistics and checks all stream pieces, so
memory stays bounded by one piece whatever the dataset's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from factory.storage.dataset import Dataset
from factory.storage.group import DatasetGroup

TRIPLE_COLUMNS = ["episode", "step", "state", "action", "next_state"]


@dataclass(frozen=True)
class Piece:
    path: Path
    key: int | str  # Parquet row-group index, or HDF5 group name
    episode: int | None = None  # the one episode an HDF5 piece holds (numbered as the reader sees it)
    offset: int = 0  # added to the file's episode indices: its dataset's offset in a DatasetGroup


@dataclass(frozen=True)
class Chunk:
    """Consecutive transitions, in episode then step order."""

    episode: np.ndarray  # int64 (n,)
    step: np.ndarray  # int32 (n,)
    state: np.ndarray  # float32 (n, S)
    action: np.ndarray  # float32 (n, A)
    next_state: np.ndarray  # float32 (n, S)

    def __len__(self) -> int:
        return len(self.episode)

    def take(self, index: np.ndarray) -> "Chunk":
        return Chunk(*(getattr(self, f)[index] for f in TRIPLE_COLUMNS))

    @classmethod
    def concat(cls, chunks: list["Chunk"]) -> "Chunk":
        return cls(*(np.concatenate([getattr(c, f) for c in chunks]) for f in TRIPLE_COLUMNS))


@dataclass(frozen=True)
class EpisodeArrays:
    index: int
    states: np.ndarray  # (T+1, S)
    actions: np.ndarray  # (T, A)


def list_pieces(ds: Dataset | DatasetGroup) -> list[Piece]:
    """Every piece of the dataset's chosen format, in a fixed order (the same in every worker); for
    a group, every member's pieces with its episodes numbered across the group."""
    if isinstance(ds, DatasetGroup):
        return [replace(p, offset=off, episode=None if p.episode is None else p.episode + off)
                for member, off in zip(ds.datasets, ds.offsets) for p in list_pieces(member)]
    pieces: list[Piece] = []
    if ds.format == "parquet":
        for rel in sorted(f for f in ds.files if Path(f).parts[:2] == ("parquet", "transitions")):
            n = pq.ParquetFile(ds.root / rel).metadata.num_row_groups
            pieces += [Piece(ds.root / rel, i) for i in range(n)]
    else:
        for rel in sorted(f for f in ds.files if f.startswith("hdf5/")):
            with h5py.File(ds.root / rel, "r") as f:
                pieces += [Piece(ds.root / rel, name, int(name.removeprefix("episode_")))
                           for name in sorted(k for k in f if k.startswith("episode_"))]
    return pieces


def read_piece(piece: Piece, episodes: frozenset[int] | None = None,
               batch_rows: int = 8192) -> Iterator[Chunk]:
    """Stream one piece as chunks of at most `batch_rows`, keeping only `episodes` when given."""
    if isinstance(piece.key, str):
        if episodes is not None and piece.episode not in episodes:
            return
        with h5py.File(piece.path, "r") as f:
            g = f[piece.key]
            states, actions = g["states"][()], g["actions"][()]
        t = len(actions)
        yield Chunk(np.full(t, piece.episode, np.int64), np.arange(t, dtype=np.int32),
                    states[:-1], actions, states[1:])
        return
    pf = pq.ParquetFile(piece.path)
    for batch in pf.iter_batches(batch_size=batch_rows, row_groups=[piece.key], columns=TRIPLE_COLUMNS):
        chunk = _chunk(batch, piece.offset)
        if episodes is not None:
            keep = np.isin(chunk.episode, np.fromiter(episodes, np.int64, len(episodes)))
            if not keep.all():
                chunk = chunk.take(np.flatnonzero(keep))
        if len(chunk):
            yield chunk


def iter_chunks(ds: Dataset | DatasetGroup, episodes: Iterable[int] | None = None) -> Iterator[Chunk]:
    """Every transition of the dataset (or of `episodes`), piece by piece."""
    keep = frozenset(episodes) if episodes is not None else None
    for piece in list_pieces(ds):
        yield from read_piece(piece, keep)


def iter_episodes(ds: Dataset | DatasetGroup, episodes: Iterable[int] | None = None) -> Iterator[EpisodeArrays]:
    """Whole episodes, streamed: consecutive chunks are joined and cut at episode boundaries."""
    pending: list[Chunk] = []
    for chunk in iter_chunks(ds, episodes):
        pending.append(chunk)
        joined = Chunk.concat(pending) if len(pending) > 1 else chunk
        last = joined.episode[-1]
        done = joined.episode != last
        for ep in np.unique(joined.episode[done]):
            yield _episode(joined.take(np.flatnonzero(joined.episode == ep)))
        pending = [joined.take(np.flatnonzero(~done))]
    if pending and len(pending[0]):
        joined = Chunk.concat(pending)
        for ep in np.unique(joined.episode):
            yield _episode(joined.take(np.flatnonzero(joined.episode == ep)))


def _episode(c: Chunk) -> EpisodeArrays:
    order = np.argsort(c.step, kind="stable")
    states = np.concatenate([c.state[order], c.next_state[order][-1:]])
    return EpisodeArrays(int(c.episode[0]), states, c.action[order])


def _chunk(batch: pa.RecordBatch, offset: int = 0) -> Chunk:
    cols = {name: batch.column(name) for name in TRIPLE_COLUMNS}
    return Chunk(cols["episode"].to_numpy() + offset, cols["step"].to_numpy(),
                 _matrix(cols["state"]), _matrix(cols["action"]), _matrix(cols["next_state"]))


def _matrix(arr: pa.FixedSizeListArray) -> np.ndarray:
    width = arr.type.list_size
    return arr.flatten().to_numpy(zero_copy_only=False).reshape(-1, width)
