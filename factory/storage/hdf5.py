"""HDF5 shards: each array of a shard is one dataset, its episodes one after another.

    /episodes        (E,) compound, one row per episode in storage order: `episode`, `transitions` (T),
                     `transitions_offset` (its first row of actions and step_labels), `states_offset`
                     (its first row of states and points: T+1 rows), `contacts`, `contacts_offset`,
                     `point_index` (N,) for fluid and cloth, `param.<name>`..., `label.<name>`...
    /states          (Σ(T+1), S) float32
    /actions         (ΣT, A) float32
    /step_labels     (ΣT,) compound, a field per step label
    /contacts        (Σn,) compound: episode, step, body_a, body_b, position (3), normal (3),
                     force_on_a (3), penetration
    /points/<name>   (Σ(T+1), N, 3) float32 per point field, for fluid and cloth
    attrs            layout, state_names, action_names (JSON), shard

Episode k's states are `states[o:o + T + 1]` with o its `states_offset`. HDF5 pays per object
(creating a compressed dataset or a compound attribute costs milliseconds), so a shard is about
eight objects whatever its size, not a group per episode with datasets and attributes of its own.
Datasets are gzip level 1 (the shuffle filter would make them a little smaller and the write much
slower), in chunks of about CHUNK_BYTES along the rows, so a streamed piece reads and inflates
only its own rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa

from factory.contract.rollout import Contacts, EpisodeRecord, Layout, Rollout
from factory.errors import StorageError
from factory.names import LABEL, PARAM, fixed_transition_columns, hdf5_field, hdf5_split, next_column, param_column
from factory.storage.base import (
    Piece,
    chained,
    contact_rows,
    episode_columns,
    shard_name,
    transitions_table,
    with_frames,
)
from factory.storage.frames_hdf5 import read_frames, write_frames
from factory.storage.location import Location, atomic_path
from factory.storage.records import check_records

_COMPRESSION = {"compression": "gzip", "compression_opts": 1}  # no shuffle filter: little smaller, much slower
CHUNK_BYTES = 1 << 20  # about what one chunk holds
PIECE_BYTES = 16 << 20  # what one streamed piece (consecutive episodes) holds in memory, about
READ_CACHE = 4 * CHUNK_BYTES  # chunk cache when reading: a chunk stays inflated while its rows are sliced


def _dataset(group: h5py.Group, name: str, data: np.ndarray) -> None:
    """Compressed, in chunks of about CHUNK_BYTES of whole rows (empty datasets cannot be chunked)."""
    if not data.size:
        group.create_dataset(name, data=data)
        return
    rows = int(np.clip(CHUNK_BYTES // (data[:1].nbytes or 1), 1, len(data)))
    group.create_dataset(name, data=data, chunks=(rows, *data.shape[1:]), **_COMPRESSION)


def packed(columns: dict[str, np.ndarray]) -> np.ndarray:
    """Named columns of equal length → one structured array, fields in the dict's order."""
    dtype = np.dtype([(name, values.dtype, values.shape[1:]) for name, values in columns.items()])
    out = np.empty(len(next(iter(columns.values()), ())), dtype)
    for name, values in columns.items():
        out[name] = values
    return out


def _starts(lengths: np.ndarray) -> np.ndarray:
    return (np.cumsum(lengths) - lengths).astype(np.int64)


def episode_rows(records: list[EpisodeRecord]) -> np.ndarray:
    """The `/episodes` table: each record's index, where its rows are, its parameters and labels
    (`check_records` has made sure every record has the same numeric keys)."""
    first = records[0]
    transitions = np.array([r.rollout.transitions for r in records], np.int64)
    contacts = np.array([len(r.rollout.contacts) for r in records], np.int64)
    columns = {"episode": np.array([r.index for r in records], np.int64), "transitions": transitions,
               "transitions_offset": _starts(transitions), "states_offset": _starts(transitions + 1),
               "contacts": contacts, "contacts_offset": _starts(contacts)}
    if first.rollout.point_index is not None:
        columns["point_index"] = np.stack([np.asarray(r.rollout.point_index) for r in records]).astype(np.int32)
    try:
        columns |= {hdf5_field(PARAM, k): np.array([r.params[k] for r in records]) for k in first.params}
        columns |= {hdf5_field(LABEL, k): np.array([r.episode_labels[k] for r in records])
                    for k in first.episode_labels}
        return packed(columns)
    except (KeyError, TypeError, ValueError) as exc:
        raise StorageError(f"episodes of one HDF5 shard need the same numeric parameters and labels: {exc}") from exc


