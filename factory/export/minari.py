"""Minari: a dataset root for `MINARI_DATASETS_PATH=DIR minari.load_dataset("factory/NAME-v0")`.

Each source episode becomes one Minari episode: observations are the T+1 states (a Dict space:
`state` and, for fluid and cloth, each point field as a (N, 3) Box), actions the T actions,
rewards 0, terminations the source's `is_terminal`, truncation on the last step (episodes end at
the recipe's step count). Per-step labels are the episode's `infos` (T values each); parameters,
episode labels (each a JSON object) and the source index are the episode's metadata
(`dataset.storage.get_episode_metadata` → `options`). The provenance is the dataset's
`metadata.json` → `physics_data_factory`.

Minari writes `metadata.json` in place on every update; the export stays atomic because the
whole root is written in a hidden folder and renamed (`factory.export.staging`).
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import minari
import numpy as np
from minari.data_collector.episode_buffer import EpisodeBuffer

from factory.export import Progress
from factory.export.source import Block, Source, plain
from factory.names import next_column

NAMESPACE = "factory"


def dataset_id(source: Source) -> str:
    return f"{NAMESPACE}/{source.name}-v0"


def observation_space(source: Source) -> gym.spaces.Dict:
    layout = source.layout
    spaces: dict[str, gym.spaces.Space] = {"state": gym.spaces.Box(-np.inf, np.inf, (layout.state_size,), np.float32)}
    spaces.update({name: gym.spaces.Box(-np.inf, np.inf, (layout.n_points, 3), np.float32) for name in layout.points})
    return gym.spaces.Dict(spaces)


def _buffers(block: Block, source: Source) -> list[EpisodeBuffer]:
    state, next_state, action = block.matrix("state"), block.matrix("next_state"), block.matrix("action")
    points = {name: (block.points(name), block.points(next_column(name))) for name in source.layout.points}
    terminal = block.column("is_terminal")
    labels = {name: block.column(name) for name in source.step_labels}
    out = []
    for ep in block.slices():
        rows = slice(ep.start, ep.stop)
        obs = {"state": np.concatenate([state[rows], next_state[ep.stop - 1:ep.stop]])}
        obs.update({name: np.concatenate([now[rows], later[ep.stop - 1:ep.stop]])
                    for name, (now, later) in points.items()})
        steps = ep.stop - ep.start
        truncated = np.zeros(steps, bool)
        truncated[-1] = not terminal[ep.stop - 1]
        # two JSON attributes, not one per value: HDF5 pays per attribute, and an episode has dozens of values
        options = {"source_episode": ep.index, "params": json.dumps(ep.params, default=plain),
                   "labels": json.dumps(ep.labels, default=plain)}
        if ep.row.get("point_index") is not None:
            options["point_index"] = np.asarray(ep.row["point_index"], np.int32)
        out.append(EpisodeBuffer(observations=obs, actions=action[rows], rewards=np.zeros(steps, np.float32),
                                 terminations=terminal[rows].copy(), truncations=truncated,
                                 infos={k: v[rows] for k, v in labels.items()}, options=options))
    return out


@contextlib.contextmanager
def _datasets_path(root: Path) -> Iterator[None]:
    """Minari finds its root only in MINARI_DATASETS_PATH; set it for the export, restore it after."""
    before = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = before


class MinariExporter:
    FORMAT = "minari"

    def write(self, source: Source, out: Path, scratch: Path, progress: Progress) -> list[str]:
        act = gym.spaces.Box(-np.inf, np.inf, (source.layout.action_size,), np.float32)
        dataset = None
        with _datasets_path(out), warnings.catch_warnings():
            # no environment and no author by design: Minari warns about each
            warnings.filterwarnings("ignore", message=".*(eval_env|env_spec|code_permalink|author)",
                                    category=UserWarning)
            for block in source.blocks():
                buffers = _buffers(block, source)
                if dataset is None:
                    dataset = minari.create_dataset_from_buffers(
                        dataset_id(source), buffers, observation_space=observation_space(source), action_space=act,
                        algorithm_name="physics-data-factory", description=source.manifest["recipe"].get("description"),
                        data_format="hdf5")
                else:
                    dataset.update_dataset_from_buffer(buffers)
                progress(len(block))
            provenance = json.loads(json.dumps(source.provenance, default=str))
            assert dataset is not None  # a source has at least one block
            dataset.storage.update_metadata({"physics_data_factory": provenance})
        return [f"{dataset_id(source)}/data/metadata.json"]
