"""`factory run`: recipe → plan → shards (serially or on dask workers) → manifest.

Each shard is written atomically and then receipted (`factory.resume`); the manifest is written
last from the receipts, so an interrupted run never looks like a finished dataset, and running the
same command again redoes only the shards without a valid receipt.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import groupby
from pathlib import Path
from typing import Any

from engines import load_engine
from engines.base import Engine
from factory import __version__
from factory.engine_cache import cached_engine
from factory.labels import Context, label_context, label_rollouts
from factory.location import Location, location
from factory.lock import output_lock
from factory.plan import Shard, plan_batches, plan_shards
from factory.quarantine import screen
from factory.recipe import Recipe
from factory.recipe_loader import recipe_hash
from factory.scene_fields import pin_scene
from factory.resume import LOCK_FILE, begin, check_output, remove_temporaries, scan, write_receipt
from factory.rollout import EpisodeRecord, Layout, Rollout
from factory.sampling import EpisodeSpec, sample_episode
from factory.storage import writer_for
from factory.storage.manifest import FORMAT_VERSION, file_entry, write_manifest
from factory.write_behind import write_behind

Progress = Callable[[int, int], None]  # (episodes done, simulation steps done) increments
Executor = Callable[[Recipe, Location, list[Shard], "Progress | None"], Iterable[dict[str, Any]]]
"""Runs `produce_shard` for every given shard, somewhere, and yields their receipts as they finish."""


def run(recipe: Recipe, out: str | os.PathLike[str] | Location, *, episodes: int | None = None, overwrite: bool = False,
        progress: Progress | None = None, recipe_path: str | None = None,
        executor: Executor | None = None, say: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Generate (or finish generating) the dataset `recipe` describes into `out` (a path, URL or
    `factory.location.location(url, storage_options)`); return the manifest."""
    layout = load_engine(recipe.engine.type)(recipe).layout  # refuses unrepresentable recipes before any write
    out = location(out)
    total = episodes if episodes is not None else recipe.episodes
    shards = plan_shards(total, recipe.outputs.shard_size)
    check_output(out, overwrite)
    fresh = not out.exists()
    with output_lock(out):
        try:
            return _generate(recipe, out, shards, total, overwrite, progress, recipe_path, executor, say, layout)
        except BaseException:
            if fresh and not scan(out, shards)[0]:
                out.clear(keep=LOCK_FILE)  # nothing finished: drop the run record, so a corrected recipe starts clean
            raise


def _generate(recipe: Recipe, out: Location, shards: list[Shard], total: int, overwrite: bool,
              progress: Progress | None, recipe_path: str | None, executor: Executor | None,
              say: Callable[[str], None], layout: Layout) -> dict[str, Any]:
    """`run` once the output is checked and locked."""
    record, resumed = begin(out, recipe, total, overwrite)
    remove_temporaries(out)
    done, todo = scan(out, shards)
    if resumed:
        redo = {k: v for k, v in todo.items() if v != "not finished"}
        say(f"resuming {out}: {len(done)} of {len(shards)} shards verified"
            + "".join(f"\n  redoing shard {k}: {why}" for k, why in sorted(redo.items())))
    if progress and done:
        progress(sum(shards[i].stop - shards[i].start for i in done), 0)
    pending = [s for s in shards if s.id in todo]
    for receipt in (executor or run_serially)(recipe, out, pending, progress):
        done[receipt["id"]] = receipt
    receipts = [done[s.id] for s in shards]
    manifest = build_manifest(recipe, receipts[0]["engine"], layout, [_shard_entry(r) for r in receipts],
                              total, recipe_path, created=record.started,
                              quarantined=[q for r in receipts for q in r["quarantined"]])
    write_manifest(out, manifest)
    return manifest


def run_serially(recipe: Recipe, out: Location, shards: list[Shard], progress: Progress | None = None
                 ) -> Iterator[dict[str, Any]]:
    """The default executor of `run`: every step of every shard in this process, in order."""
    for shard in shards:
        yield produce_shard(recipe, out, shard, progress)


