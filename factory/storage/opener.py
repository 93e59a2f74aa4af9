"""`open_dataset`: one dataset, or several of one layout read as one group."""

from __future__ import annotations

import os
from typing import Any

from factory.storage.dataset import Dataset
from factory.storage.group import DatasetGroup
from factory.storage.location import Location, location


def open_dataset(path: str | os.PathLike[str] | Location | list | tuple, format: str | None = None,
                 storage_options: dict[str, Any] | None = None) -> Dataset:
    """Open a dataset written by `factory run`: a folder or a URL (s3://bucket/ds, with fsspec's
    `storage_options` such as endpoint_url); `format` picks parquet or hdf5 when both exist.
    A list of datasets of one layout opens as one `DatasetGroup` (episodes numbered across them)."""
    if isinstance(path, list | tuple):
        return DatasetGroup([open_dataset(p, format, storage_options) for p in path])  # type: ignore[return-value]
    return Dataset(location(path, storage_options), format)
