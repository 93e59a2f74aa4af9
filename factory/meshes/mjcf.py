"""A mesh body in MJCF, the format both engine adapters read: one mesh asset and geom per convex
part, and an explicit inertial.

MuJoCo collides a mesh geom as its convex hull, and Genesis loads an MJCF body's meshes with only a
hull taken again, so handing each convex part (`factory.meshes.convex`) as its own mesh gives both
the same collision geometry. The inertial comes from the mesh itself: computed from the parts, it
would overstate a concave body's volume.
"""

from __future__ import annotations

import numpy as np

from factory.meshes.asset import MeshAsset


def part_names(name: str, asset: MeshAsset) -> list[str]:
    return [f"{name}.part{k}" for k in range(len(asset.parts))]


def mesh_assets(name: str, asset: MeshAsset) -> list[str]:
    """The `<mesh>` elements of the object's parts, vertices inline (no file to find)."""
    return [f'<mesh name="{part}" vertex="{_numbers(v.ravel())}" face="{" ".join(map(str, f.ravel()))}"/>'
            for part, (v, f) in zip(part_names(name, asset), asset.parts, strict=True)]


def mesh_body(name: str, asset: MeshAsset, mass: float) -> str:
    """The body's inertial at `mass` (centre of mass at the body origin) and a geom per part."""
    i = asset.inertia * mass
    full = _numbers([i[0, 0], i[1, 1], i[2, 2], i[0, 1], i[0, 2], i[1, 2]])
    geoms = "".join(f'<geom name="{part}" type="mesh" mesh="{part}"/>' for part in part_names(name, asset))
    return f'<inertial pos="0 0 0" mass="{mass!r}" fullinertia="{full}"/>{geoms}'


def _numbers(values) -> str:
    return " ".join(repr(float(x)) for x in np.asarray(values, np.float64))