class HDF5Format:
    FORMAT = "hdf5"

    def write_shard(self, root: Path, shard: int, records: list[EpisodeRecord], layout: Layout,
                    checked: bool = False) -> list[Path]:
        if not checked:
            check_records(records, layout)
        path = root / "hdf5" / f"{shard_name(shard)}.h5"
        rollouts = [r.rollout for r in records]
        contacts = Contacts.concat([r.contacts for r in rollouts])
        # no chunk cache: each chunk gets its file space when written, not when the cache lets go of
        # it, which another thread holding frames (dask's profiler) delays; bytes then vary by run
        with atomic_path(path) as tmp, h5py.File(tmp, "w", rdcc_nbytes=0) as f:
            f.attrs["layout"] = json.dumps(layout.to_dict())
            f.attrs["state_names"] = json.dumps(layout.state_names)
            f.attrs["action_names"] = json.dumps(layout.action_names)
            f.attrs["shard"] = shard
            f.create_dataset("episodes", data=episode_rows(records))
            _dataset(f, "states", np.concatenate([r.states for r in rollouts]).astype(np.float32, copy=False))
            _dataset(f, "actions", np.concatenate([r.actions for r in rollouts]).astype(np.float32, copy=False))
            _dataset(f, "step_labels", packed({name: np.concatenate([r.step_labels[name] for r in records])
                                               for name in records[0].step_labels}))
            episode = np.repeat([r.index for r in rollouts], [len(r.contacts) for r in rollouts]).astype(np.int64)
            _dataset(f, "contacts", packed({"episode": episode} | {name: getattr(contacts, name)
                                                                   for name in Contacts.COLUMNS}))
            if layout.points:
                points = f.create_group("points", track_order=True)
                for name in layout.points:
                    _dataset(points, name, np.concatenate([r.points[name] for r in rollouts])
                             .astype(np.float32, copy=False))
            if layout.cameras:
                write_frames(f, records, layout)
        return [path.relative_to(root)]

    # ------------------------------------------------------------ reading
    def frames(self, root: Location, file: str, layout: Layout, episode: int) -> dict[str, dict[str, np.ndarray]]:
        """Episode `episode`'s frames from its shard `file`."""
        if not layout.cameras:
            return {}
        with root.open_read(file) as source, _open(source) as f:
            rows = f["episodes"]["episode"]
            return read_frames(f, int(np.flatnonzero(rows == episode)[0]))

    def records(self, root: Location, files: list[str], layout: Layout,
                episodes: Iterable[int] | None = None) -> Iterator[EpisodeRecord]:
        """Episodes back as records, a piece at a time, in storage order (each file has its layout),
        with their camera frames."""
        keep = None if episodes is None else frozenset(int(e) for e in episodes)
        for rel in _of(files):
            with root.open_read(rel) as source, _open(source) as f:
                rows = _rows(f, rel)
                row_of = {int(e): k for k, e in enumerate(rows["episode"])}
                points = list(f["points"]) if "points" in f else []
                for part in _runs(f, rows, keep):
                    for record in _read(f, part, points, labels=True, contacts=True):
                        yield with_frames(record, read_frames(f, row_of[record.index]) if layout.cameras else {})

    def transitions(self, root: Location, files: list[str]) -> pa.Table:
        return pa.concat_tables([t for p in self.pieces(root, files) for t in self.read_piece(root, p)])

    def episodes(self, root: Location, files: list[str]) -> pa.Table:
        """Straight from each shard's `/episodes` table."""
        tables = []
        for rel in _of(files):
            with root.open_read(rel) as source, _open(source) as f:
                shard, rows = int(f.attrs["shard"]), _rows(f, rel)
            values = {}
            for field in rows.dtype.names or ():
                kind, name = hdf5_split(field)
                if kind:
                    values[param_column(name) if kind == PARAM else name] = rows[field]
            index = rows["point_index"] if "point_index" in (rows.dtype.names or ()) else None
            tables.append(episode_columns(rows["episode"], shard, rows["transitions"], values, index))
        return pa.concat_tables(tables)

    def contacts(self, root: Location, files: list[str]) -> pa.Table:
        layout = self.layout(root, files)
        parts = []
        for rel in _of(files):
            with root.open_read(rel) as source, _open(source) as f:
                _rows(f, rel)
                c = f["contacts"][()]
            parts.append(contact_rows(c["episode"], Contacts(*(np.ascontiguousarray(c[n]) for n in Contacts.COLUMNS)),
                                      layout))
        return pa.concat_tables(parts)

    def pieces(self, root: Location, files: list[str]) -> list[Piece]:
        """Runs of consecutive episodes of about PIECE_BYTES in memory (a size budget only: how a file is
        cut into pieces changes what a piece holds, not its data)."""
        pieces = []
        for rel in _of(files):
            with root.open_read(rel) as source, _open(source) as f:
                runs = _runs(f, _rows(f, rel))
            pieces += [Piece(rel, k, tuple(int(e) for e in run["episode"])) for k, run in enumerate(runs)]
        return pieces

    def read_piece(self, root: Location, piece: Piece, columns: Sequence[str] | None = None,
                   batch_rows: int = 8192) -> Iterator[pa.Table]:
        """Reads only the rows of the piece's episodes, and of the arrays `columns` need: states and
        actions, and point fields or step labels when asked."""
        wanted = set(columns) if columns is not None else None
        with root.open_read(piece.file) as source, _open(source) as f:
            layout = Layout.from_dict(json.loads(f.attrs["layout"]))
            points = [k for k in layout.points if wanted is None or {k, next_column(k)} & wanted]
            fixed = fixed_transition_columns(points)
            labels = wanted is None or bool(wanted - fixed)
            rows = _rows(f, piece.file)
            rows = rows[np.isin(rows["episode"], np.asarray(piece.episodes, np.int64))]
            records = _read(f, rows, points, labels, contacts=False)
        table = transitions_table(records, layout, columns)
        for start in range(0, table.num_rows, batch_rows):
            yield table.slice(start, batch_rows)

    def column(self, root: Location, files: list[str], table: str, name: str) -> pa.ChunkedArray:
        """Transitions piece by piece, contacts and episodes from their tables."""
        if table == "transitions":
            return chained([t[name] for p in self.pieces(root, files) for t in self.read_piece(root, p, [name])])
        if table == "episodes":
            return self.episodes(root, files)[name]
        return self.contacts(root, files)[name]

    @staticmethod
    def layout(root: Location, files: list[str]) -> Layout:
        with root.open_read(_of(files)[0]) as source, _open(source) as f:
            return Layout.from_dict(json.loads(f.attrs["layout"]))


