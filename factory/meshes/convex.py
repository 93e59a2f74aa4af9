"""A mesh's convex parts, the collision geometry every engine is handed: its hull, or CoACD's
approximate convex decomposition, cached on disk.

CoACD takes seconds to minutes per mesh, so its parts are kept under
`$XDG_CACHE_HOME/physics-data-factory/convex/` (default `~/.cache`), keyed by the file's sha256 and
the settings; a cached file is written whole under a private name and renamed, so concurrent
workers agree and a later run reads the same bytes back.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from factory.errors import MeshError

Part = tuple[np.ndarray, np.ndarray]  # vertices (n, 3) float64, triangles (m, 3) int64
_FORMAT = 1  # bump when the cached layout or what is cached changes


@dataclass(frozen=True)
class Decomposition:
    """CoACD's settings that change its parts (see `coacd.run_coacd`)."""

    threshold: float = 0.05  # concavity each part may keep: smaller gives more, tighter parts
    max_parts: int = -1  # -1: as many as the threshold needs
    resolution: int = 2000  # sampling resolution of the concavity measure
    preprocess: str = "auto"  # remesh the input first: "auto" (when not manifold), "on", "off"
    seed: int = 0


def cache_dir() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "physics-data-factory" / "convex"


def convex_parts(vertices: np.ndarray, faces: np.ndarray, mesh_key: str,
                 decomposition: Decomposition | None) -> list[Part]:
    """The convex hull of the mesh (`decomposition` None) or its CoACD parts, from the cache when there;
    `mesh_key` names the vertices (the file's sha256, marked where the loader turned them)."""
    key = json.dumps({"format": _FORMAT, "mesh": mesh_key,
                      "decompose": asdict(decomposition) if decomposition else None}, sort_keys=True)
    path = cache_dir() / f"{hashlib.sha256(key.encode()).hexdigest()}.npy"
    if path.exists():
        return _read(path)
    parts = _hull(vertices, faces) if decomposition is None else _decompose(vertices, faces, decomposition)
    _write(path, parts)
    return _read(path)  # what a later run reads: the same numbers whether or not this one computed them


def _hull(vertices: np.ndarray, faces: np.ndarray) -> list[Part]:
    import trimesh

    hull = trimesh.Trimesh(vertices, faces, process=False).convex_hull
    return [(np.asarray(hull.vertices, np.float64), np.asarray(hull.faces, np.int64))]


def _decompose(vertices: np.ndarray, faces: np.ndarray, settings: Decomposition) -> list[Part]:
    import coacd  # type: ignore[import-untyped]

    coacd.set_log_level("error")
    try:
        parts = coacd.run_coacd(coacd.Mesh(vertices, faces), threshold=settings.threshold,
                                max_convex_hull=settings.max_parts, resolution=settings.resolution,
                                preprocess_mode=settings.preprocess, seed=settings.seed)
    except Exception as exc:  # CoACD raises plain RuntimeErrors from C++
        raise MeshError(f"the convex decomposition failed: {exc}") from None
    parts = [(np.asarray(v, np.float64), np.asarray(f, np.int64)) for v, f in parts if len(f) >= 4]
    if not parts:
        raise MeshError("the convex decomposition gave no solid part; try collision: convex_hull")
    return parts


def _write(path: Path, parts: list[Part]) -> None:
    """One .npy stream after another: counts (k, 2), then all vertices, then all triangles."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")  # private to this writer, thread or process
    with os.fdopen(handle, "wb") as f:
        np.save(f, np.array([(len(v), len(t)) for v, t in parts], np.int64))
        np.save(f, np.concatenate([v for v, _ in parts]))
        np.save(f, np.concatenate([t for _, t in parts]))
    os.replace(tmp, path)


def _read(path: Path) -> list[Part]:
    with open(path, "rb") as f:
        counts, vertices, faces = np.load(f), np.load(f), np.load(f)
    v_at, f_at = np.cumsum(counts[:, 0])[:-1], np.cumsum(counts[:, 1])[:-1]
    return list(zip(np.split(vertices, v_at), np.split(faces, f_at), strict=True))
