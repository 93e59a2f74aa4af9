"""Which episodes train, validate and test a model, and which are out of distribution.

Splits are by episode, never by transition: neighbouring transitions of one episode are nearly
identical, so a transition split would test on the training data. Episodes whose parameters fall
in a recipe's `quality.holdout` ranges are never trained on and form the OOD test set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa

from factory.errors import FactoryError, did_you_mean
from factory.names import column_key, episode_row, is_param_column, param_column, param_name
from factory.recipe.schema import QualityOptions
from factory.storage.dataset import Dataset


@dataclass(frozen=True)
class Split:
    train: list[int]
    val: list[int]
    test: list[int]
    ood: list[int]

    def to_dict(self) -> dict[str, list[int]]:
        return asdict(self)


def quality_options(ds: Dataset, holdout: Mapping[str, list[float] | list[list[float]]] | None = None
                    ) -> QualityOptions:
    """The recipe's quality section (defaults for datasets written before it existed)."""
    options = QualityOptions.model_validate(ds.manifest["recipe"].get("quality", {}))
    return options.model_copy(update={"holdout": holdout}) if holdout else options


def param_values(episodes: pa.Table, name: str) -> np.ndarray:
    """Per-episode values of parameter `name` ('ball.mass'), in table order."""
    column = param_column(name)
    if column not in episodes.column_names:
        known = [param_name(column_key(c)) for c in episodes.column_names if is_param_column(c)]
        raise FactoryError(f"unknown episode parameter '{name}'{did_you_mean(name, known)}")
    return np.asarray(episodes[column].to_numpy(zero_copy_only=False), np.float64)


def split_episodes(episodes: pa.Table, holdout: dict[str, list], seed: int = 0,
                   val: float = 0.1, test: float = 0.2) -> Split:
    ids = np.asarray(episodes["episode"].to_numpy(), np.int64)
    ood = np.isin(ids, [e for band in ood_bands(episodes, holdout).values() for e in band])
    rest = np.random.default_rng(seed).permutation(ids[~ood])
    n_val = max(1, round(val * len(rest))) if len(rest) >= 3 else 0
    n_test = max(1, round(test * len(rest))) if len(rest) >= 3 else 0
    if len(rest) - n_val - n_test < 1:
        raise FactoryError(f"{len(rest)} in-distribution episodes are too few to train and test on")
    parts = rest[:n_val], rest[n_val:n_val + n_test], rest[n_val + n_test:]
    return Split(train=sorted(parts[2].tolist()), val=sorted(parts[0].tolist()),
                 test=sorted(parts[1].tolist()), ood=sorted(ids[ood].tolist()))


def band_name(param: str, band: tuple[float, float]) -> str:
    """How a holdout band is named in evaluations and reports: 'ood ball.mass 0.2–0.3'."""
    return f"ood {param} {band[0]:g}–{band[1]:g}"


def ood_bands(episodes: pa.Table, holdout: dict[str, list]) -> dict[str, list[int]]:
    """Each holdout band's episodes (PhyWorld-style: each band its own out-of-distribution set)."""
    ids = np.asarray(episodes["episode"].to_numpy(), np.int64)
    out = {}
    for name, bands in QualityOptions(holdout=holdout).bands().items():
        values = param_values(episodes, name)
        for low, high in bands:
            out[band_name(name, (low, high))] = sorted(ids[(values >= low) & (values <= high)].tolist())
    return out


def episode_info(episodes: pa.Table) -> dict[int, dict[str, dict]]:
    """Episode → {'params': {'ball.mass': …}, 'labels': {'touched__ball__target': …}}."""
    out = {}
    for row in episodes.to_pylist():
        params, labels = episode_row(row)
        out[int(row["episode"])] = {"params": {param_name(k): v for k, v in params.items()}, "labels": labels}
    return out