def run_write_behind(recipe: Recipe, out: Location, shards: list[Shard], progress: Progress | None = None
                     ) -> Iterator[dict[str, Any]]:
    """The executor of a plain `factory run`: every shard from this process, in order.

    Only the engine runs here; while it steps, a helper process (`factory.write_behind`) samples the
    next shard and labels, screens and writes the previous one. The last shard leaves this process
    nothing to simulate, so it writes that shard's last format (HDF5 by default, the slower writer)
    while the helper writes the others. A shard is receipted once its files are in place; shards
    still being written when the run stops (Ctrl-C, an engine error) are finished and receipted.
    A script that passes it to `run` needs the `if __name__ == "__main__":` guard of any
    multiprocessing code (the helper is spawned and imports the main module)."""
    if not shards:
        return
    formats = recipe.outputs.formats
    in_flight: list[tuple[Callable[[], dict[str, Any]], Engine]] = []  # (its finished receipt, when ready)

    def receipt_of_first() -> dict[str, Any]:
        finished, engine = in_flight[0]
        receipt = receipted(out, finished(), engine)
        in_flight.pop(0)
        return receipt

    helper = write_behind(out)
    try:
        upcoming: Future | None = None  # the next shard's sampled episodes
        for k, shard in enumerate(shards):
            specs = upcoming.result() if upcoming else sample_shard(recipe, shard)
            upcoming = helper.submit(sample_shard, recipe, shards[k + 1]) if k + 1 < len(shards) else None
            simulated, engine = simulate_shard(recipe, shard, specs, progress)
            if upcoming or len(formats) == 1:
                in_flight.append((helper.submit(finish_shard, recipe, out, simulated).result, engine))
            else:
                theirs = helper.submit(finish_shard, recipe, out, simulated, formats[:-1])
                mine = finish_shard(recipe, out, simulated, formats[-1:])
                in_flight.append((lambda: mine | {"files": theirs.result()["files"] + mine["files"]}, engine))
            if len(in_flight) == 2:
                yield receipt_of_first()
        while in_flight:
            yield receipt_of_first()
    finally:
        for finished, engine in in_flight:
            with contextlib.suppress(Exception):  # what stopped the run is the error to report
                receipted(out, finished(), engine)
        helper.shutdown(wait=False, cancel_futures=True)  # nothing left to wait for but the process's exit


def produce_shard(recipe: Recipe, out: Location, shard: Shard, progress: Progress | None = None) -> dict[str, Any]:
    """Every step of one shard in this process, on its cached engines; return the receipt."""
    simulated, engine = simulate_shard(recipe, shard, sample_shard(recipe, shard), progress)
    return receipted(out, finish_shard(recipe, out, simulated), engine)


@dataclass(frozen=True)
class Simulated:
    """A shard's rollouts as the engines returned them, batch by batch, with each batch's label
    context and parameters: what is left to do without an engine (`finish_shard`)."""

    shard: Shard
    layout: Layout
    batches: list[tuple[Context, list[dict[str, float]], list[Rollout]]]


def sample_shard(recipe: Recipe, shard: Shard) -> list[EpisodeSpec]:
    """A shard's episodes to run; each depends on (recipe, index) only, so any process may sample them."""
    return [sample_episode(recipe, i) for i in shard.episodes]


def simulate_shard(recipe: Recipe, shard: Shard, specs: list[EpisodeSpec], progress: Progress | None = None
                   ) -> tuple[Simulated, Engine]:
    """Run a shard's sampled episodes; each scene variant on its own cached engine (the last one is returned)."""
    by_index = {spec.index: spec for spec in specs}
    batches = []
    shared = load_engine(recipe.engine.type).shares_scene
    for scene, planned in groupby(plan_batches(recipe, shard, shared), key=lambda b: b.scene):
        scene_recipe = pin_scene(recipe, dict(scene))
        engine, in_use = cached_engine(scene_recipe)
        with in_use:
            ctx = label_context(scene_recipe, engine.layout)
            for batch in planned:
                batch_specs = [by_index[i] for i in batch.episodes]
                batches.append((ctx, [s.params for s in batch_specs], engine.run_batch(batch_specs)))
                if progress:
                    progress(len(batch_specs), len(batch_specs) * recipe.steps)
    return Simulated(shard, engine.layout, batches), engine


