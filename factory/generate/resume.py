"""What survives a killed run: a run record and one receipt per finished shard.

    OUT/.factory/run.json               recipe, its hash and episode count, written when the run starts
    OUT/.factory/shards/shard-NNNNN.json files (size, sha256), counts, quarantined episodes of one shard

A receipt is written atomically after its shard's data files, so it exists only for a complete
shard; a rerun trusts a shard only if its receipt is there and every file still hashes to it.
The hidden folder keeps these out of globs over a format's folder. OUT is any location
(`factory.storage.location`): a local folder or a URL.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from factory.certify.card import CARD
from factory.certify.certificate import VALIDITY
from factory.errors import StorageError
from factory.generate.plan import Shard
from factory.recipe.loader import recipe_hash
from factory.recipe.schema import Recipe
from factory.storage.base import is_shard_file, shard_name
from factory.storage.location import Location
from factory.storage.manifest import MANIFEST, check_file

STATE_DIR = ".factory"
RUN_FILE = f"{STATE_DIR}/run.json"
LOCK_FILE = f"{STATE_DIR}/lock"
PREVIEWS = "previews/episode_*"  # what `factory preview` writes into a dataset by default
TEMPORARY = ".*.tmp-*"  # what writers name a file until it is complete (see storage.location.atomic_path)


@dataclass(frozen=True)
class RunRecord:
    """The identity of a run, fixed by its first start."""

    recipe_hash: str
    episodes: int
    started: str
    recipe: dict[str, Any]


def check_output(out: Location, overwrite: bool) -> None:
    """Refuse an output that holds something other than this factory's runs; with `overwrite`,
    refuse one that holds anything the factory did not write (it may remove only its own files)."""
    names = [name for name in out.names() if name != STATE_DIR] if out.exists() else []
    if not names and not (out.exists() and out.links()):
        return
    ours = out.is_file(RUN_FILE) or out.is_file(MANIFEST)
    if not overwrite:
        if out.is_file(RUN_FILE):
            return
        if ours:
            raise StorageError(f"{out} already holds a dataset without a run record; pass --overwrite to "
                               "replace it or --out to write elsewhere")
        raise StorageError(f"{out} already holds other files ({_listing(names)}) and no dataset of this "
                           "factory; choose another --out")
    if not ours:
        raise StorageError(f"--overwrite replaces only a dataset this factory wrote, and {out} has no "
                           f"{MANIFEST} or {RUN_FILE}; it holds {_listing(names)}; choose another --out")
    foreign = [rel for rel in out.files() if not made_here(rel)] + [f"{rel} (a link)" for rel in out.links()]
    if foreign:
        raise StorageError(f"--overwrite removes only this factory's files, and {out} also holds "
                           f"{_listing(foreign)}; move them away or choose another --out")


def made_here(rel: str) -> bool:
    """Whether a file below an output is one the factory writes there."""
    return (rel in (MANIFEST, CARD, VALIDITY) or rel.startswith(f"{STATE_DIR}/") or is_shard_file(rel)
            or fnmatch.fnmatch(rel, PREVIEWS) or fnmatch.fnmatch(rel.rsplit("/", 1)[-1], TEMPORARY))


def remove_run(out: Location) -> None:
    """Delete the factory's files below `out` (but the lock the caller holds) and the folders they leave empty."""
    for rel in out.files():
        if made_here(rel) and rel != LOCK_FILE:
            out.remove(rel)
    out.prune()


def _listing(entries: list[str], most: int = 5) -> str:
    more = f" and {len(entries) - most} more" if len(entries) > most else ""
    return ", ".join(sorted(entries)[:most]) + more


def begin(out: Location, recipe: Recipe, episodes: int, overwrite: bool) -> tuple[RunRecord, bool]:
    """Start or continue the run at `out` (the caller holds its lock); True when continuing.

    A run record from an earlier start must match this recipe and episode count exactly: resuming
    with another recipe would mix two datasets in one folder.
    """
    if overwrite:
        remove_run(out)  # check_output made sure it holds nothing else
    if out.is_file(RUN_FILE):
        record = RunRecord(**json.loads(out.read_bytes(RUN_FILE)))
        _check_same(out, record, recipe, episodes)
        return record, True
    record = RunRecord(recipe_hash(recipe), episodes, datetime.now(UTC).isoformat(timespec="seconds"),
                       recipe.model_dump(mode="json"))
    _write_json(out, RUN_FILE, asdict(record))
    return record, False


def _check_same(out: Location, record: RunRecord, recipe: Recipe, episodes: int) -> None:
    if record.recipe_hash == recipe_hash(recipe) and record.episodes == episodes:
        return
    now = recipe.model_dump(mode="json")
    changed = sorted(k for k in set(now) | set(record.recipe) if now.get(k) != record.recipe.get(k))
    if record.episodes != episodes:
        changed.append(f"episodes to run ({record.episodes} → {episodes})")
    raise StorageError(f"{out} holds a run of a different recipe (changed: {', '.join(changed)}); run "
                       "the original recipe to resume it, pass --overwrite to start over, or --out to "
                       "write elsewhere")


def receipt_name(shard_id: int) -> str:
    """Where a shard's receipt lives, relative to the output."""
    return f"{STATE_DIR}/shards/{shard_name(shard_id)}.json"


def write_receipt(out: Location, receipt: dict[str, Any]) -> None:
    """Record a shard as finished; call only after all of its data files are in place."""
    _write_json(out, receipt_name(receipt["id"]), receipt)


def scan(out: Location, shards: list[Shard]) -> tuple[dict[int, dict[str, Any]], dict[int, str]]:
    """Split planned shards into finished ones (id → receipt) and the rest (id → why not)."""
    done, todo = {}, {}
    for shard in shards:
        problem = _receipt_problem(out, shard)
        if problem is None:
            done[shard.id] = json.loads(out.read_bytes(receipt_name(shard.id)))
        else:
            todo[shard.id] = problem
    return done, todo


def _receipt_problem(out: Location, shard: Shard) -> str | None:
    name = receipt_name(shard.id)
    if not out.is_file(name):
        return "not finished"
    try:
        receipt = json.loads(out.read_bytes(name))
    except ValueError:
        return "unreadable receipt"
    if receipt.get("episodes") != [shard.start, shard.stop]:
        return f"receipt covers episodes {receipt.get('episodes')}, not [{shard.start}, {shard.stop}]"
    for entry in receipt["files"]:
        if problem := check_file(out, entry):
            return problem
    return None


def remove_temporaries(out: Location) -> int:
    """Delete hidden half-written files a killed writer left behind; return how many."""
    stale = [rel for rel in out.files() if fnmatch.fnmatch(rel.rsplit("/", 1)[-1], TEMPORARY)]
    for rel in stale:
        out.remove(rel)
    return len(stale)


def _write_json(out: Location, rel: str, data: dict[str, Any]) -> None:
    out.write_bytes(rel, (json.dumps(data, indent=1) + "\n").encode())
