"""Assets the factory builds instead of loading: a mug as the exact convex parts that tile it.

A generated body needs no decomposition: its floor is one convex prism, its wall a ring of
trapezoidal prisms (the wall's polygon, chord by chord) and its handle a half ring of wedge
prisms. The parts meet face to face and never overlap, so their summed volume and inertia are the
mug's own, and every engine collides with exactly the body whose mass it was given.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from functools import lru_cache

import numpy as np
from scipy.spatial import ConvexHull

from factory.meshes.asset import MeshAsset, solid_properties
from factory.meshes.convex import Part

SECTIONS = 32  # chords of the wall's polygon
HANDLE_SEGMENTS = 8


@lru_cache(maxsize=256)
def mug_asset(radius: float, height: float, thickness: float, handle: bool) -> MeshAsset:
    """A mug standing on its floor, opening up (+z): outer `radius` and `height`, walls and floor
    `thickness` thick, with a half-ring handle on +x; centred on its centre of mass."""
    key = json.dumps({"mug": [radius, height, thickness, handle], "sections": SECTIONS})
    parts = _mug_parts(radius, height, thickness, handle)
    volume, com, inertia = solid_properties(parts)
    centred = tuple((v - com, f) for v, f in parts)
    return MeshAsset(None, hashlib.sha256(key.encode()).hexdigest(), 1.0, centred, volume, inertia, True)


def _mug_parts(radius: float, height: float, thickness: float, handle: bool) -> list[Part]:
    # chords centred on the axes' directions: the wall is flat where the handle meets it, at x = apothem
    angles = 2 * np.pi * (np.arange(SECTIONS + 1) + 0.5) / SECTIONS
    outer, inner = (np.stack([r * np.cos(angles), r * np.sin(angles)], axis=1) for r in (radius, radius - thickness))
    parts = [_prism(outer[:-1], 0.0, thickness)]
    parts += [_prism(np.array([inner[k], outer[k], outer[k + 1], inner[k + 1]]), thickness, height)
              for k in range(SECTIONS)]
    if handle:
        parts += _handle(radius * math.cos(math.pi / SECTIONS), height, thickness)
    return parts


def _handle(x0: float, height: float, thickness: float) -> list[Part]:
    """A half ring in the x-z plane whose two ends sit on the wall's flat face at x = x0."""
    centre, r = height / 2, height / 4
    bar = max(1.5 * thickness, r / 4)  # the handle's square cross-section
    angles = np.linspace(-np.pi / 2, np.pi / 2, HANDLE_SEGMENTS + 1)
    parts = []
    for a, b in itertools.pairwise(angles):
        corners = [(x0 + rad * math.cos(t), centre + rad * math.sin(t))
                   for t in (a, b) for rad in (r - bar / 2, r + bar / 2)]
        points = np.array([(x, y, z) for x, z in corners for y in (-bar / 2, bar / 2)])
        points[:, 0] = np.maximum(points[:, 0], x0)  # the ends' inner corners: on the wall, not inside it
        parts.append(_hull(points))
    return parts


def _prism(polygon: np.ndarray, z0: float, z1: float) -> Part:
    """The convex prism of a convex polygon (n, 2) between heights z0 and z1."""
    n = len(polygon)
    return _hull(np.concatenate([np.column_stack([polygon, np.full(n, z)]) for z in (z0, z1)]))


def _hull(points: np.ndarray) -> Part:
    """Vertices and outward triangles of the convex hull of `points`."""
    hull = ConvexHull(points)
    used = np.unique(hull.simplices)
    index = np.full(len(points), -1)
    index[used] = np.arange(len(used))
    faces = index[hull.simplices]
    vertices = points[used]
    centre = vertices.mean(axis=0)
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    inward = np.einsum("ij,ij->i", np.cross(b - a, c - a), a - centre) < 0
    faces[inward] = faces[inward][:, ::-1]
    return vertices.astype(np.float64), faces.astype(np.int64)
