"""Mesh shapes of the recipe: one file, or a set drawn from per scene variant (and, with the generated
containers of `factory.recipe.generated`, the bodies built from convex parts); and their checks.

A file is named by a path (relative to the recipe's folder) or as `package:path` inside an installed
Python package (`genesis:assets/meshes/bunny.obj`). The loader makes relative paths absolute, so a
resolved recipe (and the manifest holding it) finds its files from any working directory, and it
loads every mesh once to refuse what cannot become a body, with the YAML line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from factory.errors import MeshError
from factory.meshes import Decomposition, MeshAsset, file_sha256, mesh_asset, resolve, set_files
from factory.meshes.files import package_ref
from factory.recipe.distributions import Choice, nominal, support
from factory.recipe.field_types import Num, Strict, require_range
from factory.recipe.generated import GENERATED_SHAPES, GENERATED_TYPES, GeneratedShape, generated_asset, largest

FILE_HELP = ("An OBJ, STL, glTF or GLB file: a path (relative to the recipe's folder) or 'package:path' inside "
             "an installed Python package, e.g. 'genesis:assets/meshes/bunny.obj'.")


class DecomposeOptions(Strict):
    """CoACD's settings for `collision: decompose` (its results are cached per file and settings)."""

    threshold: float = Field(0.05, gt=0, le=1, description="Concavity each part may keep; smaller: more parts.")
    max_parts: int = Field(-1, ge=-1, description="At most this many parts; -1: as many as the threshold needs.")
    resolution: int = Field(2000, ge=100, description="Sampling resolution of the concavity measure.")
    preprocess: Literal["auto", "on", "off"] = Field("auto", description="Remesh the input first "
                                                     "(auto: when it is not manifold).")
    seed: int = Field(0, ge=0)


class _FileShape(Strict):
    """What the shapes made from mesh files share: their scale and the collision geometry asked for."""

    scale: Num = Field(1.0, description="Uniform scale from the file's units to metres; a scene field.")
    collision: Literal["convex_hull", "decompose"] = Field(
        "convex_hull", description="The collision geometry every engine gets: the mesh's convex hull, or "
        "its CoACD convex decomposition (for concave objects: a mug, a bowl).")
    decompose: DecomposeOptions = Field(default_factory=DecomposeOptions)

    def validate_physical(self) -> None:
        require_range(self.scale, "shape.scale", 0.0)

    def decomposition(self) -> Decomposition | None:
        return Decomposition(**self.decompose.model_dump()) if self.collision == "decompose" else None


class MeshShape(_FileShape):
    """A rigid body of a mesh file; its `pos` is the mesh's centre of mass."""

    type: Literal["mesh"]
    file: str = Field(min_length=1, description=FILE_HELP)

    def members(self) -> list[Path]:
        return [resolve(self.file)]


class MeshSetShape(_FileShape):
    """One mesh file per scene variant, drawn from a folder's mesh files or a list."""

    type: Literal["mesh_set"]
    dir: str | None = Field(None, description="A folder (path or 'package:path'): its OBJ, STL, glTF and GLB "
                            "files, sorted by name.")
    files: list[str] | None = Field(None, min_length=1, description="The set's files, in order. " + FILE_HELP)
    pick: float | None = Field(None, ge=0, description="Set by the factory for each scene variant: the drawn "
                               "file's index in the set (parameter `<object>.mesh`); leave it unset.")

    @model_validator(mode="after")
    def _one_source(self) -> MeshSetShape:
        if (self.dir is None) == (self.files is None):
            raise ValueError("dir: give exactly one of 'dir' (a folder) or 'files' (a list)")
        return self

    def members(self) -> list[Path]:
        return set_files(resolve(self.dir)) if self.dir is not None else [resolve(f) for f in self.files or ()]


FILE_TYPES = ("mesh", "mesh_set")
MESH_TYPES = (*FILE_TYPES, *GENERATED_TYPES)  # bodies built from convex parts rather than primitives
MeshBody = MeshShape | MeshSetShape | GeneratedShape
FILE_SHAPES = (MeshShape, MeshSetShape)
MESH_SHAPES = (*FILE_SHAPES, *GENERATED_SHAPES)  # for isinstance, which narrows types where `type` does not


