"""Several datasets of one layout read as one: `open_dataset([A, B])`.

Episodes are numbered across the group: dataset k's episode i becomes `offset_k + i`, where
offset_k adds up the planned episode counts of the datasets before it; `episode_map` maps each
back to (dataset, episode). Nothing is copied; `factory merge` writes the same union as one dataset.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from factory.contract.rollout import Layout
from factory.errors import MergeError
from factory.storage.base import Piece, column_array
from factory.storage.dataset import Dataset, Episode


def layout_of(manifest: dict[str, Any]) -> dict[str, Any]:
    """What datasets must share to be read or merged as one: kind, features, bodies, timing, length."""
    recipe = manifest["recipe"]
    return {
        "kind": recipe.get("kind", "collision"),
        **{name: (f["shape"], f.get("names")) for name, f in manifest["features"].items()},
        "bodies": manifest["layout"]["bodies"],
        "record_dt": manifest["layout"]["record_dt"],
        "transitions per episode": recipe["steps"] // recipe["outputs"]["record_every"],
        "episode parameters": sorted(manifest.get("episode_params", [])),
    }


def check_same_layout(manifests: list[dict[str, Any]], names: list[str]) -> None:
    """Refuse datasets whose layouts differ, naming each differing feature and what each side has."""
    first = layout_of(manifests[0])
    problems = []
    for manifest, name in zip(manifests[1:], names[1:], strict=True):
        other = layout_of(manifest)
        for key in [*first, *(k for k in other if k not in first)]:
            if first.get(key) != other.get(key):
                problems.append(f"{key}: {_describe(first.get(key))} in {names[0]}, "
                                f"{_describe(other.get(key))} in {name}")
    if problems:
        raise MergeError("datasets have different layouts:\n" + "\n".join(f"  - {p}" for p in problems))


def _describe(value: Any) -> str:
    if value is None:
        return "absent"
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], list):  # (shape, names) of a feature
        shape, names = value
        head = f" ({', '.join(names[:3])}, …)" if names else ""
        return f"shape {shape}{head}"
    if isinstance(value, list) and len(value) > 4:
        return f"[{', '.join(map(str, value[:4]))}, … {len(value)} in all]"
    return repr(value)


@dataclass(frozen=True)
class GroupPiece(Piece):
    """A member's piece, its episodes numbered across the group; `member` says whose it is."""

    member: int = 0


class DatasetGroup:
    """Datasets of one layout, read as one dataset with episodes numbered across them."""

    def __init__(self, datasets: list[Dataset]):
        if not datasets:
            raise MergeError("open_dataset([...]) needs at least one dataset")
        check_same_layout([d.manifest for d in datasets], [str(d.location) for d in datasets])
        self.datasets = datasets
        self.layout: Layout = datasets[0].layout
        planned = [d.manifest["counts"]["episodes"] + d.manifest["counts"].get("quarantined", 0) for d in datasets]
        self.offsets = [int(x) for x in np.cumsum([0, *planned[:-1]])]
        self.manifest = datasets[0].manifest  # the first member's: features, layout and recipe all share

    def __repr__(self) -> str:
        return f"<DatasetGroup of {len(self.datasets)} datasets: {len(self)} transitions>"

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)

    @property
    def episode_map(self) -> list[tuple[int, int]]:
        """(dataset, episode) of each group episode, in group episode order."""
        return [(k, int(e)) for k, d in enumerate(self.datasets) for e in d.episodes()["episode"].to_pylist()]

    def locate(self, index: int) -> tuple[int, int]:
        """(dataset, its episode index) of group episode `index`."""
        k = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return k, index - self.offsets[k]

    def _concat(self, tables: list[pa.Table]) -> pa.Table:
        shifted = [t.set_column(t.schema.get_field_index("episode"), "episode",
                                pc.add(t["episode"], pa.scalar(off, pa.int64())))
                   for t, off in zip(tables, self.offsets, strict=True)]
        return pa.concat_tables(shifted, promote_options="permissive")

    def transitions(self) -> pa.Table:
        return self._concat([d.transitions() for d in self.datasets])

    def episodes(self) -> pa.Table:
        return self._concat([d.episodes() for d in self.datasets])

    def contacts(self) -> pa.Table:
        return self._concat([d.contacts() for d in self.datasets])

    def triples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = self.transitions()
        return tuple(column_array(t[c]) for c in ("state", "action", "next_state"))  # type: ignore[return-value]

    def episode(self, index: int) -> Episode:
        k, own = self.locate(index)
        ep = self.datasets[k].episode(own)
        return replace(ep, index=index)

    # ------------------------------------------------------------ streaming, as Dataset (the loader's reads)
    def pieces(self) -> list[GroupPiece]:
        return [GroupPiece(p.file, p.key, tuple(e + off for e in p.episodes), k)
                for k, (d, off) in enumerate(zip(self.datasets, self.offsets, strict=True)) for p in d.pieces()]

    def _member(self, piece: Piece) -> tuple[Dataset, Piece, int]:
        """The member dataset of a group piece, the piece in its own numbering, and its offset."""
        assert isinstance(piece, GroupPiece)  # one of this group's `pieces()`
        off = self.offsets[piece.member]
        return self.datasets[piece.member], Piece(piece.file, piece.key, tuple(e - off for e in piece.episodes)), off

    def read_frames(self, piece: Piece, index: int) -> dict[str, dict[str, np.ndarray]]:
        """The member's `Dataset.read_frames` of group episode `index`."""
        member, own, off = self._member(piece)
        return member.read_frames(own, index - off)

    def read_piece(self, piece: Piece, columns: Sequence[str] | None = None,
                   episodes: Collection[int] | None = None, batch_rows: int = 8192) -> Iterator[pa.Table]:
        """The member's `Dataset.read_piece`, with episode numbers moved to the group's."""
        member, own, off = self._member(piece)
        keep = None if episodes is None else {int(e) - off for e in episodes}
        for table in member.read_piece(own, columns, keep, batch_rows):
            if "episode" in table.column_names:
                shifted = pc.add(table["episode"], pa.scalar(off, pa.int64()))
                table = table.set_column(table.schema.get_field_index("episode"), "episode", shifted)
            yield table
