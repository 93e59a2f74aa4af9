"""manifest.json: what a dataset holds and how to make it again.

Written last, atomically, by the process that planned the run; a dataset without a manifest
is incomplete and readers refuse it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from factory.errors import StorageError
from factory.storage.base import atomic_path

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_entry(root: Path, rel: Path) -> dict[str, Any]:
    path = root / rel
    return {"path": rel.as_posix(), "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def check_file(root: Path, entry: dict[str, Any]) -> str | None:
    """What is wrong with the file a manifest or receipt entry describes, or None if it matches."""
    path = Path(root) / entry["path"]
    if not path.is_file():
        return f"{entry['path']}: missing"
    size = path.stat().st_size
    if size != entry["bytes"]:
        return f"{entry['path']}: {size} bytes, expected {entry['bytes']} (truncated or replaced)"
    if sha256_file(path) != entry["sha256"]:
        return f"{entry['path']}: sha256 does not match (corrupt)"
    return None


def write_manifest(root: Path, manifest: dict[str, Any]) -> Path:
    path = root / MANIFEST
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=False, default=_jsonable) + "\n")
    return path


def read_manifest(root: Path) -> dict[str, Any]:
    path = Path(root) / MANIFEST
    if not path.is_file():
        hint = " (an interrupted run? run the same command again to finish it)" if Path(root).is_dir() else ""
        raise StorageError(f"{root}: no {MANIFEST}; not a complete dataset{hint}")
    manifest = json.loads(path.read_text())
    if manifest.get("format_version") != FORMAT_VERSION:
        raise StorageError(f"{path}: format_version {manifest.get('format_version')} is not "
                           f"{FORMAT_VERSION}, which this factory reads")
    return manifest


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