def pick_field(shape: MeshSetShape) -> Num:
    """The set's file index as a scene field: drawn uniformly over the set, or the pinned index."""
    return shape.pick if shape.pick is not None else Choice(type="choice", values=list(range(len(shape.members()))))


def shape_asset(shape: MeshBody, drawn: Mapping[str, float] | None = None) -> MeshAsset:
    """The body a shape makes with its scene values `drawn` (keys `mesh`, `scale`, `radius`, …, as in the
    object's parameters); a value not given is the shape's pinned or nominal one."""
    drawn = drawn or {}
    if not isinstance(shape, FILE_SHAPES):
        return generated_asset(shape, drawn)
    pick = drawn.get("mesh", getattr(shape, "pick", None) or 0)
    return mesh_asset(shape.members()[int(pick)], drawn.get("scale", nominal(shape.scale)), shape.decomposition())


def reach(shape: MeshBody) -> float:
    """Radius of a sphere about the centre of mass holding every body the shape can make, at its largest."""
    if not isinstance(shape, FILE_SHAPES):
        return generated_asset(shape, largest(shape)).radius()
    scale = support(shape.scale)[1]
    return max(shape_asset(shape, {"mesh": k, "scale": scale}).radius() for k in range(len(shape.members())))


# ---------------------------------------------------------------- loading
def absolute_paths(data: Any, base: Path) -> None:
    """Make the recipe's relative mesh paths absolute against `base` (the recipe's folder), in place."""
    scene = data.get("scene") if isinstance(data, dict) else None
    objects = scene.get("objects") if isinstance(scene, dict) else None
    for obj in objects if isinstance(objects, list) else []:
        shape = obj.get("shape") if isinstance(obj, dict) else None
        if not isinstance(shape, dict) or shape.get("type") not in FILE_TYPES:
            continue
        for key in ("file", "dir"):
            if isinstance(shape.get(key), str):
                shape[key] = _absolute(shape[key], base)
        if isinstance(shape.get("files"), list):
            shape["files"] = [_absolute(f, base) if isinstance(f, str) else f for f in shape["files"]]


def _absolute(ref: str, base: Path) -> str:
    return ref if package_ref(ref) is not None or not ref else str(resolve(ref, base).resolve())


def mesh_problems(objects: list) -> list[tuple[tuple[str | int, ...], str]]:
    """(location, message) of every mesh that cannot become its object's body: a file missing,
    unreadable or empty, a set with no files, a decomposition that fails, an open mesh weighed by density."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for i, obj in enumerate(objects):
        shape, at = obj.shape, ("scene", "objects", i, "shape")
        if not isinstance(shape, FILE_SHAPES):
            continue
        try:
            members = shape.members()
        except MeshError as exc:
            field = "file" if shape.type != "mesh_set" else "files" if shape.files else "dir"
            problems.append(((*at, field), str(exc)))
            continue
        for k, path in enumerate(members):
            where: tuple[str | int, ...] = ((*at, "file") if isinstance(shape, MeshShape) else
                                            (*at, "files", k) if shape.files else (*at, "dir"))
            try:
                asset = mesh_asset(path, support(shape.scale)[1], shape.decomposition())
            except MeshError as exc:
                problems.append((where, str(exc)))
                continue
            if obj.mass is None and not obj.fixed and not asset.watertight:
                problems.append(((*at[:-1], "density"), f"{path} is not watertight, so it has no volume to weigh "
                                 "by density: give the object's `mass` (kg) instead, or repair the mesh (close its "
                                 "holes)"))
    return problems


def mesh_table(objects: list) -> dict[str, list[dict[str, object]]]:
    """Each mesh object's files as the manifest lists them: index (the episode parameter `<object>.mesh`
    of a set), file and sha256, so a dataset says exactly which asset each episode used."""
    return {obj.name: [{"index": k, "file": str(path), "sha256": file_sha256(path)}
                       for k, path in enumerate(obj.shape.members())]
            for obj in objects if obj.shape.type in FILE_TYPES}
