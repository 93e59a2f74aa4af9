"""A streaming torch loader over a dataset's triples: sharded, buffer-shuffled, batched.

Pieces (whole episodes each, see `factory.storage.Piece`) are permuted per epoch with a seed every
process shares, then dealt round-robin to (rank, worker) pairs: each triple is read by exactly
one worker per epoch. Inside a worker, triples pass through a shuffle buffer and leave as ready
torch batches, so a DataLoader runs with `batch_size=None` and no per-sample Python overhead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from factory.model.pieces import TRIPLE_COLUMNS, Chunk, frame_streams, read_piece
from factory.storage.base import Piece
from factory.storage.dataset import Dataset
from factory.storage.group import DatasetGroup

Batch = dict[str, torch.Tensor]


class TripleStream(IterableDataset):
    """Batches of {episode, step, state, action, next_state} over the triples of `episodes`.

    `ds` is one dataset or several of one layout (`open_dataset([A, B])`, or a list of datasets),
    whose episodes are then numbered across them (`DatasetGroup.offsets`).

    `frames` adds camera frames to each batch: for each `<camera>.<stream>` key (`front.rgb`), the
    frame of every row's state under that key and of its next state under `next.<camera>.<stream>`,
    as stored (rgb uint8 (B, H, W, 3), depth float32 and segmentation uint8 (B, H, W)).

    `rank`/`world_size` default to torch.distributed's when it is initialized. Call
    `set_epoch` before each epoch (as with DistributedSampler) to draw a new order.
    """

    def __init__(self, ds: Dataset | DatasetGroup | list[Dataset], batch_size: int = 256, *,
                 episodes: Iterable[int] | None = None, shuffle: bool = True, buffer_size: int = 16384, seed: int = 0,
                 rank: int | None = None, world_size: int | None = None, frames: Sequence[str] = ()):
        self.ds = DatasetGroup(ds) if isinstance(ds, list) else ds
        ds = self.ds
        frame_streams(ds.layout, frames)  # refuses an unknown stream now, not in a worker
        self.frames = tuple(frames)
        self.pieces: list[Piece] = list(ds.pieces())  # the same order in every worker and rank
        self.episodes = frozenset(int(e) for e in episodes) if episodes is not None else None
        if self.episodes is not None:
            self.pieces = [p for p in self.pieces if self.episodes & set(p.episodes)]
        self.batch_size, self.shuffle, self.buffer_size, self.seed = batch_size, shuffle, buffer_size, seed
        dist = torch.distributed.is_available() and torch.distributed.is_initialized()
        self.rank = rank if rank is not None else (torch.distributed.get_rank() if dist else 0)
        self.world_size = world_size if world_size is not None else (
            torch.distributed.get_world_size() if dist else 1)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def my_pieces(self) -> list[Piece]:
        """This (rank, worker)'s share of the epoch's pieces."""
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info else (1, 0)
        consumers, me = self.world_size * workers, self.rank * workers + worker
        order = np.arange(len(self.pieces))
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(order)
        return [self.pieces[i] for i in order[me::consumers]]

    def __iter__(self) -> Iterator[Batch]:
        info = get_worker_info()
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, info.id if info else 0])
        chunks = (c for p in self.my_pieces() for c in read_piece(self.ds, p, self.episodes, frames=self.frames))
        yield from _batches(shuffle_buffer(chunks, self.buffer_size, rng) if self.shuffle else chunks,
                            self.batch_size)


def shuffle_buffer(chunks: Iterable[Chunk], size: int, rng: np.random.Generator) -> Iterator[Chunk]:
    """Shuffle a stream of chunks through a buffer of about `size` rows.

    When the buffer fills, it is permuted and a random half leaves; the other half stays to mix
    with later pieces. Every row leaves exactly once.
    """
    buffer: list[Chunk] = []
    rows = 0
    for chunk in chunks:
        buffer.append(chunk)
        rows += len(chunk)
        if rows >= size:
            mixed = Chunk.concat(buffer)
            perm = rng.permutation(rows)
            keep = size // 2
            yield mixed.take(perm[keep:])
            buffer, rows = [mixed.take(perm[:keep])], keep
    if rows:
        mixed = Chunk.concat(buffer)
        yield mixed.take(rng.permutation(rows))


def _batches(chunks: Iterable[Chunk], batch_size: int) -> Iterator[Batch]:
    """Full batches across chunk boundaries; only the last batch may be short."""
    carry: Chunk | None = None
    for chunk in chunks:
        if carry is not None:
            chunk = Chunk.concat([carry, chunk])
        full = len(chunk) - len(chunk) % batch_size
        for start in range(0, full, batch_size):
            yield _tensors(chunk, slice(start, start + batch_size))
        carry = chunk.take(np.arange(full, len(chunk))) if full < len(chunk) else None
    if carry is not None:
        yield _tensors(carry, slice(None))


def _tensors(chunk: Chunk, rows: slice) -> Batch:
    arrays = {f: getattr(chunk, f) for f in TRIPLE_COLUMNS} | chunk.images
    return {k: torch.from_numpy(np.require(v[rows], requirements=["C", "W"])) for k, v in arrays.items()}


def make_loader(stream: TripleStream, workers: int = 0) -> DataLoader:
    """A DataLoader over ready batches; workers > 0 read pieces in parallel processes."""
    return DataLoader(stream, batch_size=None, num_workers=workers,
                      persistent_workers=False, pin_memory=torch.cuda.is_available())
