"""What survives a killed run: a run record and one receipt per finished shard.

    OUT/.factory/run.json               recipe, its hash and episode count, written when the run starts
    OUT/.factory/shards/shard-NNNNN.json files (size, sha256), counts, quarantined episodes of one shard

A receipt is written atomically after its shard's data files, so it exists only for a complete
shard; a rerun trusts a shard only if its receipt is there and every file still hashes to it.
The hidden folder keeps these out of globs such as `parquet/**/*.parquet`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from factory.errors import StorageError
from factory.plan import Shard
from factory.recipe import Recipe
from factory.recipe_loader import recipe_hash
from factory.storage.base import atomic_path, shard_name
from factory.storage.manifest import MANIFEST, check_file

STATE_DIR = ".factory"
RUN_FILE = "run.json"
LOCK_FILE = "lock"


@dataclass(frozen=True)
class RunRecord:
    """The identity of a run, fixed by its first start."""

    recipe_hash: str
    episodes: int
    started: str
    recipe: dict[str, Any]


def check_output(out: Path, overwrite: bool) -> None:
    """Refuse an output folder that holds something other than this factory's runs, or a URL."""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:/", os.fspath(out)):
        raise StorageError(f"{out}: writing to URLs is not supported yet; give a local path (for a cluster, "
                           "one mounted at the same path on the client and every worker)")
    if overwrite or not out.exists() or (out / STATE_DIR / RUN_FILE).is_file():
        return
    if any(p.name != STATE_DIR for p in out.iterdir()):
        what = "a dataset without a run record" if (out / MANIFEST).exists() else "other files"
        raise StorageError(f"{out} already holds {what}; pass --overwrite to replace it or --out to "
                           "write elsewhere")


def begin(out: Path, recipe: Recipe, episodes: int, overwrite: bool) -> tuple[RunRecord, bool]:
    """Start or continue the run at `out` (the caller holds its lock); True when continuing.

    A run record from an earlier start must match this recipe and episode count exactly: resuming
    with another recipe would mix two datasets in one folder.
    """
    if overwrite:
        _clear(out)
    path = out / STATE_DIR / RUN_FILE
    if path.is_file():
        record = RunRecord(**json.loads(path.read_text()))
        _check_same(out, record, recipe, episodes)
        return record, True
    record = RunRecord(recipe_hash(recipe), episodes, datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       recipe.model_dump(mode="json"))
    _write_json(path, asdict(record))
    return record, False


def _check_same(out: Path, record: RunRecord, recipe: Recipe, episodes: int) -> None:
    if record.recipe_hash == recipe_hash(recipe) and record.episodes == episodes:
        return
    now = recipe.model_dump(mode="json")
    changed = sorted(k for k in set(now) | set(record.recipe) if now.get(k) != record.recipe.get(k))
    if record.episodes != episodes:
        changed.append(f"episodes to run ({record.episodes} → {episodes})")
    raise StorageError(f"{out} holds a run of a different recipe (changed: {', '.join(changed)}); run "
                       "the original recipe to resume it, pass --overwrite to start over, or --out to "
                       "write elsewhere")


def _clear(out: Path) -> None:
    """Remove everything under `out` except the lock file the caller holds."""
    for p in out.iterdir() if out.exists() else ():
        if p.name == STATE_DIR:
            for q in p.iterdir():
                if q.name != LOCK_FILE:
                    shutil.rmtree(q) if q.is_dir() else q.unlink()
        else:
            shutil.rmtree(p) if p.is_dir() else p.unlink()


def receipt_path(out: Path, shard_id: int) -> Path:
    return out / STATE_DIR / "shards" / f"{shard_name(shard_id)}.json"


def write_receipt(out: Path, receipt: dict[str, Any]) -> None:
    """Record a shard as finished; call only after all of its data files are in place."""
    _write_json(receipt_path(out, receipt["id"]), receipt)


def scan(out: Path, shards: list[Shard]) -> tuple[dict[int, dict[str, Any]], dict[int, str]]:
    """Split planned shards into finished ones (id → receipt) and the rest (id → why not)."""
    done, todo = {}, {}
    for shard in shards:
        problem = _receipt_problem(out, shard)
        if problem is None:
            done[shard.id] = json.loads(receipt_path(out, shard.id).read_text())
        else:
            todo[shard.id] = problem
    return done, todo


def _receipt_problem(out: Path, shard: Shard) -> str | None:
    path = receipt_path(out, shard.id)
    if not path.is_file():
        return "not finished"
    try:
        receipt = json.loads(path.read_text())
    except ValueError:
        return "unreadable receipt"
    if receipt.get("episodes") != [shard.start, shard.stop]:
        return f"receipt covers episodes {receipt.get('episodes')}, not [{shard.start}, {shard.stop}]"
    for entry in receipt["files"]:
        if problem := check_file(out, entry):
            return problem
    return None


def remove_temporaries(out: Path) -> int:
    """Delete hidden half-written files a killed writer left behind; return how many."""
    stale = [p for p in out.rglob(".*.tmp-*") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1) + "\n")
