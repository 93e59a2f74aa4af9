"""Auto-labels for cloth episodes: pure functions of vertex positions (T+1, N, 3) and the mesh edges."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class ClothContext:
    object_center: np.ndarray  # (3,) the object the cloth falls on (a sphere or a box)
    object_radius: float  # sphere radius, or half the box's horizontal extent
    object_top: float  # z of the object's top
    contact_distance: float  # vertices closer than this to the object's surface touch it
    ground_height: float


def neighbour_edges(pos0: np.ndarray, reach: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Edges between recorded vertices of the flat sheet at step 0: pairs closer than `reach` times
    the median nearest-neighbour distance. Returns (E, 2) indices (i < j, sorted) and their rest
    lengths. A k-d tree: the all-pairs matrix cost seconds per episode at 1,500 vertices."""
    tree = cKDTree(pos0)
    nearest, _ = tree.query(pos0, k=2)
    pairs = tree.query_pairs(reach * np.median(nearest[:, 1]), output_type="ndarray")
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))] if len(pairs) else np.zeros((0, 2), np.intp)
    return pairs, np.linalg.norm(pos0[pairs[:, 0]] - pos0[pairs[:, 1]], axis=-1)


def edge_strain(pos: np.ndarray, edges: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Relative stretch of every edge at every state: (T+1, N, 3) → (T+1, E)."""
    length = np.linalg.norm(pos[:, edges[:, 0]] - pos[:, edges[:, 1]], axis=-1)
    return length / rest - 1.0


def sphere_contact_fraction(pos: np.ndarray, center: np.ndarray, radius: float, distance: float) -> float:
    """Fraction of vertices within `distance` of a sphere's surface."""
    gap = np.linalg.norm(pos - center, axis=-1) - radius
    return float((gap <= distance).mean())


def covered_fraction(pos: np.ndarray, center: np.ndarray, radius: float, top: float, cells: int = 16) -> float:
    """Fraction of the object's top (its disk of `radius` seen from above) under cloth.

    The disk is gridded; a cell counts as covered when a vertex lies above it no lower than
    `radius` under the object's top.
    """
    edges = np.linspace(-radius, radius, cells + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    gx, gy = np.meshgrid(centres, centres, indexing="ij")
    in_disk = gx ** 2 + gy ** 2 <= radius ** 2
    near = pos[pos[:, 2] >= top - radius]
    rel = near[:, :2] - center[:2]
    ix = np.digitize(rel[:, 0], edges) - 1
    iy = np.digitize(rel[:, 1], edges) - 1
    ok = (ix >= 0) & (ix < cells) & (iy >= 0) & (iy < cells)
    hit = np.zeros((cells, cells), bool)
    hit[ix[ok], iy[ok]] = True
    return float((hit & in_disk).sum() / in_disk.sum())


def cloth_step_labels(pos: np.ndarray, ctx: ClothContext) -> dict[str, np.ndarray]:
    strain = edge_strain(pos[1:], *neighbour_edges(pos[0]))
    return {"max_strain": strain.max(axis=-1).astype(np.float32),
            "mean_height": pos[1:, :, 2].mean(axis=-1).astype(np.float32)}


def cloth_episode_labels(pos: np.ndarray, ctx: ClothContext) -> dict[str, float | int | bool]:
    final = pos[-1]
    contact = sphere_contact_fraction(final, ctx.object_center, ctx.object_radius, ctx.contact_distance)
    z = final[:, 2]
    return {
        "contact_fraction": contact,
        "covered_fraction": covered_fraction(final, ctx.object_center, ctx.object_radius, ctx.object_top),
        "max_edge_strain": float(edge_strain(pos, *neighbour_edges(pos[0])).max()),
        # slid off: nothing rests on the object and the sheet lies at floor level
        "slid_off": bool(contact < 0.01 and np.percentile(z, 90) < ctx.ground_height + 0.05),
        "final_height_mean": float(z.mean()),
        "final_height_min": float(z.min()),
        "final_height_max": float(z.max()),
        "final_height_std": float(z.std()),
    }
