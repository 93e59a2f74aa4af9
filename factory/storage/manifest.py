"""manifest.json: what a dataset holds and how to make it again.

Written last, atomically, by the process that planned the run; a dataset without a manifest
is incomplete and readers refuse it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from factory.errors import StorageError
from factory.storage.location import Location, location, sha256_stream

MANIFEST = "manifest.json"
FORMAT_VERSION = 3  # 3: HDF5 arrays one dataset per shard (episodes by offset); 2: a group per episode
READABLE_VERSIONS = (1, 2, 3)  # versions 1 and 2 differ in their HDF5 files only: their Parquet files read as today
# what a run's manifest holds today (and `meshes` where the scene has mesh bodies); a manifest written by an
# earlier factory may lack some: the card and `verify` name them rather than fail
WRITTEN_FIELDS = ("format_version", "factory_version", "created", "command", "recipe_path", "recipe", "recipe_hash",
                  "seed", "engine", "git_commit", "python", "platform", "formats", "layout", "features",
                  "episode_params", "counts", "shards", "quarantined", "documents")


def missing_fields(manifest: dict[str, Any]) -> list[str]:
    """The fields a manifest written today holds that this one does not (`counts.quarantined` too)."""
    missing = [k for k in WRITTEN_FIELDS if k not in manifest]
    return missing + ([] if "quarantined" in manifest.get("counts", {}) else ["counts.quarantined"])


def older_manifest_note(manifest: dict[str, Any]) -> str | None:
    """One line on what an earlier factory's manifest lacks, or None when it has all a run writes today."""
    missing = missing_fields(manifest)
    if not missing:
        return None
    made = f"format_version {manifest.get('format_version')}, factory {manifest.get('factory_version', '?')}"
    return (f"this manifest ({made}; this factory writes format_version {FORMAT_VERSION}) does not record: "
            f"{', '.join(missing)}" + ("; no card or certificate: `factory card DATASET` writes them"
                                       if "documents" in missing else ""))


def file_entry(root: Path, rel: Path) -> dict[str, Any]:
    """Size and sha256 of a file just written under the local folder `root`."""
    path = root / rel
    with open(path, "rb") as f:
        digest = sha256_stream(f)
    return {"path": rel.as_posix(), "bytes": path.stat().st_size, "sha256": digest}


def check_file(root: Location, entry: dict[str, Any]) -> str | None:
    """What is wrong with the file a manifest or receipt entry describes, or None if it matches."""
    rel = entry["path"]
    size = root.size(rel)
    if size is None:
        return f"{rel}: missing"
    if size != entry["bytes"]:
        return f"{rel}: {size} bytes, expected {entry['bytes']} (truncated or replaced)"
    if root.sha256(rel) != entry["sha256"]:
        return f"{rel}: sha256 does not match (corrupt)"
    return None


def write_manifest(root: str | os.PathLike[str] | Location, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=2, sort_keys=False, default=_jsonable) + "\n"
    location(root).write_bytes(MANIFEST, text.encode())


def read_manifest(root: str | os.PathLike[str] | Location) -> dict[str, Any]:
    root = location(root)
    if not root.is_file(MANIFEST):
        hint = " (an interrupted run? run the same command again to finish it)" if root.exists() else ""
        raise StorageError(f"{root}: no {MANIFEST}; not a complete dataset{hint}")
    manifest = json.loads(root.read_bytes(MANIFEST))
    if manifest.get("format_version") not in READABLE_VERSIONS:
        raise StorageError(f"{root}/{MANIFEST}: format_version {manifest.get('format_version')} is not one "
                           f"this factory reads ({', '.join(map(str, READABLE_VERSIONS))})")
    return manifest


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