def _of(files: list[str]) -> list[str]:
    """The HDF5 shard files, in shard order."""
    return sorted(f for f in files if f.startswith("hdf5/"))


def _open(source) -> h5py.File:
    return h5py.File(source, "r", rdcc_nbytes=READ_CACHE)


def _rows(f: h5py.File, rel: str) -> np.ndarray:
    """The shard's `/episodes` table, checked against the datasets its offsets point into."""
    rows = f["episodes"][()]
    expect = {"states": int((rows["transitions"] + 1).sum()), "actions": int(rows["transitions"].sum()),
              "step_labels": int(rows["transitions"].sum()), "contacts": int(rows["contacts"].sum())}
    expect |= {f"points/{k}": expect["states"] for k in f.get("points", ())}
    for name, n in expect.items():
        have = len(f[name]) if name in f else None
        if have != n:
            raise StorageError(f"{rel}: /{name} has {'no' if have is None else have} rows, its /episodes table "
                               f"says {n}")
    for count, offset in (("transitions", "transitions_offset"), ("contacts", "contacts_offset")):
        if not np.array_equal(rows[offset], _starts(rows[count])):
            raise StorageError(f"{rel}: /episodes {offset} do not follow from its {count}")
    if not np.array_equal(rows["states_offset"], _starts(rows["transitions"] + 1)):
        raise StorageError(f"{rel}: /episodes states_offset do not follow from its transitions")
    return rows