def label_shard(recipe: Recipe, simulated: Simulated) -> tuple[list[EpisodeRecord], list[dict[str, Any]]]:
    """Labelled records of the good episodes in index order, and the quarantined ones (episode, seed, reason)."""
    records, quarantined = [], []
    for ctx, params, rollouts in simulated.batches:
        good = []
        for p, rollout in zip(params, rollouts):
            reason = screen(rollout, simulated.layout, recipe.quarantine)
            if reason is None:
                good.append((p, rollout))
            else:
                quarantined.append({"episode": rollout.index, "seed": recipe.seed, "reason": reason})
        records += label_rollouts([r for _, r in good], [p for p, _ in good], ctx)  # one pass per batch
    records.sort(key=lambda r: r.index)
    return records, quarantined


def finish_shard(recipe: Recipe, out: Location, simulated: Simulated, formats: list[str] | None = None
                 ) -> dict[str, Any]:
    """Label, screen and write a simulated shard (in `formats`, by default the recipe's); its receipt
    but for the engine (`receipted`)."""
    records, quarantined = label_shard(recipe, simulated)
    receipt = write_shard(out, simulated.shard, records, simulated.layout, formats or recipe.outputs.formats)
    receipt["quarantined"] = quarantined
    return receipt


def receipted(out: Location, receipt: dict[str, Any], engine: Engine) -> dict[str, Any]:
    """A finished shard's receipt completed with the engine that simulated it, and written."""
    receipt["engine"] = engine.info().to_dict()
    write_receipt(out, receipt)
    return receipt


def write_shard(out: str | os.PathLike[str] | Location, shard: Shard, records: list[EpisodeRecord],
                layout: Layout, formats: list[str]) -> dict[str, Any]:
    """Write a shard's records in every format (no files when all were quarantined), hashed where they
    were written, then put in place."""
    out = location(out)
    with out.staging() as folder:
        rels = [rel for fmt in formats if records
                for rel in writer_for(fmt).write_shard(folder, shard.id, records, layout)]
        files = [file_entry(folder, rel) for rel in rels]
        out.publish(folder, [f["path"] for f in files])
    return {
        "id": shard.id,
        "episodes": [shard.start, shard.stop],
        "transitions": sum(r.rollout.transitions for r in records),
        "contacts": sum(len(r.rollout.contacts) for r in records),
        "files": files,
    }


def _shard_entry(receipt: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in receipt.items() if k not in ("engine", "quarantined")}


def build_manifest(recipe: Recipe, engine: dict[str, str], layout: Layout, shards: list[dict],
                   episodes: int, recipe_path: str | None, *, created: str | None = None,
                   quarantined: list[dict[str, Any]] = ()) -> dict[str, Any]:
    """The manifest of `episodes` planned episodes: `shards` hold the written ones, `quarantined` the rest."""
    from factory.storage.base import param_column

    transitions = sum(s["transitions"] for s in shards)
    return {
        "format_version": FORMAT_VERSION,
        "factory_version": __version__,
        "created": created or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": redacted(sys.argv),
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
                       "unit": "N*s impulse applied during the transition" if layout.action_names_override is None
                       else "m/s mean commanded velocity of each mover during the transition"},
            "next_state": {"dtype": "float32", "shape": [layout.state_size], "names": layout.state_names},
            **{name: {"dtype": "float32", "shape": [layout.n_points, 3],
                      "unit": "m" if name.endswith("_pos") else "m/s"} for name in layout.points},
        },
        "episode_params": [param_column(k) for k in sample_episode(recipe, 0).params],
        "counts": {"episodes": episodes - len(quarantined), "quarantined": len(quarantined),
                   "transitions": transitions, "contacts": sum(s["contacts"] for s in shards)},
        "shards": shards,
        "quarantined": sorted(quarantined, key=lambda q: q["episode"]),
    }


def redacted(argv: list[str]) -> list[str]:
    """The command line with the values of --storage-option (which may hold credentials) as ***."""
    def is_flag(arg: str) -> bool:  # argparse also takes an unambiguous prefix: --storage-opt
        flag = arg.partition("=")[0]
        return len(flag) >= 4 and "--storage-option".startswith(flag)

    out = []
    for i, arg in enumerate(argv):
        if arg.startswith("--") and "=" in arg and is_flag(arg):
            flag, _, option = arg.partition("=")
            arg = f"{flag}={option.partition('=')[0]}=***"
        elif i and is_flag(argv[i - 1]) and "=" not in argv[i - 1]:
            arg = f"{arg.partition('=')[0]}=***"
        out.append(arg)
    return out


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None

