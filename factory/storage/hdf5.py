"""HDF5 shards: one group per episode, Minari-style, with T+1 states and T actions.

    /episode_000017/states          (T+1, S) float32
    /episode_000017/actions         (T, A)   float32
    /episode_000017/step_labels/*   (T,)
    /episode_000017/contacts/*      one dataset per contact column
    /episode_000017/points/*        (T+1, N, 3) per point field, for fluid and cloth
    /episode_000017 attrs           params as `param.<name>`, labels as `label.<name>`

Datasets are chunked per episode and gzip-compressed with shuffle, which every h5py opens (level 1: as small as level 4 on this data, faster).
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa

from factory.location import Location
from factory.rollout import Contacts, EpisodeRecord, Layout, Rollout
from factory.storage.base import atomic_path, contacts_table, episodes_table, shard_name, transitions_table

_COMPRESSION = {"compression": "gzip", "compression_opts": 1, "shuffle": True}


def _dataset(group: h5py.Group, name: str, data: np.ndarray) -> None:
    if data.size == 0:
        group.create_dataset(name, data=data)
        return
    group.create_dataset(name, data=data, chunks=data.shape, **_COMPRESSION)


class HDF5Format:
    FORMAT = "hdf5"

    def write_shard(self, root: Path, shard: int, records: list[EpisodeRecord], layout: Layout) -> list[Path]:
        path = root / "hdf5" / f"{shard_name(shard)}.h5"
        with atomic_path(path) as tmp:
            # no chunk cache: each chunk gets its file space when written, not when the cache lets go of
            # it, which another thread holding frames (dask's profiler) delays; bytes then vary by run
            with h5py.File(tmp, "w", rdcc_nbytes=0) as f:
                f.attrs["layout"] = json.dumps(layout.to_dict())
                f.attrs["state_names"] = json.dumps(layout.state_names)
                f.attrs["action_names"] = json.dumps(layout.action_names)
                f.attrs["shard"] = shard
                for record in records:
                    self._write_episode(f, record)
        return [path.relative_to(root)]

    @staticmethod
    def _write_episode(f: h5py.File, record: EpisodeRecord) -> None:
        r = record.rollout
        g = f.create_group(f"episode_{r.index:06d}", track_order=True)  # attrs keep column order
        g.attrs["episode"] = r.index
        _dataset(g, "states", r.states.astype(np.float32))
        _dataset(g, "actions", r.actions.astype(np.float32))
        labels = g.create_group("step_labels", track_order=True)
        for name, values in record.step_labels.items():
            _dataset(labels, name, values)
        if r.points:
            points = g.create_group("points", track_order=True)
            for name, values in r.points.items():
                _dataset(points, name, values.astype(np.float32))
            points.attrs["index"] = r.point_index.astype(np.int32)
        contacts = g.create_group("contacts")
        for name in Contacts.COLUMNS:
            _dataset(contacts, name, getattr(r.contacts, name))
        for k, v in record.params.items():
            g.attrs[f"param.{k}"] = v
        for k, v in record.episode_labels.items():
            g.attrs[f"label.{k}"] = v

    # ------------------------------------------------------------ reading
    def records(self, root: Location, files: list[str]) -> list[tuple[int, EpisodeRecord]]:
        """Every episode of every shard, as (shard, record), in episode order."""
        out = []
        for rel in sorted(f for f in files if f.startswith("hdf5/")):
            with root.open_read(rel) as source, h5py.File(source, "r") as f:
                shard = int(f.attrs["shard"])
                for name in sorted(k for k in f if k.startswith("episode_")):
                    out.append((shard, _read_episode(f[name])))
        return sorted(out, key=lambda sr: sr[1].index)

    def transitions(self, root: Location, files: list[str]) -> pa.Table:
        layout = self.layout(root, files)
        return transitions_table([r for _, r in self.records(root, files)], layout)

    def episodes(self, root: Location, files: list[str]) -> pa.Table:
        by_shard: dict[int, list[EpisodeRecord]] = {}
        for shard, record in self.records(root, files):
            by_shard.setdefault(shard, []).append(record)
        return pa.concat_tables([episodes_table(records, shard) for shard, records in sorted(by_shard.items())])

    def contacts(self, root: Location, files: list[str]) -> pa.Table:
        layout = self.layout(root, files)
        return contacts_table([r for _, r in self.records(root, files)], layout)

    @staticmethod
    def layout(root: Location, files: list[str]) -> Layout:
        first = sorted(f for f in files if f.startswith("hdf5/"))[0]
        with root.open_read(first) as source, h5py.File(source, "r") as f:
            return Layout.from_dict(json.loads(f.attrs["layout"]))


def _attr(value):
    return value.item() if isinstance(value, np.generic) else value


def _read_episode(g: h5py.Group) -> EpisodeRecord:
    contacts = Contacts(*(g["contacts"][c][()] for c in Contacts.COLUMNS))
    points = {k: g["points"][k][()] for k in g["points"]} if "points" in g else {}
    index = g["points"].attrs["index"] if "points" in g else None
    rollout = Rollout(int(g.attrs["episode"]), g["states"][()], g["actions"][()], contacts, points, index)
    params = {k.removeprefix("param."): _attr(v) for k, v in g.attrs.items() if k.startswith("param.")}
    labels = {k.removeprefix("label."): _attr(v) for k, v in g.attrs.items() if k.startswith("label.")}
    step_labels = {k: g["step_labels"][k][()] for k in g["step_labels"]}
    return EpisodeRecord(rollout, params, step_labels, labels)
