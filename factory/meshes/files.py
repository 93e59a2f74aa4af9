"""Where a recipe's mesh reference points: a path, or a file inside an installed Python package.

`genesis:assets/meshes/bunny.obj` names `assets/meshes/bunny.obj` inside the installed `genesis`
package, found without importing it (importing Genesis takes seconds), so shipped assets are used in
place and a recipe does not depend on where a machine installed them.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

from factory.errors import MeshError
from factory.registry import package_dir

MESH_SUFFIXES = (".obj", ".stl", ".glb", ".gltf")
_PACKAGE_REF = re.compile(r"^([A-Za-z_][A-Za-z0-9_]+):(?!//)(.+)$")  # two letters at least: not a drive


def package_ref(ref: str) -> tuple[str, str] | None:
    """(package, path inside it) of a `package:path` reference, else None."""
    match = _PACKAGE_REF.match(ref)
    return (match[1], match[2]) if match else None


def resolve(ref: str, base: Path | None = None) -> Path:
    """The file or folder `ref` names: `package:path` inside that installed package, else a path
    (relative ones against `base`, the recipe's folder, or the working directory)."""
    if (parts := package_ref(ref)) is not None:
        return _package_dir(parts[0]) / parts[1]
    path = Path(ref).expanduser()
    return path if path.is_absolute() or base is None else base / path


@lru_cache(maxsize=32)
def _package_dir(name: str) -> Path:
    found = package_dir(name)
    if found is None:
        raise MeshError(f"'{name}:' names a Python package, and no package '{name}' is installed")
    return found


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def set_files(folder: Path) -> list[Path]:
    """The mesh files directly in `folder`, sorted by name: a set's order, so index k is one file anywhere."""
    if not folder.is_dir():
        raise MeshError(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MESH_SUFFIXES)
    if not files:
        raise MeshError(f"{folder}: no mesh files in the folder (looked for {', '.join(MESH_SUFFIXES)})")
    return files
