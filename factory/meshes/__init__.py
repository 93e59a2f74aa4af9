"""Mesh files as rigid bodies: where a file reference points, and the convex parts, volume and
inertia both engines build from, so every engine collides with the same geometry and weighs the
same body. Below the recipe layer: it knows files and numbers, not recipes."""

from factory.meshes.asset import MeshAsset, file_sha256, mesh_asset
from factory.meshes.convex import Decomposition
from factory.meshes.files import MESH_SUFFIXES, resolve, set_files

__all__ = ["MESH_SUFFIXES", "Decomposition", "MeshAsset", "file_sha256", "mesh_asset", "resolve", "set_files"]
