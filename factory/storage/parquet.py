"""Parquet shards: one file per shard for transitions, episodes and contacts.

Row groups hold whole episodes only, so a reader can fetch an episode from one row group.
Columns are typed (fixed-size float32 lists, dictionary-encoded body names) and zstd-compressed,
with dictionary pages for the body names only; any Parquet reader opens
`parquet/transitions/*.parquet` without help.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from factory.contract.rollout import Contacts, EpisodeRecord, Layout, Rollout
from factory.names import episode_row, fixed_transition_columns, next_column, param_name
from factory.storage.base import (
    Piece,
    chained,
    column_array,
    contacts_table,
    episodes_table,
    shard_name,
    transitions_table,
    with_frames,
)
from factory.storage.frames_parquet import episode_frames, write_frames
from factory.storage.location import Location, atomic_path
from factory.storage.records import check_records

ROW_GROUP_TARGET = 65_536  # rows; a row group closes at the first episode boundary past this


class ParquetFormat:
    FORMAT = "parquet"

    def write_shard(self, root: Path, shard: int, records: list[EpisodeRecord], layout: Layout,
                    checked: bool = False) -> list[Path]:
        if not checked:
            check_records(records, layout)
        name = f"{shard_name(shard)}.parquet"
        written = [
            self._write_transitions(root / "parquet" / "transitions" / name, records, layout),
            self._write(root / "parquet" / "episodes" / name, episodes_table(records, shard)),
            self._write(root / "parquet" / "contacts" / name, contacts_table(records, layout)),
        ]
        if layout.cameras and records:
            path = root / "parquet" / "frames" / name
            with atomic_path(path) as tmp:
                write_frames(tmp, records, layout, {"compression": "zstd", "use_dictionary": False})
            written.append(path)
        return [p.relative_to(root) for p in written]

    @staticmethod
    def _write(path: Path, table: pa.Table) -> Path:
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp, **_options(table.schema))
        return path

    @staticmethod
    def _write_transitions(path: Path, records: list[EpisodeRecord], layout: Layout) -> Path:
        """Write row groups that end on episode boundaries, each of about ROW_GROUP_TARGET rows."""
        table = transitions_table(records, layout)
        ends = np.cumsum([r.rollout.transitions for r in records])
        with atomic_path(path) as tmp, pq.ParquetWriter(tmp, table.schema, **_options(table.schema)) as writer:
            start = 0
            for i, end in enumerate(ends):
                if end - start >= ROW_GROUP_TARGET or i == len(ends) - 1:
                    writer.write_table(table.slice(start, end - start), row_group_size=end - start)
                    start = end
        return path

    # ------------------------------------------------------------ reading
    def frames(self, root: Location, file: str, layout: Layout, episode: int) -> dict[str, dict[str, np.ndarray]]:
        """Episode `episode`'s frames; `file` is a file of its shard (any table's)."""
        if not layout.cameras:
            return {}
        with root.open_read(_sibling(file, "frames")) as source:
            table = pq.read_table(source, filters=[("episode", "=", episode)])
        return episode_frames(table, layout)

    def transitions(self, root: Location, files: list[str]) -> pa.Table:
        return _concat(root, files, "transitions")

    def episodes(self, root: Location, files: list[str]) -> pa.Table:
        return _concat(root, files, "episodes")

    def contacts(self, root: Location, files: list[str]) -> pa.Table:
        return _concat(root, files, "contacts")

    def pieces(self, root: Location, files: list[str]) -> list[Piece]:
        """Row groups of the transitions files; the episodes table says which episodes each holds."""
        pieces = []
        for rel in _of(files, "transitions"):
            episodes = _read(root, _sibling(rel, "episodes"), ["episode", "transitions"])
            ids, lengths = episodes["episode"].to_numpy(), episodes["transitions"].to_numpy()
            ends = np.cumsum(lengths)
            with root.open_read(rel) as source:
                meta = pq.ParquetFile(source).metadata
            start = 0
            for group in range(meta.num_row_groups):
                stop = start + meta.row_group(group).num_rows
                inside = (ends > start) & (ends <= stop)
                pieces.append(Piece(rel, group, tuple(int(i) for i in ids[inside])))
                start = stop
        return pieces

    def read_piece(self, root: Location, piece: Piece, columns: Sequence[str] | None = None,
                   batch_rows: int = 8192) -> Iterator[pa.Table]:
        with root.open_read(piece.file) as source:
            f = pq.ParquetFile(source)
            for batch in f.iter_batches(batch_size=batch_rows, row_groups=[int(piece.key)],
                                        columns=list(columns) if columns is not None else None):
                yield pa.Table.from_batches([batch])

    def column(self, root: Location, files: list[str], table: str, name: str) -> pa.ChunkedArray:
        parts = [_read(root, rel, [name])[name] for rel in _of(files, table)]
        return chained(parts)

    def records(self, root: Location, files: list[str], layout: Layout,
                episodes: Iterable[int] | None = None) -> Iterator[EpisodeRecord]:
        """Shard by shard: its episodes and contacts tables whole (small), its transitions a row group at a time."""
        keep = None if episodes is None else frozenset(int(e) for e in episodes)
        for rel in _of(files, "transitions"):
            rows = {row["episode"]: row for row in _read(root, _sibling(rel, "episodes")).to_pylist()}
            contacts = _read(root, _sibling(rel, "contacts"))
            for piece in (p for p in self.pieces(root, [rel]) if keep is None or keep & set(p.episodes)):
                table = pa.concat_tables(self.read_piece(root, piece))
                for ep in piece.episodes:
                    if keep is None or ep in keep:
                        record = record_from_tables(rows[ep], table, contacts, layout)
                        yield with_frames(record, self.frames(root, rel, layout, ep))


def _options(schema: pa.Schema) -> dict:
    """zstd, and dictionary pages only for the dictionary-typed columns (body names): on float columns
    the writer's default dictionary encoding is slower and makes files larger."""
    return {"compression": "zstd", "use_dictionary": [f.name for f in schema if pa.types.is_dictionary(f.type)]}


