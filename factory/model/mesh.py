"""Mesh edges of a cloth's recorded vertices, for the MeshGraphNets-style particle model.

Datasets record a fixed random subset of the sheet's vertices, not its faces, so the mesh is
rebuilt from the rest shape (the flat sheet of the first state): a Delaunay triangulation in the
sheet's own plane. On a sheet that starts flat this is the triangle mesh of the recorded vertices;
it only depends on rest (mesh-space) coordinates, so it stays fixed however the sheet later folds.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import Delaunay


def plane_coordinates(rest: np.ndarray) -> np.ndarray:
    """(N, 3) points → (N, 2) coordinates in their best-fitting plane (the two main axes)."""
    centred = rest - rest.mean(0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    return centred @ axes[:2].T


def mesh_edges(rest: np.ndarray, max_ratio: float = 3.0) -> np.ndarray:
    """Directed edges (2, E), both directions, of the triangle mesh over rest positions (N, 3).

    Triangle edges longer than `max_ratio` × the median edge length are dropped: on a random
    subset the convex hull's border adds long slivers that join vertices not neighbours on the sheet.
    """
    tri = Delaunay(plane_coordinates(np.asarray(rest, np.float64))).simplices
    pairs = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
    pairs = np.unique(np.sort(pairs, 1), axis=0)
    length = np.linalg.norm(rest[pairs[:, 0]] - rest[pairs[:, 1]], axis=-1)
    pairs = pairs[length <= max_ratio * np.median(length)]
    return np.concatenate([pairs.T, pairs.T[::-1]], 1).astype(np.int64)


def batch_edges(per_graph: list[np.ndarray], n: int) -> np.ndarray:
    """Edges of several graphs of `n` nodes each as one graph with flat node ids (g * n + i)."""
    return np.concatenate([e + g * n for g, e in enumerate(per_graph)], 1) if per_graph else np.zeros((2, 0), np.int64)
