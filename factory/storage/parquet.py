"""Parquet shards: one file per shard for transitions, episodes and contacts.

Row groups hold whole episodes only, so a reader can fetch an episode from one row group.
Columns are typed (fixed-size float32 lists, dictionary-encoded body names) and zstd-compressed;
any Parquet reader opens `parquet/transitions/*.parquet` without help.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from factory.rollout import EpisodeRecord, Layout
from factory.storage.base import atomic_path, contact_columns, episode_row, shard_name, transition_columns

ROW_GROUP_TARGET = 65_536  # rows; a row group closes at the first episode boundary past this


class ParquetFormat:
    FORMAT = "parquet"

    def write_shard(self, root: Path, shard: int, records: list[EpisodeRecord], layout: Layout) -> list[Path]:
        name = f"{shard_name(shard)}.parquet"
        episode_tables = [pa.table(transition_columns(r, layout)) for r in records]
        offsets, total = [], 0
        for table in episode_tables:
            offsets.append(total)
            total += table.num_rows
        rows = [dict(episode_row(r, shard), transitions_offset=o) for r, o in zip(records, offsets)]
        contacts = pa.concat_tables([pa.table(contact_columns(r, layout)) for r in records])
        written = [
            self._write_grouped(root / "parquet" / "transitions" / name, episode_tables),
            self._write(root / "parquet" / "episodes" / name, pa.Table.from_pylist(rows)),
            self._write(root / "parquet" / "contacts" / name, contacts),
        ]
        return [p.relative_to(root) for p in written]

    @staticmethod
    def _write(path: Path, table: pa.Table) -> Path:
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp, compression="zstd")
        return path

    @staticmethod
    def _write_grouped(path: Path, tables: list[pa.Table]) -> Path:
        """Write episodes so that no row group splits one."""
        with atomic_path(path) as tmp:
            with pq.ParquetWriter(tmp, tables[0].schema, compression="zstd") as writer:
                group: list[pa.Table] = []
                for table in tables:
                    group.append(table)
                    if sum(t.num_rows for t in group) >= ROW_GROUP_TARGET:
                        writer.write_table(pa.concat_tables(group), row_group_size=ROW_GROUP_TARGET * 4)
                        group = []
                if group:
                    writer.write_table(pa.concat_tables(group), row_group_size=ROW_GROUP_TARGET * 4)
        return path

    # ------------------------------------------------------------ reading
    def transitions(self, root: Path, files: list[str]) -> pa.Table:
        return _concat(root, files, "transitions")

    def episodes(self, root: Path, files: list[str]) -> pa.Table:
        return _concat(root, files, "episodes")

    def contacts(self, root: Path, files: list[str]) -> pa.Table:
        return _concat(root, files, "contacts")


def _concat(root: Path, files: list[str], table: str) -> pa.Table:
    paths = sorted(f for f in files if Path(f).parts[:2] == ("parquet", table))
    return pa.concat_tables([pq.read_table(root / p) for p in paths])
