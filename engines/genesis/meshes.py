"""A mesh object as a Genesis body: an MJCF file of the factory's convex parts and inertial.

Genesis would otherwise decimate a mesh file, decompose it with its own CoACD settings and compute
its inertia from what it kept; loading the parts as an MJCF body (`factory.meshes.mjcf`), with
decimation and decomposition off, it collides with the same geometry as MuJoCo and weighs the same.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from factory.meshes import MeshAsset
from factory.meshes.mjcf import mesh_assets, mesh_body


def mesh_morph(gs, name: str, asset: MeshAsset, mass: float, free: bool):
    """The object's morph, at a placeholder pose (each env sets its own). `align=False` keeps the body frame
    the factory wrote: Genesis would otherwise move a free body's frame onto its principal axes of
    inertia, and report that frame's orientation instead of the mesh's (and refuse per-env masses)."""
    return gs.morphs.MJCF(file=_mjcf_file(name, asset, mass, free), pos=(0.0, 0.0, 0.0), convexify=True,
                          decimate=False, decompose_robot_error_threshold=float("inf"), align=False)


def _mjcf_file(name: str, asset: MeshAsset, mass: float, free: bool) -> str:
    """Path of the MJCF file (written once per content, in the temp folder)."""
    joint = "<freejoint/>" if free else ""
    xml = (f'<mujoco model="{name}"><asset>{"".join(mesh_assets(name, asset))}</asset><worldbody>'
           f'<body name="{name}">{joint}{mesh_body(name, asset, mass)}</body></worldbody></mujoco>\n')
    folder = Path(tempfile.gettempdir()) / "physics-factory-meshes"
    folder.mkdir(exist_ok=True)
    path = folder / f"{hashlib.sha256(xml.encode()).hexdigest()[:16]}.xml"
    if not path.exists():  # written whole under a private name, then renamed: concurrent workers agree
        handle, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(handle, "w") as f:
            f.write(xml)
        os.replace(tmp, path)
    return str(path)
