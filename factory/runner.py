"""`factory run`: recipe → plan → engine → labels → writers → manifest.

Shards are written atomically as they finish; the manifest is written last, so an interrupted
run never looks like a finished dataset.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from engines import load_engine
from factory import __version__
from factory.errors import StorageError
from factory.labels import label_context, label_rollout
from factory.plan import Shard, plan_batches, plan_shards
from factory.recipe import Recipe
from factory.recipe_loader import recipe_hash
from factory.rollout import EpisodeRecord, Layout
from factory.sampling import sample_episode
from factory.storage import writer_for
from factory.storage.manifest import FORMAT_VERSION, MANIFEST, file_entry, write_manifest

Progress = Callable[[int, int], None]  # (episodes done, simulation steps done) increments


def run(recipe: Recipe, out: Path, *, episodes: int | None = None, overwrite: bool = False,
        progress: Progress | None = None, recipe_path: str | None = None) -> dict[str, Any]:
    """Generate the dataset `recipe` describes into `out`; return the manifest."""
    engine = load_engine(recipe.engine.type)(recipe)  # refuses unrepresentable recipes before any write
    out = Path(out)
    _prepare_output(out, overwrite)
    total = episodes if episodes is not None else recipe.episodes
    shards = plan_shards(total, recipe.outputs.shard_size)
    ctx = label_context(recipe, engine.layout)
    entries = []
    try:
        engine.open()
        for shard in shards:
            records = simulate_shard(recipe, shard, engine, ctx, progress)
            entries.append(write_shard(out, shard, records, engine.layout, recipe.outputs.formats))
    finally:
        engine.close()
    manifest = build_manifest(recipe, engine.info().to_dict(), engine.layout, entries, total, recipe_path)
    write_manifest(out, manifest)
    return manifest


def simulate_shard(recipe: Recipe, shard: Shard, engine, ctx, progress: Progress | None = None
                   ) -> list[EpisodeRecord]:
    records = []
    for batch in plan_batches(shard, recipe.n_envs):
        specs = [sample_episode(recipe, i) for i in batch]
        for spec, rollout in zip(specs, engine.run_batch(specs)):
            records.append(label_rollout(rollout, spec.params, ctx))
        if progress:
            progress(len(batch), len(batch) * recipe.steps)
    return records


def write_shard(out: Path, shard: Shard, records: list[EpisodeRecord], layout: Layout,
                formats: list[str]) -> dict[str, Any]:
    files = [file_entry(out, rel) for fmt in formats
             for rel in writer_for(fmt).write_shard(out, shard.id, records, layout)]
    return {
        "id": shard.id,
        "episodes": [shard.start, shard.stop],
        "transitions": sum(r.rollout.transitions for r in records),
        "contacts": sum(len(r.rollout.contacts) for r in records),
        "files": files,
    }


def _prepare_output(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            what = "a finished dataset" if (out / MANIFEST).exists() else "files from an earlier run"
            raise StorageError(f"{out} already holds {what}; pass --overwrite to replace it "
                               "or --out to write elsewhere")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def build_manifest(recipe: Recipe, engine: dict[str, str], layout: Layout, shards: list[dict],
                   episodes: int, recipe_path: str | None) -> dict[str, Any]:
    from factory.storage.base import param_column

    transitions = sum(s["transitions"] for s in shards)
    return {
        "format_version": FORMAT_VERSION,
        "factory_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv,
        "recipe_path": recipe_path,
        "recipe": recipe.model_dump(mode="json"),
        "recipe_hash": recipe_hash(recipe),
        "seed": recipe.seed,
        "engine": engine,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "formats": list(recipe.outputs.formats),
        "layout": layout.to_dict(),
        "features": {
            "state": {"dtype": "float32", "shape": [layout.state_size], "names": layout.state_names},
            "action": {"dtype": "float32", "shape": [layout.action_size], "names": layout.action_names,
                       "unit": "N*s impulse applied during the transition"},
            "next_state": {"dtype": "float32", "shape": [layout.state_size], "names": layout.state_names},
        },
        "episode_params": [param_column(k) for k in sample_episode(recipe, 0).params],
        "counts": {"episodes": episodes, "transitions": transitions,
                   "contacts": sum(s["contacts"] for s in shards)},
        "shards": shards,
    }


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None

