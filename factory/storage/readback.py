"""Tables read back from any format → the EpisodeRecords a writer takes: what merging rewrites.

The inverse of `base.transitions_table`, `episodes_table` and `contacts_table` for one shard. A
parameter's name comes back from its column (`param__box__pos__x` → `box.pos.x`); names are
dotted paths of recipe fields and object names, which hold no double underscore.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from factory.rollout import Contacts, EpisodeRecord, Layout, Rollout

if TYPE_CHECKING:
    from factory.storage.dataset import Dataset

TRANSITION_COLUMNS = ("episode", "step", "t", "state", "action", "next_state", "is_first", "is_last", "is_terminal")
EPISODE_BOOKKEEPING = ("episode", "shard", "transitions", "transitions_offset", "point_index")


def shard_files(ds: Dataset) -> list[list[str]]:
    """Each shard's files in the dataset's chosen format, in episode order: what one shard's read takes."""
    prefix = f"{ds.format}/"
    return [[f["path"] for f in s["files"] if f["path"].startswith(prefix)]
            for s in sorted(ds.manifest["shards"], key=lambda s: s["episodes"][0])]


def _matrix(arr: pa.Array) -> np.ndarray:
    return arr.flatten().to_numpy(zero_copy_only=False).reshape(len(arr), -1)


def _points(arr: pa.Array) -> np.ndarray:
    return arr.flatten().flatten().to_numpy(zero_copy_only=False).reshape(len(arr), -1, 3)


def _bounds(episode: np.ndarray) -> dict[int, tuple[int, int]]:
    """Rows [start, stop) of each episode in a table sorted by episode."""
    starts = np.flatnonzero(np.r_[True, episode[1:] != episode[:-1]]) if len(episode) else np.zeros(0, int)
    stops = np.r_[starts[1:], len(episode)]
    return {int(episode[a]): (int(a), int(b)) for a, b in zip(starts, stops)}


def records_from_tables(transitions: pa.Table, episodes: pa.Table, contacts: pa.Table,
                        layout: Layout) -> list[EpisodeRecord]:
    """One shard's tables (any order) as records in episode order."""
    t = transitions.sort_by([("episode", "ascending"), ("step", "ascending")]).combine_chunks()
    c = contacts.sort_by([("episode", "ascending"), ("step", "ascending")]).combine_chunks()
    state, next_state, action = (_matrix(t[k].combine_chunks()) for k in ("state", "next_state", "action"))
    points = {p: (_points(t[p].combine_chunks()), _points(t[f"next_{p}"].combine_chunks())) for p in layout.points}
    skip = set(TRANSITION_COLUMNS) | set(layout.points) | {f"next_{p}" for p in layout.points}
    step_labels = {name: t[name].to_numpy() for name in t.column_names if name not in skip}
    rows_of = _bounds(t["episode"].to_numpy())
    contacts_of = _bounds(c["episode"].to_numpy())
    out = []
    for row in sorted(episodes.to_pylist(), key=lambda r: r["episode"]):
        index = int(row["episode"])
        a, b = rows_of[index]
        rollout = Rollout(
            index, np.concatenate([state[a:b], next_state[b - 1:b]]), action[a:b], _contacts(c, *contacts_of.get(index, (0, 0))),
            {p: np.concatenate([now[a:b], later[b - 1:b]]) for p, (now, later) in points.items()},
            None if row.get("point_index") is None else np.asarray(row["point_index"], np.int32))
        params = {k.removeprefix("param__").replace("__", "."): v for k, v in row.items() if k.startswith("param__")}
        labels = {k: v for k, v in row.items() if not k.startswith("param__") and k not in EPISODE_BOOKKEEPING}
        out.append(EpisodeRecord(rollout, params, {k: v[a:b] for k, v in step_labels.items()}, labels))
    return out


def _contacts(c: pa.Table, start: int, stop: int) -> Contacts:
    part = c.slice(start, stop - start)
    if part.num_rows == 0:
        return Contacts.empty()
    body = {k: part[k].combine_chunks().indices.to_numpy().astype(np.int16) for k in ("body_a", "body_b")}
    return Contacts(part["step"].to_numpy().astype(np.int32), body["body_a"], body["body_b"],
                    *(_matrix(part[k].combine_chunks()).astype(np.float32) for k in ("position", "normal", "force_on_a")),
                    part["penetration"].to_numpy().astype(np.float32))
