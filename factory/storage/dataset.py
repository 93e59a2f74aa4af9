"""Read a finished dataset back, from either format, as the same triples and tables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from factory.errors import StorageError
from factory.rollout import Layout
from factory.storage import reader_for
from factory.storage.location import Location, location
from factory.storage.manifest import read_manifest


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


class Dataset:
    """A dataset on disk or under a URL; tables are read on demand, in episode order."""

    def __init__(self, where: str | os.PathLike[str] | Location, fmt: str | None = None):
        self.location = where = location(where)
        self.manifest = read_manifest(where)
        formats = self.manifest["formats"]
        self.format = fmt or formats[0]
        if self.format not in formats:
            raise StorageError(f"{where} holds {', '.join(formats)}, not {self.format}")
        if self.format == "hdf5" and self.manifest["format_version"] < 2:
            raise StorageError(f"{where}: its HDF5 files have the format_version 1 layout, which this factory "
                               "no longer reads; open its Parquet files (format='parquet')"
                               if "parquet" in formats else f"{where}: HDF5 format_version 1 is no longer read")
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

    def triples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(state, action, next_state) for every transition, as float32 arrays."""
        t = self.transitions()
        return tuple(_matrix(t[c]) for c in ("state", "action", "next_state"))  # type: ignore[return-value]

    def episode(self, index: int) -> Episode:
        t = self.transitions().filter(pc.equal(pc.field("episode"), index))
        if t.num_rows == 0:
            raise StorageError(f"episode {index} is not in {self.location}")
        ep = self.episodes().filter(pc.equal(pc.field("episode"), index)).to_pylist()[0]
        states = _matrix(t["state"])
        states = np.concatenate([states, _matrix(t["next_state"])[-1:]])
        params = {k.removeprefix("param__"): v for k, v in ep.items() if k.startswith("param__")}
        labels = {k: v for k, v in ep.items()
                  if not k.startswith("param__") and k not in ("episode", "shard", "transitions",
                                                               "transitions_offset", "point_index")}
        contacts = self.contacts().filter(pc.equal(pc.field("episode"), index))
        points = {name: np.concatenate([_points(t[name]), _points(t[f"next_{name}"])[-1:]])
                  for name in self.layout.points}
        index_list = ep.get("point_index")
        return Episode(index, states, _matrix(t["action"]), params, labels, contacts, points,
                       None if index_list is None else np.asarray(index_list))


def open_dataset(path: str | os.PathLike[str] | Location | list | tuple, format: str | None = None,
                 storage_options: dict[str, Any] | None = None) -> Dataset:
    """Open a dataset written by `factory run`: a folder or a URL (s3://bucket/ds, with fsspec's
    `storage_options` such as endpoint_url); `format` picks parquet or hdf5 when both exist.
    A list of datasets of one layout opens as one `DatasetGroup` (episodes numbered across them)."""
    if isinstance(path, list | tuple):
        from factory.storage.group import DatasetGroup

        return DatasetGroup([open_dataset(p, format, storage_options) for p in path])  # type: ignore[return-value]
    return Dataset(location(path, storage_options), format)


def _matrix(column: pa.ChunkedArray) -> np.ndarray:
    """Fixed-size-list column → (n, width) float32 array."""
    arr = column.combine_chunks()
    width = arr.type.list_size
    return arr.flatten().to_numpy(zero_copy_only=False).reshape(-1, width)


def _points(column: pa.ChunkedArray) -> np.ndarray:
    """Column of N xyz lists per row → (rows, N, 3) float32 array."""
    arr = column.combine_chunks()
    n = arr.type.list_size
    return arr.flatten().flatten().to_numpy(zero_copy_only=False).reshape(-1, n, 3)


def _sorted(table: pa.Table, keys: list[str]) -> pa.Table:
    return table.sort_by([(k, "ascending") for k in keys])
