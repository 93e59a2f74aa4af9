"""HDF5 shards: one group per episode, Minari-style, with T+1 states and T actions.

    /episodes                       (E,) compound: one row per episode of the shard, fields
                                    `episode`, `param.<name>`..., `label.<name>`...
    /episode_000017/states          (T+1, S) float32
    /episode_000017/actions         (T, A)   float32
    /episode_000017/step_labels     (T,) compound, a field per step label
    /episode_000017/contacts        (n,) compound: step, body_a, body_b, position (3), normal (3),
                                    force_on_a (3), penetration
    /episode_000017/points/*        (T+1, N, 3) per point field, for fluid and cloth

    /episode_000017 attrs["episode"] its `/episodes` row (parameters and labels), one compound attribute

HDF5 pays ~50-80 µs per object and per attribute, so an episode is a handful of objects (a
256-episode shard with 88 attributes and 11 datasets per episode took 2.9 s, ~0.4 s as five):
parameters and labels are one compound row (in the shard's table and as the group's attribute),
contacts and step labels one compound dataset each. Every dataset is one gzip chunk (shuffle,
level 1): recorded states shrink ~2.5x; random floats, as in the write benchmark, do not.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa

from factory.errors import StorageError
from factory.rollout import Contacts, EpisodeRecord, Layout, Rollout
from factory.storage.base import (
    TRANSITION_COLUMNS,
    Piece,
    chained,
    contact_rows,
    contacts_table,
    episodes_table,
    shard_name,
    transitions_table,
)
from factory.storage.location import Location, atomic_path
from factory.storage.records import check_records

_COMPRESSION = {"compression": "gzip", "compression_opts": 1, "shuffle": True}
PIECE_BYTES = 16 << 20  # what one streamed piece (consecutive episode groups) holds in memory, about


def _dataset(group: h5py.Group, name: str, data: np.ndarray) -> None:
    """One chunk per dataset, compressed (empty datasets cannot be chunked)."""
    group.create_dataset(name, data=data, **({"chunks": data.shape, **_COMPRESSION} if data.size else {}))


def packed(columns: dict[str, np.ndarray]) -> np.ndarray:
    """Named columns of equal length → one structured array, fields in the dict's order."""
    dtype = np.dtype([(name, values.dtype, values.shape[1:]) for name, values in columns.items()])
    out = np.empty(len(next(iter(columns.values()), ())), dtype)
    for name, values in columns.items():
        out[name] = values
    return out


def episode_rows(records: list[EpisodeRecord]) -> np.ndarray:
    """The `/episodes` table: every record's index, parameters and labels (each record has the same keys)."""
    def values(r: EpisodeRecord) -> dict[str, object]:
        return {"episode": r.index, **{f"param.{k}": v for k, v in r.params.items()},
                **{f"label.{k}": v for k, v in r.episode_labels.items()}}

    rows = [values(r) for r in records]
    try:
        dtype = np.dtype([(name, np.asarray(v).dtype) for name, v in rows[0].items()])
        return np.array([tuple(row[name] for name in dtype.names) for row in rows], dtype)
    except (KeyError, TypeError, ValueError) as exc:
        raise StorageError(f"episodes of one HDF5 shard need the same numeric parameters and labels: {exc}") from exc


