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
from pathlib import Path

import numpy as np
import webdataset

from factory.export import Progress
from factory.export.source import Block, Source

FLAGS = ("is_first", "is_last", "is_terminal")


def sample_key(episode: int, step: int) -> str:
    return f"e{episode:06d}_s{step:04d}"


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _samples(block: Block, source: Source):
    arrays = {"state": block.matrix("state"), "action": block.matrix("action"), "next_state": block.matrix("next_state")}
    for name in source.layout.points:
        arrays[name], arrays[f"next_{name}"] = block.points(name), block.points(f"next_{name}")
    scalars = {name: block.column(name) for name in ("step", "t", *FLAGS, *source.step_labels)}
    for ep in block.slices():
        episode = {"params": ep.params, "labels": ep.labels}
        for row in range(ep.start, ep.stop):
            info = {"episode": ep.index, **{k: v[row].item() for k, v in scalars.items()}, **episode}
            sample = {"__key__": sample_key(ep.index, int(scalars["step"][row]))}
            sample.update({f"{name}.npy": _npy(values[row]) for name, values in arrays.items()})
            sample["json"] = json.dumps(info, default=_plain).encode()
            yield sample


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
            with webdataset.TarWriter(str(out / name), encoder=False) as sink:
                for sample in _samples(block, source):
                    sink.write(sample)
            shards.append({"file": name, "samples": len(block)})
            progress(len(block))
        meta = {"physics_data_factory": source.provenance, "shards": shards,
                "samples": sum(s["samples"] for s in shards), "key": "e{episode:06d}_s{step:04d}"}
        (out / "dataset.json").write_text(json.dumps(meta, indent=1, default=str))
        return ["dataset.json"]
