"""One opened engine per process and scene, reused across every shard that process runs.

Opening an engine is the expensive part of a shard (Genesis: its init and the scene build), so a
worker keeps the engine it built for as long as it lives and runs each later shard of the same
recipe on it. The key leaves out what does not change the scene (episode count, seed, outputs).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict

from engines import load_engine
from factory.contract.engine import Engine
from factory.recipe.schema import Recipe

# Scenes kept open per process; the oldest is closed past this. A shard's batches cycle through its
# scene variants (episode i runs on variant i mod scene_variants), so with fewer slots than variants
# every batch rebuilt its scene: the shipped recipes draw up to 4.
MAX_OPEN = 4
_NOT_SCENE = ("name", "description", "seed", "episodes", "outputs", "labels", "quarantine", "guided")

_engines: OrderedDict[str, tuple[Engine, threading.Lock]] = OrderedDict()
_guard = threading.Lock()


def scene_key(recipe: Recipe) -> str:
    """Hash of the recipe fields an engine's built scene depends on."""
    data = recipe.model_dump(mode="json", exclude=set(_NOT_SCENE))
    data["record_every"] = recipe.outputs.record_every
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def cached_engine(recipe: Recipe) -> tuple[Engine, threading.Lock]:
    """The opened engine for `recipe`'s scene and the lock a thread must hold while it simulates."""
    key = scene_key(recipe)
    with _guard:
        if key in _engines:
            _engines.move_to_end(key)
            return _engines[key]
        while len(_engines) >= MAX_OPEN:
            _, (old, in_use) = _engines.popitem(last=False)
            with in_use:
                old.close()
        engine = load_engine(recipe.engine.type)(recipe)
        engine.open()
        _engines[key] = (engine, threading.Lock())
        return _engines[key]
