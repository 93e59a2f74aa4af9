"""Render the recipe's cameras on Genesis: rgb, depth (metres) and layout-body segmentation frames.

Genesis' rasterizer (pyrender over OpenGL) draws env 0 of the batched scene, through EGL (on a machine
without a GPU, Mesa's software llvmpipe) or OSMesa, which Genesis itself selects on a headless Linux
machine without EGL (`PYOPENGL_PLATFORM`, read by `renderer()`). After a batch is stepped,
each episode's recorded states are set into env 0 one by one and every camera is shot, so an episode's
frames depend only on its states (not on its batch or env slot), and the simulation is untouched: every
batch starts from the scene's checkpoint. Only rigid scenes without robots are filmed: liquid
particles, cloth vertices and robot joints would have to be put back per frame as well.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from factory.contract.cameras import world_pose
from factory.contract.rollout import Layout, Rollout
from factory.contract.sampling import EpisodeSpec
from factory.errors import EngineUnsupported
from factory.recipe.cameras import Camera
from factory.recipe.containers import rotation_matrices
from factory.recipe.distributions import nominal
from factory.recipe.schema import Recipe

FAR = 100.0  # m, Genesis' far plane: the depth where nothing is seen


def check_cameras(recipe: Recipe) -> None:
    """Refuse what this adapter cannot film, before anything is built."""
    if recipe.kind != "collision":
        raise EngineUnsupported(f"cameras: Genesis films rigid (collision) scenes only; this is a '{recipe.kind}' "
                                "recipe (its particles would have to be set back per frame): use engine: mujoco "
                                "or drop cameras")
    if recipe.robots:
        raise EngineUnsupported("cameras: Genesis films scenes without robots so far (a robot's links would need "
                                "segmenting link by link and its joints set back per frame): use engine: mujoco")
    if recipe.lighting is not None:
        raise EngineUnsupported("lighting: Genesis' rasterizer fixes its lights when the scene is built, so they "
                                "cannot be drawn per episode: use engine: mujoco or drop lighting")


def vis_options(gs) -> Any:
    """Only env 0 is drawn (the frames are rendered there), segmented by entity, without shadows (as MuJoCo's)."""
    return gs.options.VisOptions(rendered_envs_idx=[0], segmentation_level="entity", shadow=False)


def add_cameras(scene, cameras: list[Camera]) -> list:
    """The scene's Genesis cameras, added before it is built, at their nominal poses (each frame sets its own)."""
    return [scene.add_camera(res=tuple(c.resolution), pos=tuple(nominal(v) for v in c.position),
                             lookat=tuple(nominal(v) for v in c.look_at), up=tuple(c.up), fov=c.fov, far=FAR,
                             GUI=False, env_idx=0)
            for c in cameras]


class Film:
    """Shoots the built scene's cameras from an episode's recorded states, in env 0."""

    def __init__(self, built, recipe: Recipe, layout: Layout):
        self.built, self.layout, self.recipe, self.cameras = built, layout, recipe, built.cameras
        entities = dict(zip(layout.objects, built.objects, strict=True))
        if built.ground is not None:
            entities["ground"] = built.ground
        body_of = {entities[name].idx: i + 1 for i, name in enumerate(layout.bodies)}
        seg = built.scene.segmentation_idx_dict  # segmentation index → entity index (0: background)
        self.seg_value = np.zeros(max(seg) + 1, np.uint8)
        for idxc, entity in seg.items():
            self.seg_value[idxc] = body_of.get(entity, 0) if idxc > 0 else 0

    def film(self, rollout: Rollout, spec: EpisodeSpec) -> dict[str, dict[str, np.ndarray]]:
        """Every camera's frames of one episode, from the poses drawn for it (`spec`)."""
        layout, recipe = self.layout, self.recipe
        pos = {o: layout.field(rollout.states, o, "pos") for o in layout.objects}
        quat = {o: layout.field(rollout.states, o, "quat") for o in layout.objects}
        out: dict[str, dict[str, list[np.ndarray]]] = {c.name: {s: [] for s in c.streams} for c in recipe.cameras}
        for t in range(len(rollout.states)):
            shots = [k for k, c in enumerate(recipe.cameras) if t % c.every == 0]
            if not shots:
                continue
            self._place(pos, quat, t)
            for k in shots:
                camera = recipe.cameras[k]
                attached = camera.attach
                frame = None if attached is None else (pos[attached][t], rotation_matrices(quat[attached][t]))
                for stream, pixels in self._shoot(k, world_pose(spec.cameras[k], frame)).items():
                    out[camera.name][stream].append(pixels)
        return {cam: {s: np.stack(frames) for s, frames in streams.items()} for cam, streams in out.items()}

    def _place(self, pos: dict[str, np.ndarray], quat: dict[str, np.ndarray], t: int) -> None:
        """Env 0's objects at recorded state `t`."""
        import torch

        for name, entity in zip(self.layout.objects, self.built.objects, strict=True):
            entity.set_pos(torch.as_tensor(pos[name][t:t + 1]), envs_idx=[0], zero_velocity=True)
            entity.set_quat(torch.as_tensor(quat[name][t:t + 1]), envs_idx=[0], zero_velocity=True)

    def _shoot(self, k: int, pose: tuple[np.ndarray, ...]) -> dict[str, np.ndarray]:
        camera, gs_camera = self.recipe.cameras[k], self.cameras[k]
        eye, forward, up = pose
        gs_camera.set_pose(pos=eye, lookat=eye + forward, up=up)
        streams = camera.streams
        rgb, depth, seg, _ = gs_camera.render(rgb="rgb" in streams, depth="depth" in streams,
                                              segmentation="segmentation" in streams, force_render=True)
        frames = {"rgb": rgb, "depth": depth, "segmentation": None if seg is None else self.seg_value[seg]}
        return {s: np.ascontiguousarray(frames[s], np.float32 if s == "depth" else np.uint8) for s in streams}


def renderer() -> str:
    """The OpenGL platform pyrender renders with: PYOPENGL_PLATFORM as set when Genesis was imported,
    else pyrender's default on Linux."""
    return os.environ.get("PYOPENGL_PLATFORM", "egl")
