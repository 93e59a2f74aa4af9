"""`factory run`: recipe → plan → shards (serially or on dask workers) → manifest.

Each shard is written atomically and then receipted (`factory.generate.resume`); the manifest is written
last from the receipts, so an interrupted run never looks like a finished dataset, and running the
same command again redoes only the shards without a valid receipt.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Any

from engines import load_engine
from factory.certify.documents import write_documents
from factory.contract.engine import Engine
from factory.contract.rollout import Layout
from factory.errors import NO_SPACE, OutOfSpace, StorageError, exhausted, failed_file
from factory.generate.interrupt import interrupts_held
from factory.generate.lock import output_lock
from factory.generate.plan import Shard, check_scale, plan_shards
from factory.generate.provenance import build_manifest
from factory.generate.resume import (
    begin,
    check_output,
    receipt_name,
    remove_run,
    remove_temporaries,
    scan,
)
from factory.generate.shard import (
    Progress,
    Simulated,
    finish_shard,
    label_shard,
    produce_shard,
    receipted,
    sample_shard,
    simulate_shard,
    write_shard,
)
from factory.generate.write_behind import Helper, Inline, Threaded, write_behind
from factory.recipe.schema import Recipe
from factory.storage.location import Location, location
from factory.storage.manifest import write_manifest

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
    check_scale(recipe, total, layout, recipe_path or "<recipe>")
    shards = plan_shards(total, recipe.outputs.shard_size)
    check_output(out, overwrite)
    fresh = not out.exists()
    with output_lock(out):
        try:
            return _generate(recipe, out, shards, total, overwrite, progress, recipe_path, executor, say, layout)
        except BaseException as exc:
            if fresh and not scan(out, shards)[0]:
                remove_run(out)  # nothing finished: drop the run record, so a corrected recipe starts clean
            cause = exhausted(exc)
            if isinstance(cause, OSError) and cause.errno in NO_SPACE:
                raise OutOfSpace(_no_space(out, shards, total, cause)) from exc
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
    write_manifest(out, write_documents(out, manifest))
    return manifest


def run_serially(recipe: Recipe, out: Location, shards: list[Shard], progress: Progress | None = None
                 ) -> Iterator[dict[str, Any]]:
    """The default executor of `run`: every step of every shard in this process, in order."""
    for shard in shards:
        yield produce_shard(recipe, out, shard, progress)


def run_write_behind(recipe: Recipe, out: Location, shards: list[Shard], progress: Progress | None = None
                     ) -> Iterator[dict[str, Any]]:
    """The executor of a plain `factory run`: every shard from this process, in order.

    Only the engine runs here; while it steps, a helper (`factory.generate.write_behind`: a process, or a
    thread where the engine's threads fill the cores, as MuJoCo's do) samples the next shard and labels,
    screens and writes the previous one (until a helper process has started, this process does that
    itself). The last shard leaves this process nothing to simulate, so it labels that shard and writes
    its last format (HDF5 by default, the slower writer) while the helper writes the others. A shard is
    receipted once its files are in place; shards still being written when the run stops (Ctrl-C, an
    engine error) are finished and receipted, and a Ctrl-C while this process writes waits for that
    write (`factory.generate.interrupt`).
    A script that passes it to `run` needs the `if __name__ == "__main__":` guard of any
    multiprocessing code (the helper is spawned and imports the main module)."""
    if not shards:
        return
    in_flight: list[tuple[Callable[[], dict[str, Any]], Engine]] = []  # (its finished receipt, when ready)

    def receipt_of_first() -> dict[str, Any]:
        finished, engine = in_flight[0]
        receipt = receipted(out, finished(), engine)
        in_flight.pop(0)
        return receipt

    helper = write_behind(out, getattr(load_engine(recipe.engine.type)(recipe), "threads", 1))
    try:
        upcoming: Future | None = None  # the next shard's sampled episodes
        for k, shard in enumerate(shards):
            specs = upcoming.result() if upcoming else sample_shard(recipe, shard)
            more = k + 1 < len(shards)
            upcoming = helper.submit(sample_shard, recipe, shards[k + 1]) if more and helper.ready() else None
            simulated, engine = simulate_shard(recipe, shard, specs, progress)
            with interrupts_held():  # what this process writes is finished and in flight before Ctrl-C stops it
                in_flight.append((_finish(recipe, out, simulated, helper, last=not more), engine))
            if len(in_flight) == 2:
                yield receipt_of_first()
        while in_flight:
            yield receipt_of_first()
    finally:
        for finished, engine in in_flight:
            with contextlib.suppress(Exception):  # what stopped the run is the error to report
                receipted(out, finished(), engine)
        helper.shutdown(wait=False, cancel_futures=True)  # nothing left to wait for but the process's exit


def _finish(recipe: Recipe, out: Location, simulated: Simulated, helper: Helper | Threaded | Inline,
            last: bool) -> Callable[[], dict[str, Any]]:
    """Have a simulated shard labelled and written, by the helper or here; return what gives its receipt."""
    formats = recipe.outputs.formats
    if not helper.ready():  # still starting: do its work here rather than wait for it
        done = finish_shard(recipe, out, simulated)
        return lambda: done
    if not last or len(formats) == 1 or isinstance(helper, Inline):
        return helper.submit(finish_shard, recipe, out, simulated).result
    # the last shard: labelled once, then its formats written side by side, by the helper and here
    records, quarantined = label_shard(recipe, simulated)
    theirs = helper.submit(write_shard, out, simulated.shard, records, simulated.layout, formats[:-1])
    mine = write_shard(out, simulated.shard, records, simulated.layout, formats[-1:]) | {"quarantined": quarantined}
    return lambda: mine | {"files": theirs.result()["files"] + mine["files"]}


def _no_space(out: Location, shards: list[Shard], total: int, cause: OSError) -> str:
    """What a full disk stopped, how much more the rest of the run needs (from the shards it finished) and how to
    go on: the user's one line, so it names the file and the numbers rather than the writer that hit the limit."""
    receipts = [json.loads(out.read_bytes(receipt_name(s.id))) for s in shards if out.is_file(receipt_name(s.id))]
    written = sum(f["bytes"] for r in receipts for f in r["files"])
    episodes = sum(r["episodes"][1] - r["episodes"][0] for r in receipts)
    facts = []
    if episodes:
        left = total - episodes
        facts.append(f"the remaining {left} episodes need about {_mb(written / episodes * left)}")
    with contextlib.suppress(StorageError, OSError):  # a URL has no local disk to measure
        facts.append(f"{_mb(shutil.disk_usage(out.local_path()).free)} is free now")
    facts.append(f"{len(receipts)} of {len(shards)} shards are finished and kept" if receipts
                 else "no shard was finished")
    where = failed_file(cause) or f"into {out}"  # Arrow's and Python's writers do not say which file
    return f"no space left on device writing {where}; {', '.join(facts)}: free space and run the same command to resume"


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def _shard_entry(receipt: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in receipt.items() if k not in ("engine", "quarantined")}
