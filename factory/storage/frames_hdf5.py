"""Camera frames inside an HDF5 shard, beside its states.

    /frames/<camera>/offset          (E+1,) int64: the episode in row k of /episodes has frames
                                     offset[k]:offset[k+1]
    /frames/<camera>/rgb             (ΣF, H, W, 3) uint8
    /frames/<camera>/depth           (ΣF, H, W) float32, metres along the optical axis
    /frames/<camera>/segmentation    (ΣF, H, W) uint8, index into the layout's bodies + 1, 0 for none
    /frames/<camera>/visible_pixels  (ΣF, B) int32 and /frames/<camera>/bbox (ΣF, B, 4) int32, with
                                     segmentation: `factory.labels.pixels`

One chunk per frame (gzip level 1), so reading an episode inflates only its own frames.
"""

from __future__ import annotations

import h5py
import numpy as np

from factory.contract.rollout import EpisodeRecord, Layout

_COMPRESSION = {"compression": "gzip", "compression_opts": 1}


def write_frames(f: h5py.File, records: list[EpisodeRecord], layout: Layout) -> None:
    """Every camera's frames and frame labels of the shard's records, in their storage order."""
    group = f.create_group("frames", track_order=True)
    for camera in layout.cameras:
        g = group.create_group(camera.name, track_order=True)
        arrays = {s: [r.rollout.frames[camera.name][s] for r in records] for s in camera.streams}
        arrays |= {k: [r.frame_labels[camera.name][k] for r in records]
                   for k in (records[0].frame_labels.get(camera.name, {}) if records else {})}
        counts = [len(a) for a in next(iter(arrays.values()))]
        g.create_dataset("offset", data=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
        for name, parts in arrays.items():
            data = np.concatenate(parts)
            chunks = (1, *data.shape[1:]) if len(data) else None
            g.create_dataset(name, data=data, chunks=chunks, **(_COMPRESSION if chunks else {}))


def read_frames(f: h5py.File, row: int) -> dict[str, dict[str, np.ndarray]]:
    """The frames (and frame labels) of the episode in row `row` of the shard's /episodes table."""
    out = {}
    for camera, g in f.get("frames", {}).items():
        start, stop = (int(v) for v in g["offset"][row:row + 2])
        out[camera] = {name: g[name][start:stop] for name in g if name != "offset"}
    return out
