"""WebDataset: tar shards read by `webdataset.WebDataset(urls).decode()`, one sample per transition.

    shard-00000.tar       one tar per source shard; sample key `e000017_s0003` (episode, step: no dot,
                          which would split the sample), members
                            state.npy, action.npy, next_state.npy    float32 vectors
                            <point>.npy, next_<point>.npy            float32 (N, 3), fluid and cloth
                            json                                     episode, step, t, RLDS flags,
                                                                     per-step labels, and the episode's
                                                                     `params` and `labels`
                            <camera>.rgb.png                         with cameras, on a transition whose
                            <camera>.<depth|segmentation>.npy        state has a frame: the frame (lossless)
                            <camera>.<visible_pixels|bbox>.npy       and its labels
    dataset.json          provenance, features, shard list and counts (WebDataset has no metadata of
                          its own; written last to a URL)
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from factory.export import Progress
from factory.export.source import Block, EpisodeSlice, Source, plain
from factory.names import next_column

FLAGS = ("is_first", "is_last", "is_terminal")


def sample_key(episode: int, step: int) -> str:
    return f"e{episode:06d}_s{step:04d}"


def npy_rows(values: np.ndarray) -> list[bytes]:
    """Each row of `values` as the bytes of a .npy file: the header is the same for every row."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(values[0]), allow_pickle=False)
    header = buf.getvalue()[:-values[0].nbytes]
    rows = np.ascontiguousarray(values)
    return [header + rows[i].tobytes() for i in range(len(rows))]


def _samples(block: Block, source: Source):
    """(key, {member suffix: bytes}) for each transition of the block."""
    arrays = {name: block.matrix(name) for name in ("state", "action", "next_state")}
    for name in source.layout.points:
        arrays[name], arrays[next_column(name)] = block.points(name), block.points(next_column(name))
    encoded = {f"{name}.npy": npy_rows(values) for name, values in arrays.items()}
    scalars = {name: block.column(name) for name in ("step", "t", *FLAGS, *source.step_labels)}
    for ep in block.slices():
        frames = _frame_members(source, block, ep) if source.layout.cameras else {}
        # the episode's part of every sample's json, encoded once: `{"episode": …, step fields…, "params": …}`
        episode = json.dumps({"params": ep.params, "labels": ep.labels}, default=plain)[1:]
        for row in range(ep.start, ep.stop):
            step = json.dumps({"episode": ep.index, **{k: v[row].item() for k, v in scalars.items()}})
            members = {suffix: rows[row] for suffix, rows in encoded.items()}
            members["json"] = f"{step[:-1]}, {episode}".encode()
            members |= frames.get(row - ep.start, {})
            yield sample_key(ep.index, int(scalars["step"][row])), members


def _frame_members(source: Source, block: Block, ep: EpisodeSlice) -> dict[int, dict[str, bytes]]:
    """The frame members of each of the episode's transitions (by step) whose state has a frame."""
    members: dict[int, dict[str, bytes]] = {}
    frames = source.frames(block, ep.index)
    for camera in source.layout.cameras:
        for name, values in frames[camera.name].items():
            rows = [png(v) for v in values] if name == "rgb" else npy_rows(values)
            suffix = f"{camera.name}.{name}.{'png' if name == 'rgb' else 'npy'}"
            for i, step in enumerate(range(0, ep.stop - ep.start, camera.every)):
                members.setdefault(step, {})[suffix] = rows[i]
    return members


def png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="png")
    return buf.getvalue()


def ustar_header(name: str, size: int) -> bytes:
    """A POSIX ustar header for a regular file: mode 644, mtime 0, no owner (the same bytes for the
    same data). Written by hand: `tarfile` spends much more Python per member on it."""
    encoded = name.encode()
    if len(encoded) > 100:
        raise ValueError(f"tar member name over 100 bytes: {name}")
    fields = [encoded.ljust(100, b"\0"), b"0000644\0", b"0000000\0", b"0000000\0", b"%011o\0" % size,
              b"00000000000\0", b" " * 8, b"0", b"\0" * 100, b"ustar\x0000", b"\0" * 32, b"\0" * 32,
              b"0000000\0", b"0000000\0", b"\0" * 155]
    header = b"".join(fields).ljust(512, b"\0")
    checksum = b"%06o\0 " % sum(header)
    return header[:148] + checksum + header[156:]


def write_tar(path: Path, samples) -> None:
    """Every sample's members, in order, as one uncompressed tar."""
    with open(path, "wb") as f:
        for key, members in samples:
            for suffix, data in members.items():
                f.write(ustar_header(f"{key}.{suffix}", len(data)))
                f.write(data)
                f.write(b"\0" * (-len(data) % 512))
        f.write(b"\0" * 1024)  # end of archive: two zero blocks


class WebDatasetExporter:
    FORMAT = "webdataset"

    def write(self, source: Source, out: Path, scratch: Path, progress: Progress) -> list[str]:
        shards: list[dict[str, Any]] = []
        for i, block in enumerate(source.blocks()):
            name = f"shard-{i:05d}.tar"
            write_tar(out / name, _samples(block, source))
            shards.append({"file": name, "samples": len(block)})
            progress(len(block))
        meta = {"physics_data_factory": source.provenance, "shards": shards,
                "samples": sum(s["samples"] for s in shards), "key": "e{episode:06d}_s{step:04d}"}
        (out / "dataset.json").write_text(json.dumps(meta, indent=1, default=str))
        return ["dataset.json"]
