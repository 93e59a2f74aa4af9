"""One shard's work: sample its episodes, simulate them on cached engines, label, screen and write.

Split so that a helper process can do what needs no engine (`sample_shard`, `finish_shard`) while
the engine steps (`simulate_shard`); `produce_shard` does all of it in one process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from engines import load_engine
from factory.contract.engine import Engine
from factory.contract.rollout import EpisodeRecord, Layout, Rollout
from factory.contract.sampling import EpisodeSpec, sample_episodes
from factory.generate.engine_cache import cached_engine
from factory.generate.plan import Shard, plan_batches
from factory.generate.quarantine import screen
from factory.generate.resume import write_receipt
from factory.labels import Context, label_context, label_frames, label_rollouts
from factory.names import GUIDED_CANDIDATE, IMPORTANCE_WEIGHT
from factory.recipe.scene_fields import pin_scene
from factory.recipe.schema import Recipe
from factory.storage import check_records, writer_for
from factory.storage.location import Location, location
from factory.storage.manifest import file_entry

Progress = Callable[..., None]
"""progress(episodes done, simulation steps done) increments, and progress(0, 0, build_s=s) after a scene build."""
BUILT_AFTER_S = 0.05  # an engine handed out by the cache takes microseconds; anything longer was a build


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
    return sample_episodes(recipe, list(shard.episodes))


def simulate_shard(recipe: Recipe, shard: Shard, specs: list[EpisodeSpec], progress: Progress | None = None
                   ) -> tuple[Simulated, Engine]:
    """Run a shard's sampled episodes; each scene variant on its own cached engine (the last one is returned)."""
    by_index = {spec.index: spec for spec in specs}
    batches = []
    shared = load_engine(recipe.engine.type).shares_scene
    for scene, planned in groupby(plan_batches(recipe, shard, shared), key=lambda b: b.scene):
        scene_recipe = pin_scene(recipe, dict(scene))
        started = time.perf_counter()
        engine, in_use = cached_engine(scene_recipe)
        if progress and (build_s := time.perf_counter() - started) > BUILT_AFTER_S:
            progress(0, 0, build_s=build_s)
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
    # one labelling pass per scene variant, not per batch: labels are per episode, and each pass
    # costs more in numpy call overhead than in arithmetic for a batch of 16 short episodes
    for _, group in groupby(simulated.batches, key=lambda b: id(b[0])):  # a context per variant
        batches = list(group)
        ctx, good = batches[0][0], []
        for _, params, rollouts in batches:
            for p, rollout in zip(params, rollouts, strict=True):
                reason = screen(rollout, simulated.layout, recipe.quarantine)
                if reason is None:
                    good.append((p, rollout))
                else:
                    quarantined.append({"episode": rollout.index, "seed": recipe.seed, "reason": reason})
        records += label_frames(label_rollouts([r for _, r in good], [p for p, _ in good], ctx), simulated.layout)
    records.sort(key=lambda r: r.index)
    if recipe.guided is not None:
        for r in records:
            r.episode_labels.update({IMPORTANCE_WEIGHT: recipe.guided.weights[r.index],
                                     GUIDED_CANDIDATE: recipe.guided.candidates[r.index]})
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
    check_records(records, layout)  # once for every format
    with out.staging() as folder:
        rels = [rel for fmt in formats if records
                for rel in writer_for(fmt).write_shard(folder, shard.id, records, layout, checked=True)]
        files = [file_entry(folder, rel) for rel in rels]
        out.publish(folder, [f["path"] for f in files])
    return {
        "id": shard.id,
        "episodes": [shard.start, shard.stop],
        "transitions": sum(r.rollout.transitions for r in records),
        "contacts": sum(len(r.rollout.contacts) for r in records),
        "files": files,
    }
