"""Read a finished dataset back, from either format, as the same triples and tables."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from factory.contract.rollout import EpisodeRecord, Layout
from factory.errors import StorageError, did_you_mean
from factory.names import IMPORTANCE_WEIGHT, TABLES, episode_row, next_column
from factory.storage.base import Piece, column_array, reader_for
from factory.storage.location import Location, location
from factory.storage.manifest import FORMAT_VERSION, read_manifest


@dataclass(frozen=True)
class Episode:
    index: int
    states: np.ndarray  # (T+1, S)
    actions: np.ndarray  # (T, A)
    params: dict[str, float]
    labels: dict[str, object]
    contacts: pa.Table
    points: dict[str, np.ndarray]  # fluid particles / cloth vertices: (T+1, N, 3) per field
    point_index: np.ndarray | None  # which particles / vertices those are
    frames: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    """Camera → stream (rgb, depth, segmentation) → (F, H, W[, 3]), plus `visible_pixels` and `bbox` per
    frame with a segmentation; frame i shows recorded state i × the camera's `every` (`layout.cameras`)."""


class Dataset:
    """A dataset on disk or under a URL; tables are read on demand, in episode order."""

    def __init__(self, where: str | os.PathLike[str] | Location, fmt: str | None = None,
                 manifest: dict | None = None):
        """`manifest`: the one a run is about to write, so what it writes beside it can read the data first."""
        self.location = where = location(where)
        self.manifest = manifest if manifest is not None else read_manifest(where)
        formats = self.manifest["formats"]
        self.format = fmt or formats[0]
        if self.format not in formats:
            raise StorageError(f"{where} holds {', '.join(formats)}, not {self.format}"
                               f"{did_you_mean(str(self.format), formats)}")
        if self.format == "hdf5" and (version := self.manifest["format_version"]) < FORMAT_VERSION:
            raise StorageError(f"{where}: its HDF5 files have the format_version {version} layout, which this "
                               "factory no longer reads; open its Parquet files (format='parquet')"
                               if "parquet" in formats else f"{where}: HDF5 format_version {version} is no longer read")
        self.layout = Layout.from_dict(self.manifest["layout"])
        self.files = [f["path"] for shard in self.manifest["shards"] for f in shard["files"]
                      if f["path"].startswith(f"{self.format}/")]
        self._reader = reader_for(self.format)

    def __repr__(self) -> str:
        c = self.manifest["counts"]
        return (f"<Dataset {self.manifest['recipe']['name']} ({self.format}): {c['episodes']} episodes, "
                f"{c['transitions']} transitions at {self.location}>")

    @property
    def root(self) -> Path:
        """The dataset's local folder, for what reads files directly (loader, report, preview); a URL
        dataset has none and says so."""
        return self.location.local_path()

    def __len__(self) -> int:
        return int(self.manifest["counts"]["transitions"])

    def transitions(self) -> pa.Table:
        return _sorted(self._reader.transitions(self.location, self.files), ["episode", "step"])

    def episodes(self) -> pa.Table:
        return _sorted(self._reader.episodes(self.location, self.files), ["episode"])

    def contacts(self) -> pa.Table:
        return _sorted(self._reader.contacts(self.location, self.files), ["episode", "step"])

    def importance_weights(self, episodes: pa.Table | None = None) -> np.ndarray:
        """Each episode's importance weight p(θ)/q(θ) in episode order (or `episodes`' order): a guided
        dataset's own column, all ones for a dataset drawn from its recipe as written. Weighting each
        episode by it turns an average over the dataset into one over the recipe's distributions."""
        table = self.episodes() if episodes is None else episodes
        if IMPORTANCE_WEIGHT not in table.column_names:
            return np.ones(table.num_rows)
        return np.asarray(table[IMPORTANCE_WEIGHT].to_numpy(zero_copy_only=False), np.float64)

    def triples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(state, action, next_state) for every transition, as float32 arrays."""
        t = self.transitions()
        return tuple(column_array(t[c]) for c in ("state", "action", "next_state"))  # type: ignore[return-value]

    # ------------------------------------------------------------ streaming, any format
    def pieces(self) -> list[Piece]:
        """Every piece of transitions (whole episodes each), in a fixed storage order: the units a
        loader deals out to workers; a Piece is small and pickles."""
        return self._reader.pieces(self.location, self.files)

    def read_piece(self, piece: Piece, columns: Sequence[str] | None = None,
                   episodes: Collection[int] | None = None, batch_rows: int = 8192) -> Iterator[pa.Table]:
        """One piece's transitions as tables of at most `batch_rows` rows, episode then step order,
        with `columns` in that order (all by default), keeping only `episodes` when given."""
        kept = piece.episodes if episodes is None else tuple(e for e in piece.episodes if e in episodes)
        if not kept:
            return
        partial = kept != piece.episodes
        read = None if columns is None else list(dict.fromkeys([*columns, *(["episode"] if partial else [])]))
        # a narrowed piece lets a format skip what it stores apart (HDF5 groups); rows are filtered anyway
        for table in self._reader.read_piece(self.location, replace(piece, episodes=kept), read, batch_rows):
            if unknown := [c for c in columns or () if c not in table.column_names]:
                raise StorageError(f"no transitions column {', '.join(unknown)} in {self.location}")
            if partial:
                table = table.filter(pc.is_in(table["episode"], pa.array(kept, pa.int64())))
            if table.num_rows:
                yield table if columns is None else table.select(list(columns))

    def iter_transitions(self, columns: Sequence[str] | None = None, episodes: Iterable[int] | None = None,
                         batch_rows: int = 8192) -> Iterator[pa.Table]:
        """Every transition (or those of `episodes`), piece by piece: memory stays within one piece."""
        keep = None if episodes is None else frozenset(int(e) for e in episodes)
        for piece in self.pieces():
            yield from self.read_piece(piece, columns, keep, batch_rows)

    def column(self, table: str, name: str) -> np.ndarray:
        """One column of the transitions, episodes or contacts table as numpy, read file by file."""
        if table not in TABLES:
            raise StorageError(f"no table '{table}'{did_you_mean(table, TABLES)}; tables: {', '.join(TABLES)}")
        return column_array(self._reader.column(self.location, self.files, table, name))

    def records(self, episodes: Iterable[int] | None = None) -> Iterator[EpisodeRecord]:
        """Whole episodes (all, or `episodes`) as the records a writer takes, one at a time, in storage
        order: `writer_for(fmt).write_shard(root, shard, list_of_them, ds.layout)` writes them again."""
        return self._reader.records(self.location, self.files, self.layout, episodes)

    def read_frames(self, piece: Piece, index: int) -> dict[str, dict[str, np.ndarray]]:
        """Episode `index`'s camera frames and frame labels (camera → stream or label → array), read
        from the shard of `piece`, one of `pieces()` that holds it; {} without cameras."""
        return self._reader.frames(self.location, piece.file, self.layout, index)

    def episode(self, index: int) -> Episode:
        pieces = [p for p in self.pieces() if index in p.episodes]
        if not pieces:
            raise StorageError(f"episode {index} is not in {self.location}")
        t = pa.concat_tables([b for p in pieces for b in self.read_piece(p, episodes=[index])])
        ep = self.episodes().filter(pc.equal(pc.field("episode"), index)).to_pylist()[0]
        states = np.concatenate([column_array(t["state"]), column_array(t["next_state"])[-1:]])
        params, labels = episode_row(ep)
        contacts = self.contacts().filter(pc.equal(pc.field("episode"), index))
        points = {name: np.concatenate([column_array(t[name]), column_array(t[next_column(name)])[-1:]])
                  for name in self.layout.points}
        index_list = ep.get("point_index")
        frames = self.read_frames(pieces[0], index)
        return Episode(index, states, column_array(t["action"]), params, labels, contacts, points,
                       None if index_list is None else np.asarray(index_list), frames)


def _sorted(table: pa.Table, keys: list[str]) -> pa.Table:
    return table.sort_by([(k, "ascending") for k in keys])
