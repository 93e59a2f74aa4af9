"""Physics data factory: YAML recipes → engine episodes → labeled state-action-result datasets.

The packages follow the data: `recipe` (schema, loading, distributions) → `contract` (what engines
take and give back: episode specs, rollouts) → `generate` (plan, runs on engines, shards, dask) →
`labels` → `storage` (formats, locations, manifest, reading) → `model` and `report`; `cli` on top.
`lint-imports` holds the layers. `run` and `run_write_behind` load lazily, so `import factory` stays light.
"""

from __future__ import annotations

from typing import Any

from factory.recipe.loader import load_recipe
from factory.storage.dataset import Dataset
from factory.storage.opener import open_dataset
from factory.version import __version__

_LAZY = {"run": "factory.generate.runner", "run_write_behind": "factory.generate.runner"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'factory' has no attribute '{name}'")


__all__ = ["Dataset", "__version__", "load_recipe", "open_dataset", "run", "run_write_behind"]
