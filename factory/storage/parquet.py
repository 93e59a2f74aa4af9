"""Parquet shards: one file per shard for transitions, episodes and contacts.

Row groups hold whole episodes only, so a reader can fetch an episode from one row group.
Columns are typed (fixed-size float32 lists, dictionary-encoded body names) and zstd-compressed;
any Parquet reader opens `parquet/transitions/*.parquet` without help.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from factory.rollout import EpisodeRecord, Layout
from factory.storage.base import (
    contacts_table,
    episodes_table,
    shard_name,
    transitions_table,
)
from factory.storage.location import Location, atomic_path

ROW_GROUP_TARGET = 65_536  # rows; a row group closes at the first episode boundary past this


class ParquetFormat:
    FORMAT = "parquet"

    def write_shard(self, root: Path, shard: int, records: list[EpisodeRecord], layout: Layout) -> list[Path]:
        name = f"{shard_name(shard)}.parquet"
        written = [
            self._write_transitions(root / "parquet" / "transitions" / name, records, layout),
            self._write(root / "parquet" / "episodes" / name, episodes_table(records, shard)),
            self._write(root / "parquet" / "contacts" / name, contacts_table(records, layout)),
        ]
        return [p.relative_to(root) for p in written]

    @staticmethod
    def _write(path: Path, table: pa.Table) -> Path:
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp, compression="zstd")
        return path

    @staticmethod
    def _write_transitions(path: Path, records: list[EpisodeRecord], layout: Layout) -> Path:
        """Write row groups that end on episode boundaries, each of about ROW_GROUP_TARGET rows."""
        table = transitions_table(records, layout)
        ends = np.cumsum([r.rollout.transitions for r in records])
        with atomic_path(path) as tmp:
            with pq.ParquetWriter(tmp, table.schema, compression="zstd") as writer:
                start = 0
                for i, end in enumerate(ends):
                    if end - start >= ROW_GROUP_TARGET or i == len(ends) - 1:
                        writer.write_table(table.slice(start, end - start), row_group_size=end - start)
                        start = end
        return path

    # ------------------------------------------------------------ reading
    def transitions(self, root: Location, files: list[str]) -> pa.Table:
        return _concat(root, files, "transitions")

    def episodes(self, root: Location, files: list[str]) -> pa.Table:
        return _concat(root, files, "episodes")

    def contacts(self, root: Location, files: list[str]) -> pa.Table:
        return _concat(root, files, "contacts")


def _concat(root: Location, files: list[str], table: str) -> pa.Table:
    return pa.concat_tables([_read(root, p) for p in sorted(files) if Path(p).parts[:2] == ("parquet", table)])


def _read(root: Location, rel: str) -> pa.Table:
    with root.open_read(rel) as source:
        return pq.read_table(source)
