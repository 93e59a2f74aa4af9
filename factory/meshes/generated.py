"""Containers the factory builds instead of loading (mug, bowl, bottle, tray) as the exact convex parts that
tile them.

A generated body needs no decomposition: a round one's floor is one convex prism, its wall a ring of
hexahedra (the wall's polygon, chord by chord: every face planar, so each piece is convex) and a
mug's handle a half ring of wedges; a tray is five boxes. The parts meet face to face and never
overlap, so their summed volume and inertia are the body's own, and every engine collides with
exactly the body whose mass it was given. Each opens up (+z) and is centred on its centre of mass.
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
    """A mug: outer `radius` and `height`, walls and floor `thickness` thick, a half-ring handle on +x."""
    parts = _round_parts([(thickness, radius), (height, radius)], thickness)
    if handle:
        parts += _handle(radius * math.cos(math.pi / SECTIONS), height, thickness)
    return _asset({"mug": [radius, height, thickness, handle]}, parts)


def mug_cavity(radius: float, height: float, thickness: float, handle: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """The mug's cavity in its body frame (centred on its centre of mass): the (lower, upper) corners of the
    box about it, floor top to rim, and its radius, the circle inscribed in the wall's inner polygon."""
    floor = mug_asset(radius, height, thickness, handle).parts[0][0]  # the floor prism: the first part
    axis, bottom = floor.mean(axis=0), float(floor[:, 2].min())
    inner = (radius - thickness) * math.cos(math.pi / SECTIONS)
    return (np.array([axis[0] - inner, axis[1] - inner, bottom + thickness]),
            np.array([axis[0] + inner, axis[1] + inner, bottom + height]), inner)


@lru_cache(maxsize=256)
def bowl_asset(radius: float, bottom_radius: float, height: float, thickness: float) -> MeshAsset:
    """A bowl (or a plate, kept low): a floor of `bottom_radius` and a straight wall flaring to the rim's
    outer `radius` at `height`; `thickness` is the floor's and the wall's, measured horizontally."""
    return _asset({"bowl": [radius, bottom_radius, height, thickness]},
                  _round_parts([(thickness, bottom_radius), (height, radius)], thickness))


@lru_cache(maxsize=256)
def bottle_asset(radius: float, height: float, neck_radius: float, neck_height: float, thickness: float) -> MeshAsset:
    """A bottle: a round body of outer `radius`, a 45° shoulder, and a neck of outer `neck_radius` and
    `neck_height` open at the top (`height` overall); `thickness` is measured horizontally."""
    shoulder = height - neck_height
    profile = [(thickness, radius), (shoulder - (radius - neck_radius), radius), (shoulder, neck_radius),
               (height, neck_radius)]
    return _asset({"bottle": [radius, height, neck_radius, neck_height, thickness]}, _round_parts(profile, thickness))


@lru_cache(maxsize=256)
def tray_asset(length: float, width: float, height: float, thickness: float) -> MeshAsset:
    """A tray: outer `length` (x) × `width` (y) × `height`, a floor and four walls `thickness` thick."""
    x, y, t = length / 2, width / 2, thickness
    boxes = [((-x, -y, 0.0), (x, y, t)),  # the floor, then the long walls full length, the short ones between
             ((-x, -y, t), (x, -y + t, height)), ((-x, y - t, t), (x, y, height)),
             ((-x, -y + t, t), (-x + t, y - t, height)), ((x - t, -y + t, t), (x, y - t, height))]
    parts = [_hull(np.array([(a, b, c) for a in (lo[0], hi[0]) for b in (lo[1], hi[1]) for c in (lo[2], hi[2])]))
             for lo, hi in boxes]
    return _asset({"tray": [length, width, height, thickness]}, parts)


def _asset(key: dict, parts: list[Part]) -> MeshAsset:
    """The body of `parts`, centred on its centre of mass; its sha256 names the generator and its sizes."""
    volume, com, inertia = solid_properties(parts)
    centred = tuple((v - com, f) for v, f in parts)
    digest = hashlib.sha256(json.dumps({**key, "sections": SECTIONS}).encode()).hexdigest()
    return MeshAsset(None, digest, 1.0, centred, volume, inertia, True)


def _round_parts(profile: list[tuple[float, float]], thickness: float) -> list[Part]:
    """A floor `thickness` thick and a wall whose outer radius runs straight between the `profile`'s
    (height, radius) points, the first at the floor's top (its radius is the floor's)."""
    # chords centred on the axes' directions: the wall is flat where a mug's handle meets it, at x = apothem
    angles = 2 * np.pi * (np.arange(SECTIONS + 1) + 0.5) / SECTIONS

    def ring(r: float, z: float) -> np.ndarray:
        return np.stack([r * np.cos(angles), r * np.sin(angles), np.full_like(angles, z)], axis=1)

    floor = profile[0][1]
    parts = [_hull(np.concatenate([ring(floor, 0.0)[:-1], ring(floor, thickness)[:-1]]))]
    for (z0, r0), (z1, r1) in itertools.pairwise(profile):
        rings = (ring(r0, z0), ring(r0 - thickness, z0), ring(r1, z1), ring(r1 - thickness, z1))
        parts += [_hull(np.stack([c[k + d] for c in rings for d in (0, 1)])) for k in range(SECTIONS)]
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
