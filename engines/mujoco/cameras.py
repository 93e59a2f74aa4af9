"""Render the recipe's cameras from recorded states: rgb, depth (metres) and layout-body segmentation.

Frames are drawn after an episode is stepped, from its recorded states set into a data of its own
configured model, so rendering changes nothing in the simulation and an episode's frames depend only
on its states (not on its batch or thread). Shadows and reflections are off: they cost most of a
CPU render's time, and no label reads them.
"""

from __future__ import annotations

import atexit
import copy

import mujoco
import numpy as np

from engines.gl import loaded_backend
from factory.contract.cameras import CameraPose, Light, world_pose
from factory.contract.rollout import Layout, Rollout
from factory.contract.sampling import EpisodeSpec
from factory.errors import EngineUnsupported
from factory.recipe.cameras import Camera

NO_BODY = 0  # segmentation value where no layout body is seen


def check_cameras(cameras: list[Camera], robot_model: mujoco.MjModel | None, layout: Layout) -> None:
    """Refuse, before anything runs, what the recipe schema cannot see: a segmentation id past uint8,
    an attachment to a link the robot file lacks (`robot_model`: the scene with its robots)."""
    if len(layout.bodies) > 254:
        raise EngineUnsupported(f"cameras: segmentation is uint8; this scene has {len(layout.bodies)} bodies")
    for i, camera in enumerate(cameras):
        if robot_model is not None:
            _body(robot_model, camera, i)


def body_lookup(model: mujoco.MjModel, layout: Layout) -> np.ndarray:
    """Segmentation value of each geom: 1 + its body's index in `layout.bodies` (the ground is the
    world body's), NO_BODY for geoms of no layout body."""
    value = np.full(model.nbody, NO_BODY, np.uint8)
    for i, name in enumerate(layout.bodies):
        value[0 if name == "ground" else model.body(name).id] = i + 1
    return value[model.geom_bodyid]


class CameraRig:
    """One offscreen renderer per camera, on a copy of the scene's model that only rendering touches."""

    def __init__(self, cameras: list[Camera], model: mujoco.MjModel, layout: Layout, qpos_of):
        """`qpos_of(rollout)`: its recorded states as joint positions (T+1, nq)."""
        self.cameras, self.qpos_of = cameras, qpos_of
        self.model = model = copy.copy(model)
        model.vis.global_.offwidth = max(c.resolution[0] for c in cameras)
        model.vis.global_.offheight = max(c.resolution[1] for c in cameras)
        self.geom_value = body_lookup(model, layout)
        try:
            self.renderers = [mujoco.Renderer(model, c.resolution[1], c.resolution[0]) for c in cameras]
        except Exception as e:  # no GL context: say which backend and how to get one
            raise EngineUnsupported(f"cameras: MuJoCo cannot render here with MUJOCO_GL={loaded_backend()} "
                                    f"({e}); install libosmesa6 and set MUJOCO_GL=osmesa, or egl on a GPU") from e
        for r in self.renderers:
            r.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
            r.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        self.attached = [_body(model, c, i) for i, c in enumerate(cameras)]
        atexit.register(self.close)  # engines stay cached until exit; a GL context freed at teardown raises

    def close(self) -> None:
        atexit.unregister(self.close)
        for r in self.renderers:
            r.close()
        self.renderers = []

    def film(self, model: mujoco.MjModel, rollout: Rollout, spec: EpisodeSpec) -> dict[str, dict[str, np.ndarray]]:
        """Every camera's frames of one episode, whose model `model` is configured for it, from the
        poses and light drawn for it (`spec`)."""
        qpos = self.qpos_of(rollout)
        data = mujoco.MjData(model)
        out: dict[str, dict[str, list[np.ndarray]]] = {c.name: {s: [] for s in c.streams} for c in self.cameras}
        for t in range(len(qpos)):
            shots = [k for k, c in enumerate(self.cameras) if t % c.every == 0]
            if not shots:
                continue
            data.qpos[:] = qpos[t]
            mujoco.mj_kinematics(model, data)
            mujoco.mj_camlight(model, data)
            for k in shots:
                for stream, frame in self._shoot(k, data, spec.cameras[k], spec.light).items():
                    out[self.cameras[k].name][stream].append(frame)
        return {cam: {s: np.stack(frames) for s, frames in streams.items()} for cam, streams in out.items()}

    def _shoot(self, k: int, data: mujoco.MjData, view: CameraPose, light: Light | None) -> dict[str, np.ndarray]:
        camera, renderer, body = self.cameras[k], self.renderers[k], self.attached[k]
        self.model.vis.global_.fovy = camera.fov  # sets the frustum `update_scene` computes
        eye, forward, up = world_pose(view, None if camera.attach is None else
                                (data.xpos[body], data.xmat[body].reshape(3, 3)))
        frames: dict[str, np.ndarray] = {}
        for stream in camera.streams:
            renderer.disable_depth_rendering()
            renderer.disable_segmentation_rendering()
            if stream == "depth":
                renderer.enable_depth_rendering()
            elif stream == "segmentation":
                renderer.enable_segmentation_rendering()
            renderer.update_scene(data)
            for gl_camera in renderer.scene.camera:  # both eyes at the pose: a mono render is their mean
                gl_camera.pos[:], gl_camera.forward[:], gl_camera.up[:] = eye, forward, up
            if light is not None:
                _light_scene(renderer.scene, light)
            pixels = renderer.render()
            if stream == "segmentation":
                geom = np.where(pixels[..., 1] == mujoco.mjtObj.mjOBJ_GEOM, pixels[..., 0], -1)
                pixels = np.where(geom >= 0, self.geom_value[np.maximum(geom, 0)], NO_BODY).astype(np.uint8)
            frames[stream] = np.ascontiguousarray(pixels, np.float32 if stream == "depth" else np.uint8)
        return frames


def _light_scene(scene: mujoco.MjvScene, light: Light) -> None:
    """Make `light` the scene's only light: directional, no specular part, no shadow."""
    scene.nlight = 1
    gl_light = scene.lights[0]
    gl_light.type, gl_light.headlight, gl_light.castshadow = mujoco.mjtLightType.mjLIGHT_DIRECTIONAL, 0, 0
    gl_light.dir[:] = np.asarray(light.direction) / np.linalg.norm(light.direction)
    gl_light.diffuse[:], gl_light.ambient[:], gl_light.specular[:] = light.intensity, light.ambient, 0.0


def _body(model: mujoco.MjModel, camera: Camera, i: int) -> int:
    """The id of the body camera `i` is attached to (0, the world, when fixed)."""
    if camera.attach is None:
        return 0
    try:
        return model.body(camera.attach).id
    except KeyError:
        names = [model.body(b).name for b in range(1, model.nbody)]
        raise EngineUnsupported(f"cameras.{i}.attach: '{camera.attach}' is no body of the compiled scene; "
                                f"bodies: {', '.join(names)}") from None
