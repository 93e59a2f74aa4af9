"""A `replay` policy's file: actions a user recorded, one Parquet row per transition.

The file has an episode column and one float column per action name of the robot (`arm.joint1.target`,
…, `arm.gripper`, as a dataset of the same recipe names them), optionally a `step` column ordering the
rows of an episode. Read once per process and kept by the file's path and modification time, so a
recipe check, the sampler and the engine share one read.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from factory.errors import FactoryError, did_you_mean

STEP = "step"


class ReplayFileError(FactoryError, ValueError):
    """A replay file that cannot be read or does not fit the robot: at load, a recipe problem with its line;
    later (a replay of a stored dataset without the file), one plain error line."""


@dataclass(frozen=True)
class ReplayActions:
    episodes: tuple[int, ...]  # the file's episode ids, ascending
    actions: dict[int, np.ndarray]  # episode id → (rows, n_actions) float64, in the robot's action order


def read_replay(file: str, names: tuple[str, ...], episode_column: str) -> ReplayActions:
    """The file's actions by episode; raise `ReplayFileError` saying what does not fit."""
    path = Path(file)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise ReplayFileError(f"cannot read {file}: {exc.strerror}") from None
    return _read(path.resolve(), stamp, names, episode_column)


@lru_cache(maxsize=8)
def _read(path: Path, _stamp: int, names: tuple[str, ...], episode_column: str) -> ReplayActions:
    import pyarrow.parquet as pq  # only replay recipes need it

    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise ReplayFileError(f"{path}: not a readable Parquet file ({exc})") from None
    columns = table.column_names
    wanted = [episode_column, *names]
    missing = [c for c in wanted if c not in columns]
    if missing:
        hints = "".join(did_you_mean(c, columns) for c in missing[:1])
        raise ReplayFileError(f"{path}: no column {', '.join(repr(c) for c in missing)}{hints}; it needs "
                              f"'{episode_column}' and one column per action: {', '.join(names)}")
    prefixes = {n.split(".")[0] + "." for n in names}
    stray = [c for c in columns if c.startswith(tuple(prefixes)) and c not in names]
    if stray:
        raise ReplayFileError(f"{path}: columns {', '.join(stray)} are not actions of this robot (another action "
                              f"space?); its actions: {', '.join(names)}")
    episode = table.column(episode_column).to_numpy()
    values = np.stack([table.column(n).to_numpy().astype(np.float64) for n in names], axis=-1)
    if not np.isfinite(values).all():
        raise ReplayFileError(f"{path}: actions must be finite numbers (found NaN or infinity)")
    order = np.lexsort((table.column(STEP).to_numpy(), episode) if STEP in columns else (episode,))
    episode, values = episode[order], values[order]
    ids, starts = np.unique(episode, return_index=True)
    ends = [*starts[1:], len(episode)]
    return ReplayActions(tuple(int(i) for i in ids),
                         {int(i): values[a:b] for i, a, b in zip(ids, starts, ends, strict=True)})


def check_replay(file: str, names: tuple[str, ...], episode_column: str, transitions: int) -> None:
    """Raise `ReplayFileError` unless the file holds at least one episode and every episode has one row per
    transition of the recipe's episodes."""
    replay = read_replay(file, names, episode_column)
    if not replay.episodes:
        raise ReplayFileError(f"{file}: holds no rows")
    for episode, rows in replay.actions.items():
        if len(rows) != transitions:
            raise ReplayFileError(f"{file}: episode {episode} has {len(rows)} rows; an episode of this recipe "
                                  f"records {transitions} transitions (steps / outputs.record_every)")
