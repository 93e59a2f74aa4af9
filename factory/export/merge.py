"""`factory merge A B … --out C`: datasets of one layout rewritten as one dataset.

Each source shard is read back as episode records and written again with new episode ids
(0, 1, … in source order) by the storage writers, in every format all sources hold, so the result
is an ordinary dataset: `factory verify`, every reader, the loader and every export open it. The
manifest keeps each source's manifest sha256, recipe, recipe hash, seed and certificate verdict
(`merge.sources`), which the merged card lists, and the map from each new episode back to (source,
episode) (`merge.episodes`).

An episode's content depends only on the recipe, the seed and its index, and not on how many
episodes, envs or shards the run had: two sources that share those hold the same episode twice.
Such an episode is kept once and counted (`merge.duplicates`). The recipe is compared without
`episodes`, `n_envs`, `outputs.shard_size`, `outputs.formats`, `name`, `description`, `quality` and a
guided selection (a guided episode is keyed by the candidate it ran, `factory.recipe.guided`).

A guided source's episodes keep their importance weights and an unguided source's weigh 1. Each
source's weights average 1 over its own episodes, so the merged weights still turn an average over the
dataset into one over the recipe's distribution (each source an unbiased estimate, pooled by size).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from factory.certify.card import certificate_summary
from factory.certify.documents import stored_certificate, write_documents
from factory.contract.rollout import EpisodeRecord
from factory.errors import MergeError
from factory.export.source import shard_files
from factory.generate.plan import Shard
from factory.generate.provenance import redacted
from factory.generate.shard import write_shard
from factory.names import GUIDED_CANDIDATE, IMPORTANCE_WEIGHT
from factory.recipe.guided import CANDIDATE_BASE
from factory.storage import reader_for
from factory.storage.dataset import Dataset
from factory.storage.group import check_same_layout
from factory.storage.location import Location, location
from factory.storage.manifest import FORMAT_VERSION, MANIFEST, write_manifest
from factory.storage.opener import open_dataset
from factory.version import __version__

# recipe fields that do not change any episode's content (tested byte-identical across them)
NOT_CONTENT = ("episodes", "n_envs", "name", "description", "quality", "guided")
NOT_CONTENT_OUTPUTS = ("shard_size", "formats")


def content_hash(recipe: dict[str, Any]) -> str:
    """sha256 of what decides an episode's content: the recipe less its size, batching and naming."""
    kept = {k: v for k, v in recipe.items() if k not in NOT_CONTENT}
    kept["outputs"] = {k: v for k, v in recipe.get("outputs", {}).items() if k not in NOT_CONTENT_OUTPUTS}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def episode_key(manifest: dict[str, Any]) -> Callable[[int], tuple[str, int, int]]:
    """(content hash, seed, episode index) of a dataset's episodes; a merged dataset's episodes keep
    the key of the source episode they came from; a guided dataset's episode is keyed by its candidate."""
    if "merge" not in manifest:
        recipe_key = content_hash(manifest["recipe"])
        guided = manifest["recipe"].get("guided")
        source = (lambda index: CANDIDATE_BASE + guided["candidates"][index]) if guided else (lambda index: index)
        return lambda index: (recipe_key, int(manifest["seed"]), source(index))
    sources = [episode_key({k: s[k] for k in ("recipe", "seed", "merge") if k in s})
               for s in manifest["merge"]["sources"]]
    back = manifest["merge"]["episodes"]
    return lambda index: sources[back["source"][index]](back["episode"][index])


def merge(sources: list[str | os.PathLike[str] | Location], out: str | os.PathLike[str] | Location, *,
          progress: Callable[[int], object] | None = None) -> dict[str, Any]:
    """Write the union of `sources` (same layout) as one dataset at `out`; return its manifest."""
    if not sources:
        raise MergeError("merge needs at least one dataset")
    opened = [open_dataset(s) for s in sources]
    check_same_layout([d.manifest for d in opened], [str(d.location) for d in opened])
    formats = [f for f in opened[0].manifest["formats"] if all(f in d.manifest["formats"] for d in opened)]
    if not formats:
        raise MergeError("the datasets share no storage format: " + "; ".join(
            f"{d.location}: {', '.join(d.manifest['formats'])}" for d in opened))
    opened = [open_dataset(d.location, formats[0]) for d in opened]
    dest = location(out)
    if dest.names():
        raise MergeError(f"{dest}: not empty; merge writes a new dataset")
    try:
        manifest = _write(opened, formats, dest, progress or (lambda n: None))
    except BaseException:
        for rel in dest.files():  # it was empty: all of it is this merge's shards (no manifest yet)
            dest.remove(rel)
        dest.prune()  # so the same command can run again
        raise
    write_manifest(dest, write_documents(dest, manifest))  # the merged dataset's own card and certificate
    return manifest


