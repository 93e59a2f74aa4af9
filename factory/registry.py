"""Registries of lazily imported parts (engines, storage formats, export formats): names map to
"module:attr" strings, imported only when used, with one clear error for an unknown name."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

from factory.errors import FactoryError, did_you_mean

FORMATS: dict[str, str] = {
    "parquet": "factory.storage.parquet:ParquetFormat",
    "hdf5": "factory.storage.hdf5:HDF5Format",
}
"""The registry of storage formats: every list of format names (recipe, CLI, readers) comes from here,
below the recipe and storage layers so that both can read it."""


def load_entry(registry: dict[str, str], name: str, kind: str, error: type[FactoryError]) -> Any:
    """The attribute `registry[name]` names, imported now; `error` with a did-you-mean for an unknown
    name. A missing module's `ModuleNotFoundError` is left to the caller, who knows the install line."""
    if name not in registry:
        raise error(f"unknown {kind} '{name}'{did_you_mean(str(name), registry)}; registered: {', '.join(registry)}")
    module_name, attr = registry[name].split(":")
    return getattr(importlib.import_module(module_name), attr)


def package_dir(name: str) -> Path | None:
    """The folder of the installed package `name`, found without importing it (a recipe may name files that
    ship inside a heavy package such as genesis); None when no such package is installed."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))
