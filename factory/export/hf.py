"""Hugging Face `datasets`: a DatasetDict saved with `save_to_disk`, opened by `datasets.load_from_disk`.

    transitions   one row per transition: episode, step, t, state, action, next_state (fixed-length
                  float32 lists), RLDS flags, point fields as Array2D (N, 3), per-step labels
    episodes      one row per episode: parameters (`factory.names.param_column`), labels, point_index
    frames        with cameras: one row per camera frame: episode, camera, step (the recorded state it
                  shows), `rgb`, `depth`, `segmentation` as `Image` features (PNG; depth a float32 TIFF,
                  lossless; null where the camera lacks the stream), `visible_pixels` and `bbox`

Shards stream into one Arrow file per split in the scratch folder, which `Dataset.from_file` maps
without loading; `save_to_disk` then writes the final files. The provenance (source manifest
sha256, recipe, engine) is the JSON `description` of each split's DatasetInfo; the source's dataset card
is the export's `README.md` (`factory.export.carry_card`), without `configs`: the Hub reads no
`save_to_disk` folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pyarrow as pa
from datasets.table import table_cast

from factory.contract.rollout import CameraBlock
from factory.export import Progress
from factory.export.source import Block, Source
from factory.names import next_column


def _features(columns: dict[str, pa.DataType]) -> dict[str, object]:
    """HF features of plain Arrow columns (scalars, fixed-size lists): what `datasets` itself infers."""
    return dict(datasets.Features.from_arrow_schema(pa.schema(list(columns.items()))))


def transition_features(source: Source) -> datasets.Features:
    layout = source.layout
    feats: dict[str, object] = {
        "episode": datasets.Value("int64"), "step": datasets.Value("int32"), "t": datasets.Value("float32"),
        "state": datasets.List(datasets.Value("float32"), length=layout.state_size),
        "action": datasets.List(datasets.Value("float32"), length=layout.action_size),
        "next_state": datasets.List(datasets.Value("float32"), length=layout.state_size),
        "is_first": datasets.Value("bool"), "is_last": datasets.Value("bool"), "is_terminal": datasets.Value("bool"),
    }
    for name in layout.points:
        for column in (name, next_column(name)):
            feats[column] = datasets.Array2D(shape=(layout.n_points, 3), dtype="float32")
    feats.update(_features(source.step_labels))
    return datasets.Features(feats)


def episode_features(source: Source) -> datasets.Features:
    feats = {"episode": datasets.Value("int64"), "transitions": datasets.Value("int64")}
    feats.update(_features(source.episode_columns))
    if source.layout.points:
        feats["point_index"] = datasets.List(datasets.Value("int32"))
    return datasets.Features(feats)


def frame_features(source: Source) -> datasets.Features:
    """The frames split's features: the streams any camera records, and its labels if any segments."""
    streams = [s for s in CameraBlock.DTYPES if any(s in c.streams for c in source.layout.cameras)]
    feats = {"episode": datasets.Value("int64"), "camera": datasets.Value("string"), "step": datasets.Value("int32"),
             **{s: datasets.Image() for s in streams}}
    if "segmentation" in streams:
        feats["visible_pixels"] = datasets.List(datasets.Value("int32"))
        feats["bbox"] = datasets.List(datasets.List(datasets.Value("int32"), length=4))
    return datasets.Features(feats)


def frame_rows(source: Source, block: Block, feats: datasets.Features) -> pa.Table:
    """Every camera frame of the block's episodes, images encoded as `datasets` stores them."""
    rows = []
    for ep in block.slices():
        frames = source.frames(block, ep.index)
        for camera in source.layout.cameras:
            arrays = frames[camera.name]
            for i, step in enumerate(camera.steps(ep.stop - ep.start + 1)):
                row = {"episode": ep.index, "camera": camera.name, "step": int(step)}
                row |= {k: arrays[k][i] if k in arrays else None for k in feats if k not in row}
                rows.append(feats.encode_example(row))
    return pa.Table.from_pylist(rows, schema=feats.arrow_schema)


class HFExporter:
    FORMAT = "hf"

    def write(self, source: Source, out: Path, scratch: Path, progress: Progress) -> list[str]:
        feats = {"transitions": transition_features(source), "episodes": episode_features(source)}
        if source.layout.cameras:
            feats["frames"] = frame_features(source)
        files = {split: scratch / f"{split}.arrow" for split in feats}
        writers = {split: pa.ipc.new_stream(str(files[split]), f.arrow_schema)
                   for split, f in feats.items()}
        try:
            for block in source.blocks():
                t = block.transitions.select(list(feats["transitions"]))
                writers["transitions"].write_table(table_cast(t, feats["transitions"].arrow_schema))
                e = block.episodes.select([c for c in feats["episodes"] if c in block.episodes.column_names])
                writers["episodes"].write_table(table_cast(e, feats["episodes"].arrow_schema))
                if "frames" in feats:
                    writers["frames"].write_table(frame_rows(source, block, feats["frames"]))
                progress(len(block))
        finally:
            for w in writers.values():
                w.close()
        description = json.dumps({"physics_data_factory": source.provenance}, default=str)
        splits = {split: datasets.Dataset.from_file(str(files[split]), info=datasets.DatasetInfo(
            description=description, features=f, dataset_name=source.name)) for split, f in feats.items()}
        bars = datasets.is_progress_bar_enabled()
        datasets.disable_progress_bars()  # the export has its own bar
        try:
            datasets.DatasetDict(splits).save_to_disk(str(out))
        finally:
            if bars:
                datasets.enable_progress_bars()
        return ["dataset_dict.json"]