def _sizes(f: h5py.File, rows: np.ndarray) -> np.ndarray:
    """What reading each episode's states, actions and points costs in memory: what sizes a piece."""
    def width(a: h5py.Dataset) -> int:
        return int(np.prod(a.shape[1:], dtype=np.int64)) * a.dtype.itemsize

    per_state = sum(width(a) for a in [f["states"], *(f["points"].values() if "points" in f else ())])
    return (rows["transitions"] + 1) * per_state + rows["transitions"] * width(f["actions"])


def _runs(f: h5py.File, rows: np.ndarray, keep: frozenset[int] | None = None) -> list[np.ndarray]:
    """`rows` (those in `keep`) cut into runs of consecutive episodes of about PIECE_BYTES (at least one each)."""
    if keep is not None:
        rows = rows[np.isin(rows["episode"], np.fromiter(keep, np.int64, len(keep)))]
    runs, start, size = [], 0, 0
    for k, n in enumerate(_sizes(f, rows)):
        if size and size + n > PIECE_BYTES:
            runs.append(rows[start:k])
            start, size = k, 0
        size += n
    return runs + ([rows[start:]] if len(rows) > start else [])


def _read(f: h5py.File, rows: np.ndarray, points: list[str], labels: bool, contacts: bool) -> list[EpisodeRecord]:
    """The records of `rows` (of file `f`), each dataset read once over the rows they span; parameters,
    labels and contacts only when `contacts` (a whole record), step labels when `labels`."""
    if not len(rows):
        return []
    s0, s1 = _span(rows["states_offset"], rows["transitions"] + 1)
    t0, t1 = _span(rows["transitions_offset"], rows["transitions"])
    states, actions = f["states"][s0:s1], f["actions"][t0:t1]
    point_arrays = {k: f["points"][k][s0:s1] for k in points}
    step = f["step_labels"][t0:t1] if labels else None
    if contacts:
        c0, c1 = _span(rows["contacts_offset"], rows["contacts"])
        contact_data = f["contacts"][c0:c1]
    names = rows.dtype.names or ()
    fields = [(*hdf5_split(k), k) for k in names]
    out = []
    for row in rows:
        s, t, n = int(row["states_offset"]) - s0, int(row["transitions_offset"]) - t0, int(row["transitions"])
        rollout_points = {k: v[s:s + n + 1] for k, v in point_arrays.items()}
        step_labels = {k: np.ascontiguousarray(step[k][t:t + n])
                       for k in step.dtype.names or ()} if step is not None else {}
        if not contacts:
            out.append(EpisodeRecord(Rollout(int(row["episode"]), states[s:s + n + 1], actions[t:t + n],
                                             Contacts.empty(), rollout_points), {}, step_labels, {}))
            continue
        c = int(row["contacts_offset"]) - c0
        assert contact_data is not None
        mine = contact_data[c:c + int(row["contacts"])]
        index = np.array(row["point_index"]) if "point_index" in names else None
        rollout = Rollout(int(row["episode"]), states[s:s + n + 1], actions[t:t + n],
                          Contacts(*(np.ascontiguousarray(mine[k]) for k in Contacts.COLUMNS)), rollout_points, index)
        params = {name: row[k].item() for kind, name, k in fields if kind == PARAM}
        episode_labels = {name: row[k].item() for kind, name, k in fields if kind == LABEL}
        out.append(EpisodeRecord(rollout, params, step_labels, episode_labels))
    return out


def _span(starts: np.ndarray, lengths: np.ndarray) -> tuple[int, int]:
    """The rows from the first start to the last end."""
    return int(starts.min()), int((starts + lengths).max())
