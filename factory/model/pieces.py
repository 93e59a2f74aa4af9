"""Streaming reads of a dataset's triples, one *piece* at a time, without torch.

A piece (`factory.storage.Piece`) is the smallest unit a worker reads on its own, whole episodes
whatever the format. Loaders, statistics and checks all stream pieces through the dataset's
reader, so memory stays bounded by one piece whatever the dataset's size or format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from factory.contract.rollout import CameraBlock, Layout
from factory.errors import StorageError, did_you_mean
from factory.storage.base import Piece, column_array
from factory.storage.dataset import Dataset
from factory.storage.group import DatasetGroup

TRIPLE_COLUMNS = ["episode", "step", "state", "action", "next_state"]
Frames = dict[str, dict[str, np.ndarray]]  # an episode's camera → stream (or label) → (F, …)


@dataclass(frozen=True)
class Chunk:
    """Consecutive transitions, in episode then step order, with camera frames when asked for."""

    episode: np.ndarray  # int64 (n,)
    step: np.ndarray  # int32 (n,)
    state: np.ndarray  # float32 (n, S)
    action: np.ndarray  # float32 (n, A)
    next_state: np.ndarray  # float32 (n, S)
    images: dict[str, np.ndarray] = field(default_factory=dict)
    """`<camera>.<stream>` and `next.<camera>.<stream>` → (n, H, W[, 3]): the frames of each row's state
    and next state (`frame_rows`)."""

    def __len__(self) -> int:
        return len(self.episode)

    def take(self, index: np.ndarray) -> Chunk:
        return Chunk(**{f: getattr(self, f)[index] for f in TRIPLE_COLUMNS},
                     images={k: v[index] for k, v in self.images.items()})

    @classmethod
    def concat(cls, chunks: list[Chunk]) -> Chunk:
        return cls(**{f: np.concatenate([getattr(c, f) for c in chunks]) for f in TRIPLE_COLUMNS},
                   images={k: np.concatenate([c.images[k] for c in chunks]) for k in chunks[0].images})


@dataclass(frozen=True)
class EpisodeArrays:
    index: int
    states: np.ndarray  # (T+1, S)
    actions: np.ndarray  # (T, A)


def read_piece(ds: Dataset | DatasetGroup, piece: Piece, episodes: frozenset[int] | None = None,
               batch_rows: int = 8192, frames: Sequence[str] = ()) -> Iterator[Chunk]:
    """Stream one piece as chunks of at most `batch_rows`, keeping only `episodes` when given, with
    the `frames` streams (`<camera>.<stream>`, see `frame_streams`) of each row's state and next state."""
    streams = frame_streams(ds.layout, frames)
    held: dict[int, Frames] = {}  # the frames of the episode being read
    for table in ds.read_piece(piece, TRIPLE_COLUMNS, episodes, batch_rows):
        episode, step, state, action, next_state = (column_array(table[name]) for name in TRIPLE_COLUMNS)
        chunk = Chunk(episode, step, state, action, next_state)
        if streams:
            chunk = replace(chunk, images=frame_rows(chunk, streams, lambda e: _frames_of(ds, piece, e, held)))
        yield chunk


def frame_streams(layout: Layout, keys: Sequence[str]) -> list[tuple[str, CameraBlock, str]]:
    """(key, camera, stream) of each `<camera>.<stream>` key; an unknown one is refused naming what there is."""
    known = {f"{c.name}.{s}": (c, s) for c in layout.cameras for s in c.streams}
    for key in keys:
        if key not in known:
            raise StorageError(f"no camera stream '{key}'{did_you_mean(key, list(known))}; this dataset has "
                               + (", ".join(known) or "no cameras"))
    return [(key, *known[key]) for key in keys]


def frame_rows(chunk: Chunk, streams: list[tuple[str, CameraBlock, str]],
               frames_of: Callable[[int], Frames]) -> dict[str, np.ndarray]:
    """Each row's frames: the frame of its state (`<camera>.<stream>`) and next state (`next.…`), a
    camera recording every k-th state holding its latest frame; `frames_of(episode)` reads them."""
    starts = np.flatnonzero(np.r_[True, chunk.episode[1:] != chunk.episode[:-1]])
    parts: dict[str, list[np.ndarray]] = {}
    for start, stop in zip(starts, np.r_[starts[1:], len(chunk)], strict=True):
        frames, steps = frames_of(int(chunk.episode[start])), chunk.step[start:stop].astype(np.int64)
        for key, camera, stream in streams:
            shots = frames[camera.name][stream]
            parts.setdefault(key, []).append(shots[steps // camera.every])
            parts.setdefault(f"next.{key}", []).append(shots[(steps + 1) // camera.every])
    return {k: np.concatenate(v) for k, v in parts.items()}


def _frames_of(ds: Dataset | DatasetGroup, piece: Piece, episode: int, held: dict[int, Frames]) -> Frames:
    """An episode's frames, read once while its rows stream by (only the latest episode's are kept)."""
    if episode not in held:
        held.clear()
        held[episode] = ds.read_frames(piece, episode)
    return held[episode]


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