def _write(opened: list[Dataset], formats: list[str], dest: Location,
           progress: Callable[[int], object]) -> dict[str, Any]:
    """Every source's episodes, each key once, as shards of `dest`; the manifest to write last."""
    guided = any(ds.manifest["recipe"].get("guided") for ds in opened)
    seen: set[tuple[str, int, int]] = set()
    episode_map: dict[str, list[int]] = {"source": [], "episode": []}
    shards: list[dict[str, Any]] = []
    duplicates = 0
    for k, ds in enumerate(opened):
        key = episode_key(ds.manifest)
        for files in shard_files(ds):
            records, read = [], _read_shard(ds, files)
            for r in read:
                if key(r.index) in seen:
                    duplicates += 1
                    continue
                new = len(episode_map["source"])
                seen.add(key(r.index))
                if guided:  # one episodes table: an unguided source's episodes weigh 1 and took no candidate
                    r.episode_labels.setdefault(IMPORTANCE_WEIGHT, 1.0)
                    r.episode_labels.setdefault(GUIDED_CANDIDATE, -1)
                episode_map["source"].append(k)
                episode_map["episode"].append(r.index)
                records.append(dataclasses.replace(r, rollout=dataclasses.replace(r.rollout, index=new)))
            if records:
                start = records[0].index
                shard = Shard(len(shards), start, start + len(records))
                shards.append(write_shard(dest, shard, records, ds.layout, formats))
            progress(sum(r.rollout.transitions for r in read))
    return _manifest(opened, formats, shards, episode_map, duplicates)


def _read_shard(ds: Dataset, files: list[str]) -> list[EpisodeRecord]:
    """One source shard's episodes as the records that were written (the reader's `records`)."""
    return list(reader_for(ds.format).records(ds.location, files, ds.layout)) if files else []


def _manifest(opened: list[Dataset], formats: list[str], shards: list[dict[str, Any]],
              episode_map: dict[str, list[int]], duplicates: int) -> dict[str, Any]:
    first = opened[0].manifest
    episodes = len(episode_map["source"])
    # the first source's, less a guided selection, which covered that source's episodes only
    recipe = {k: v for k, v in first["recipe"].items() if k != "guided"} | {"episodes": episodes}
    return {
        "format_version": FORMAT_VERSION,
        "factory_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": redacted(sys.argv),
        "recipe_path": None,
        "recipe": recipe,  # the first source's, for the layout, timing and quality settings all share
        "recipe_hash": None,  # no single recipe makes this dataset: see merge.sources
        "seed": None,
        "engine": first["engine"],
        "formats": formats,
        "layout": first["layout"],
        "features": first["features"],
        "episode_params": first["episode_params"],
        "counts": {"episodes": episodes, "quarantined": 0,
                   "transitions": sum(s["transitions"] for s in shards),
                   "contacts": sum(s["contacts"] for s in shards)},
        "shards": shards,
        "quarantined": [],
        "merge": {
            "sources": [{"location": str(d.location),
                         "manifest_sha256": hashlib.sha256(d.location.read_bytes(MANIFEST)).hexdigest(),
                         "recipe_hash": d.manifest.get("recipe_hash"), "seed": d.manifest.get("seed"),
                         "episodes": d.manifest["counts"]["episodes"], "recipe": d.manifest["recipe"],
                         "engine": d.manifest.get("engine"), "created": d.manifest.get("created"),
                         "certificate": certificate_summary(stored_certificate(d.location)),
                         **({"merge": d.manifest["merge"]} if "merge" in d.manifest else {})}
                        for d in opened],
            "episodes": episode_map,
            "duplicates": duplicates,
        },
    }
