"""Streaming reads of a dataset's triples, one *piece* at a time, without torch.

A piece (`factory.storage.Piece`) is the smallest unit a worker reads on its own, whole episodes
whatever the format. Loaders, statistics and checks all stream pieces through the dataset's
reader, so memory stays bounded by one piece whatever the dataset's size or format.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from factory.storage.base import Piece, column_array
from factory.storage.dataset import Dataset
from factory.storage.group import DatasetGroup

TRIPLE_COLUMNS = ["episode", "step", "state", "action", "next_state"]


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

    def take(self, index: np.ndarray) -> Chunk:
        return Chunk(*(getattr(self, f)[index] for f in TRIPLE_COLUMNS))

    @classmethod
    def concat(cls, chunks: list[Chunk]) -> Chunk:
        return cls(*(np.concatenate([getattr(c, f) for c in chunks]) for f in TRIPLE_COLUMNS))


@dataclass(frozen=True)
class EpisodeArrays:
    index: int
    states: np.ndarray  # (T+1, S)
    actions: np.ndarray  # (T, A)


def read_piece(ds: Dataset | DatasetGroup, piece: Piece, episodes: frozenset[int] | None = None,
               batch_rows: int = 8192) -> Iterator[Chunk]:
    """Stream one piece as chunks of at most `batch_rows`, keeping only `episodes` when given."""
    for table in ds.read_piece(piece, TRIPLE_COLUMNS, episodes, batch_rows):
        yield Chunk(*(column_array(table[name]) for name in TRIPLE_COLUMNS))


def iter_chunks(ds: Dataset, episodes: Iterable[int] | None = None) -> Iterator[Chunk]:
    """Every transition of the dataset (or of `episodes`), piece by piece."""
    keep = frozenset(episodes) if episodes is not None else None
    for piece in ds.pieces():
        yield from read_piece(ds, piece, keep)


def iter_episodes(ds: Dataset, episodes: Iterable[int] | None = None) -> Iterator[EpisodeArrays]:
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