class HDF5Format:
    FORMAT = "hdf5"

    def write_shard(self, root: Path, shard: int, records: list[EpisodeRecord], layout: Layout) -> list[Path]:
        check_records(records, layout)
        path = root / "hdf5" / f"{shard_name(shard)}.h5"
        with atomic_path(path) as tmp:
            # no chunk cache: each chunk gets its file space when written, not when the cache lets go of
            # it, which another thread holding frames (dask's profiler) delays; bytes then vary by run
            with h5py.File(tmp, "w", rdcc_nbytes=0) as f:
                f.attrs["layout"] = json.dumps(layout.to_dict())
                f.attrs["state_names"] = json.dumps(layout.state_names)
                f.attrs["action_names"] = json.dumps(layout.action_names)
                f.attrs["shard"] = shard
                rows = episode_rows(records)
                f.create_dataset("episodes", data=rows)
                for record, row in zip(records, rows):
                    self._write_episode(f, record, row)
        return [path.relative_to(root)]

    @staticmethod
    def _write_episode(f: h5py.File, record: EpisodeRecord, row: np.void) -> None:
        r = record.rollout
        g = f.create_group(f"episode_{r.index:06d}")
        g.attrs["episode"] = row  # its parameters and labels beside its arrays: one compound attribute
        _dataset(g, "states", r.states.astype(np.float32, copy=False))
        _dataset(g, "actions", r.actions.astype(np.float32, copy=False))
        _dataset(g, "step_labels", packed(record.step_labels))
        _dataset(g, "contacts", packed({name: getattr(r.contacts, name) for name in Contacts.COLUMNS}))
        if r.points:
            points = g.create_group("points", track_order=True)
            for name, values in r.points.items():
                _dataset(points, name, values.astype(np.float32, copy=False))
            points.attrs["index"] = r.point_index.astype(np.int32)

    # ------------------------------------------------------------ reading
    def records(self, root: Location, files: list[str], layout: Layout,
                episodes: Iterable[int] | None = None) -> Iterator[EpisodeRecord]:
        """Episode groups back as records, one at a time, in storage order (each file has its layout)."""
        keep = None if episodes is None else frozenset(int(e) for e in episodes)
        for _, record in self._shard_records(root, files, keep):
            yield record

    def _shard_records(self, root: Location, files: list[str],
                       keep: frozenset[int] | None = None) -> Iterator[tuple[int, EpisodeRecord]]:
        """(shard, record) for every episode (in `keep`) of every shard, in storage order."""
        for rel in _of(files):
            with root.open_read(rel) as source, h5py.File(source, "r") as f:
                shard, rows = int(f.attrs["shard"]), _rows(f, rel)
                for row in rows:
                    if keep is None or int(row["episode"]) in keep:
                        yield shard, _read_episode(f[_group(row["episode"])], row)

    def transitions(self, root: Location, files: list[str]) -> pa.Table:
        layout = self.layout(root, files)
        return transitions_table([r for _, r in self._shard_records(root, files)], layout)

    def episodes(self, root: Location, files: list[str]) -> pa.Table:
        by_shard: dict[int, list[EpisodeRecord]] = {}
        for shard, record in self._shard_records(root, files):
            by_shard.setdefault(shard, []).append(record)
        return pa.concat_tables([episodes_table(records, shard) for shard, records in sorted(by_shard.items())])

    def contacts(self, root: Location, files: list[str]) -> pa.Table:
        layout = self.layout(root, files)
        return contacts_table([r for _, r in self._shard_records(root, files)], layout)

    def pieces(self, root: Location, files: list[str]) -> list[Piece]:
        """Runs of consecutive episode groups of about PIECE_BYTES, sized from the file's first
        group (a size budget only: episodes of other lengths change a piece's size, not its data)."""
        pieces = []
        for rel in _of(files):
            with root.open_read(rel) as source, h5py.File(source, "r") as f:
                episodes = [int(e) for e in _rows(f, rel)["episode"]]
                per_episode = _episode_bytes(f[_group(episodes[0])]) if episodes else 1
            n = max(1, PIECE_BYTES // max(per_episode, 1))
            pieces += [Piece(rel, k, tuple(episodes[i:i + n])) for k, i in enumerate(range(0, len(episodes), n))]
        return pieces

    def read_piece(self, root: Location, piece: Piece, columns: Sequence[str] | None = None,
                   batch_rows: int = 8192) -> Iterator[pa.Table]:
        """Reads only the arrays `columns` need: states and actions, and point fields or step labels when asked."""
        wanted = set(columns) if columns is not None else None
        with root.open_read(piece.file) as source, h5py.File(source, "r") as f:
            layout = Layout.from_dict(json.loads(f.attrs["layout"]))
            points = [k for k in layout.points if wanted is None or {k, f"next_{k}"} & wanted]
            fixed = set(TRANSITION_COLUMNS) | set(points) | {f"next_{k}" for k in points}
            labels = wanted is None or bool(wanted - fixed)
            records = [_arrays(f[_group(e)], e, points, labels) for e in piece.episodes]
        table = transitions_table(records, layout, columns)
        for start in range(0, table.num_rows, batch_rows):
            yield table.slice(start, batch_rows)

    def column(self, root: Location, files: list[str], table: str, name: str) -> pa.ChunkedArray:
        """Transitions piece by piece, contacts straight from each group's contacts, episodes from their table."""
        if table == "transitions":
            return chained([t[name] for p in self.pieces(root, files) for t in self.read_piece(root, p, [name])])
        if table == "episodes":
            return self.episodes(root, files)[name]
        layout = self.layout(root, files)
        parts = []
        for rel in _of(files):
            with root.open_read(rel) as source, h5py.File(source, "r") as f:
                episodes = [int(e) for e in _rows(f, rel)["episode"]]
                contacts = [_contacts(f[_group(e)]) for e in episodes]
            parts.append(contact_rows(episodes, contacts, layout)[name])
        return chained(parts)

    @staticmethod
    def layout(root: Location, files: list[str]) -> Layout:
        with root.open_read(_of(files)[0]) as source, h5py.File(source, "r") as f:
            return Layout.from_dict(json.loads(f.attrs["layout"]))


def _of(files: list[str]) -> list[str]:
    """The HDF5 shard files, in shard order."""
    return sorted(f for f in files if f.startswith("hdf5/"))


def _group(episode: int) -> str:
    return f"episode_{int(episode):06d}"


def _rows(f: h5py.File, rel: str) -> np.ndarray:
    """The shard's `/episodes` table, in episode order, checked against its groups."""
    rows = np.sort(f["episodes"][()], order="episode")
    groups = {k for k in f if k.startswith("episode_")}
    if groups != {_group(i) for i in rows["episode"]}:
        raise StorageError(f"{rel}: episode groups {sorted(groups)[:5]}… do not match its /episodes table")
    return rows


def _episode_bytes(g: h5py.Group) -> int:
    """What reading one episode group's states, actions and points costs in memory."""
    arrays = [g["states"], g["actions"], *(g["points"].values() if "points" in g else ())]
    return sum(a.size * a.dtype.itemsize for a in arrays)


def _arrays(g: h5py.Group, episode: int, points: list[str], labels: bool) -> EpisodeRecord:
    """An episode's states and actions, with only the point fields and (when asked) step labels wanted."""
    step = g["step_labels"][()] if labels else None
    rollout = Rollout(episode, g["states"][()], g["actions"][()], Contacts.empty(),
                      {k: g["points"][k][()] for k in points})
    return EpisodeRecord(rollout, {}, {n: np.ascontiguousarray(step[n]) for n in step.dtype.names}
                         if step is not None else {}, {})


def _contacts(g: h5py.Group) -> Contacts:
    c = g["contacts"][()]
    return Contacts(*(np.ascontiguousarray(c[name]) for name in Contacts.COLUMNS))


def _read_episode(g: h5py.Group, row: np.void) -> EpisodeRecord:
    """An episode group and its `/episodes` row back as the record that was written."""
    contacts = _contacts(g)
    points = {k: g["points"][k][()] for k in g["points"]} if "points" in g else {}
    index = g["points"].attrs["index"] if "points" in g else None
    rollout = Rollout(int(row["episode"]), g["states"][()], g["actions"][()], contacts, points, index)
    fields = {name: row[name].item() for name in row.dtype.names}
    params = {k.removeprefix("param."): v for k, v in fields.items() if k.startswith("param.")}
    labels = {k.removeprefix("label."): v for k, v in fields.items() if k.startswith("label.")}
    step = g["step_labels"][()]
    step_labels = {name: np.ascontiguousarray(step[name]) for name in step.dtype.names}
    return EpisodeRecord(rollout, params, step_labels, labels)
