"""A mesh file as a rigid body: its convex parts, volume and inertia, centred on its centre of mass.

An object's `pos` is its centre of mass, as a primitive's is its centre, so both engines report the
same point and a resting body's height follows from its parts alone. Mass properties come from the
mesh itself where it is watertight (a mug's hull would overstate its volume); an open mesh has no
inside, so its parts' solids stand in for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from factory.errors import MeshError
from factory.meshes.convex import Decomposition, Part, convex_parts
from factory.meshes.files import sha256_file


@dataclass(frozen=True, eq=False)
class MeshAsset:
    """One mesh file (or a generated body) at one scale, in its body frame (centre of mass at the origin,
    the file's axes, a glTF's turned to +Z up)."""

    file: Path | None  # None for a body the factory generated (`factory.meshes.generated`)
    sha256: str
    scale: float
    parts: tuple[Part, ...]  # convex collision parts
    volume: float  # m³: the mesh's own where watertight, else its parts' summed
    inertia: np.ndarray  # (3, 3) inertia tensor per kg of mass about the centre of mass
    watertight: bool

    def radius(self) -> float:
        """Distance from the centre of mass to the farthest point of the body."""
        return float(max(np.linalg.norm(v, axis=1).max() for v, _ in self.parts))

    def lowest(self, rotation: np.ndarray | None = None) -> float:
        """How far the body's lowest point lies below its centre of mass, turned by `rotation` (3, 3)."""
        points = np.concatenate([v for v, _ in self.parts])
        return float(-(points @ (np.eye(3) if rotation is None else rotation).T)[:, 2].min())


def mesh_asset(file: Path, scale: float, decomposition: Decomposition | None) -> MeshAsset:
    """The body of mesh `file` scaled by `scale`, with its hull (`decomposition` None) or CoACD parts."""
    if not scale > 0:
        raise MeshError(f"{file}: scale must be > 0, got {scale:g}")
    base = _unscaled(str(file), file_sha256(file), decomposition)
    parts = tuple((v * scale, f) for v, f in base.parts)
    return MeshAsset(file, base.sha256, scale, parts, base.volume * scale ** 3, base.inertia * scale ** 2,
                     base.watertight)


def file_sha256(file: Path) -> str:
    """sha256 of a file, remembered while its size and modification time stay the same."""
    try:
        stat = os.stat(file)
    except OSError as exc:
        raise MeshError(f"{file}: {(exc.strerror or str(exc)).lower()}") from None
    return _sha256(str(file), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _sha256(file: str, mtime_ns: int, size: int) -> str:
    return sha256_file(Path(file))


@lru_cache(maxsize=64)
def _unscaled(file: str, sha256: str, decomposition: Decomposition | None) -> MeshAsset:
    mesh = load_mesh(Path(file))
    # the cached parts are of the vertices as loaded: a Y-up file's turned ones get their own entry
    key = f"{sha256}:z-up" if y_up(Path(file)) else sha256
    try:
        parts = convex_parts(np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64), key,
                             decomposition)
    except MeshError as exc:
        raise MeshError(f"{file}: {exc}") from None
    if mesh.is_watertight:
        volume, com, inertia = _properties(mesh)
    else:  # an open mesh has no inside: its convex parts stand in for it (overlaps count twice)
        volume, com, inertia = solid_properties(parts)
    centred = tuple((v - com, f) for v, f in parts)
    return MeshAsset(Path(file), sha256, 1.0, centred, volume, inertia, bool(mesh.is_watertight))


Y_UP_SUFFIXES = (".glb", ".gltf")  # glTF 2.0 fixes +Y as up; the factory's up is +Z
Y_TO_Z_UP = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])


def y_up(file: Path) -> bool:
    return file.suffix.lower() in Y_UP_SUFFIXES


def load_mesh(file: Path):
    """The file as one triangle mesh in the factory's axes (+Z up), outward-facing: a glTF scene's meshes
    joined through its node transforms, then turned +90° about x (the file's +Y up becomes +Z, its +Z
    front becomes -Y), as Blender imports glTF."""
    import trimesh

    if not file.is_file():
        raise MeshError(f"{file}: no such file")
    try:
        mesh = trimesh.load(file, force="mesh")
    except Exception as exc:  # trimesh raises whatever its parser does
        raise MeshError(f"{file}: cannot read it as a mesh ({type(exc).__name__}: {exc})") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise MeshError(f"{file}: holds no triangles")
    if y_up(file):
        mesh.apply_transform(Y_TO_Z_UP)
    if mesh.is_watertight and mesh.volume < 0:  # inward-facing triangles: trimesh's volume is negative
        mesh.invert()
    return mesh


def solid_properties(parts: list[Part]) -> tuple[float, np.ndarray, np.ndarray]:
    """Volume, centre of mass and inertia per kg of the solid the closed `parts` make together."""
    import trimesh

    return _properties(trimesh.util.concatenate([trimesh.Trimesh(v, f, process=False) for v, f in parts]))


def _properties(mesh) -> tuple[float, np.ndarray, np.ndarray]:
    """A closed mesh's volume, centre of mass and inertia tensor per kg about it (trimesh: density 1)."""
    volume = float(mesh.volume)
    return (volume, np.asarray(mesh.center_mass, np.float64),
            np.asarray(mesh.moment_inertia, np.float64) / volume)