def _of(files: list[str], table: str) -> list[str]:
    """The files of one table, in shard order."""
    return sorted(p for p in files if Path(p).parts[:2] == ("parquet", table))


def _sibling(rel: str, table: str) -> str:
    """The same shard's file of another table."""
    return Path("parquet", table, Path(rel).name).as_posix()


def _concat(root: Location, files: list[str], table: str) -> pa.Table:
    return pa.concat_tables([_read(root, p) for p in _of(files, table)])


def _read(root: Location, rel: str, columns: list[str] | None = None) -> pa.Table:
    with root.open_read(rel) as source:
        return pq.read_table(source, columns=columns)


def record_from_tables(row: dict, transitions: pa.Table, contacts: pa.Table, layout: Layout) -> EpisodeRecord:
    """One episode's rows of the three tables back as the record they were built from. Parameter
    names come back from their columns (`param__a__mass` → `a.mass`): a name with `__` in it would not."""
    index = int(row["episode"])
    t = transitions.filter(pc.equal(transitions["episode"], index)).sort_by("step")
    c = contacts.filter(pc.equal(contacts["episode"], index))

    def whole(name: str) -> np.ndarray:  # T+1 values from a column and its next_ twin
        return np.concatenate([column_array(t[name]), column_array(t[next_column(name)])[-1:]])

    points = {name: whole(name) for name in layout.points}
    index_list = row.get("point_index")
    contact_arrays = Contacts(*(column_array(c[name].combine_chunks().indices if name.startswith("body") else c[name])
                                .astype(dtype) for name, dtype in _CONTACT_DTYPES.items()))
    rollout = Rollout(index, whole("state"), column_array(t["action"]), contact_arrays, points,
                      None if index_list is None else np.asarray(index_list, np.int32))
    keyed, labels = episode_row(row)
    params = {param_name(k): v for k, v in keyed.items()}
    fixed = fixed_transition_columns(layout.points)
    step_labels = {name: column_array(t[name]) for name in t.column_names if name not in fixed}
    return EpisodeRecord(rollout, params, step_labels, labels)


_CONTACT_DTYPES = {"step": np.int32, "body_a": np.int16, "body_b": np.int16, "position": np.float32,
                   "normal": np.float32, "force_on_a": np.float32, "penetration": np.float32}
