"""WebDataset: tar shards read by `webdataset.WebDataset(urls).decode()`, one sample per transition.

    shard-00000.tar       one tar per source shard; sample key `e000017_s0003` (episode, step: no dot,
                          which would split the sample), members
                            state.npy, action.npy, next_state.npy    float32 vectors
                            <point>.npy, next_<point>.npy            float32 (N, 3), fluid and cloth
                            json                                     episode, step, t, RLDS flags,
                                                                     per-step labels, and the episode's
                                                                     `params` and `labels`
    dataset.json          provenance, features, shard list and counts (WebDataset has no metadata of
                          its own; written last to a URL)
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np

from factory.export import Progress
from factory.export.source import Block, Source

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
    arrays = {"state": block.matrix("state"), "action": block.matrix("action"), "next_state": block.matrix("next_state")}
    for name in source.layout.points:
        arrays[name], arrays[f"next_{name}"] = block.points(name), block.points(f"next_{name}")
    encoded = {f"{name}.npy": npy_rows(values) for name, values in arrays.items()}
    scalars = {name: block.column(name) for name in ("step", "t", *FLAGS, *source.step_labels)}
    for ep in block.slices():
        episode = {"params": ep.params, "labels": ep.labels}
        for row in range(ep.start, ep.stop):
            info = {"episode": ep.index, **{k: v[row].item() for k, v in scalars.items()}, **episode}
            members = {suffix: rows[row] for suffix, rows in encoded.items()}
            members["json"] = json.dumps(info, default=_plain).encode()
            yield sample_key(ep.index, int(scalars["step"][row])), members


def write_tar(path: Path, samples) -> None:
    """Plain ustar members, mtime 0 and no owner: the same bytes for the same data."""
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for key, members in samples:
            for suffix, data in members.items():
                info = tarfile.TarInfo(f"{key}.{suffix}")
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))


def _plain(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class WebDatasetExporter:
    FORMAT = "webdataset"

    def write(self, source: Source, out: Path, scratch: Path, progress: Progress) -> list[str]:
        shards = []
        for i, block in enumerate(source.blocks()):
            name = f"shard-{i:05d}.tar"
            write_tar(out / name, _samples(block, source))
            shards.append({"file": name, "samples": len(block)})
            progress(len(block))
        meta = {"physics_data_factory": source.provenance, "shards": shards,
                "samples": sum(s["samples"] for s in shards), "key": "e{episode:06d}_s{step:04d}"}
        (out / "dataset.json").write_text(json.dumps(meta, indent=1, default=str))
        return ["dataset.json"]
