"""Cameras on Genesis (its rasterizer; EGL on Mesa's llvmpipe or OSMesa without a GPU): a sphere seen where
the pinhole projection of each episode's drawn pose puts it, at its distance, segmentation naming
the layout's bodies, frames that depend only on the episode, and the refusals (lighting, particles).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from helpers import shipped

from engines.genesis import GenesisEngine
from factory.contract.sampling import sample_episodes
from factory.errors import EngineUnsupported
from factory.labels.pixels import bounding_boxes
from factory.recipe.loader import parse_recipe

pytestmark = pytest.mark.genesis
TARGET, RADIUS, FOV, WIDTH, HEIGHT = (0.3, 0.2, 0.5), 0.1, 45.0, 65, 49
CUBE = (0.3, -0.2, 0.05)

SCENE = f"""\
name: genesis_cameras
engine: genesis
seed: 3
episodes: 3
steps: 20
dt: 0.01
n_envs: 2
scene:
  objects:
    - name: ball
      shape: {{type: sphere, radius: {RADIUS}}}
      mass: 1.0
      fixed: true
      pos: {list(TARGET)}
    - name: cube
      shape: {{type: box, size: [0.1, 0.1, 0.1]}}
      mass: 1.0
      pos: {list(CUBE)}
      vel: [{{type: uniform, low: 1, high: 3}}, 0, 0]
cameras:
  - name: front
    position: [-1.7, {{type: uniform, low: 0.0, high: 0.4}}, 0.5]
    look_at: {list(TARGET)}
    fov: {FOV}
    resolution: [{WIDTH}, {HEIGHT}]
    streams: [rgb, depth, segmentation]
    every: 2
  - name: above                      # rides on the sliding cube, looking down at it
    attach: cube
    position: [0, 0, 0.5]
    look_at: [0, 0, 0]
    up: [1, 0, 0]
    resolution: [33, 33]
    streams: [segmentation]
"""


def recipe(text: str = SCENE):
    return parse_recipe(text, "genesis_cameras.yaml")


@pytest.fixture(scope="module")
def filmed():
    engine = GenesisEngine(recipe())
    try:
        specs = sample_episodes(engine.recipe, [0, 1, 2])
        batched = engine.run_batch(specs[:2]) + engine.run_batch(specs[2:])
        alone = engine.run_batch(specs[1:2])[0]  # env 0 of a batch of one
        renderer = engine.info().renderer
    finally:
        engine.close()
    return specs, batched, alone, engine.layout, renderer


def project(point, eye) -> tuple[float, float]:
    """Pixel (x, y) of a world point through a pinhole camera at `eye` looking at TARGET, +z up."""
    forward = np.subtract(TARGET, eye) / np.linalg.norm(np.subtract(TARGET, eye))
    right = np.cross(forward, (0, 0, 1)) / np.linalg.norm(np.cross(forward, (0, 0, 1)))
    up = np.cross(right, forward)
    d = np.subtract(point, eye)
    f = (HEIGHT / 2) / math.tan(math.radians(FOV) / 2)
    return WIDTH / 2 + f * (d @ right) / (d @ forward), HEIGHT / 2 - f * (d @ up) / (d @ forward)


def test_the_sphere_is_seen_where_each_drawn_pose_puts_it_at_its_distance(filmed):
    specs, batched, _, layout, renderer = filmed
    assert renderer in {"osmesa", "egl"}
    ball = layout.bodies.index("ball") + 1
    for spec, rollout in zip(specs, batched, strict=True):
        front = rollout.frames["front"]
        assert front["rgb"].shape == (11, HEIGHT, WIDTH, 3) and front["depth"].dtype == np.float32
        eye = np.array([spec.params[f"cameras.front.position.{a}"] for a in "xyz"])
        x0, y0, x1, y1 = bounding_boxes(front["segmentation"][:1], len(layout.bodies))[0, ball - 1]
        assert abs((x0 + x1 + 1) / 2 - WIDTH / 2) <= 1 and abs((y0 + y1 + 1) / 2 - HEIGHT / 2) <= 1
        r = (HEIGHT / 2) / math.tan(math.radians(FOV) / 2) * RADIUS / np.linalg.norm(np.subtract(TARGET, eye))
        assert abs((x1 - x0 + 1) / 2 - r) <= 1.5
        distance = np.linalg.norm(np.subtract(TARGET, eye))
        assert abs(front["depth"][0][HEIGHT // 2, WIDTH // 2] - (distance - RADIUS)) < 0.01
        x, y = project(layout.field(rollout.states, "cube", "pos")[0], eye)
        assert front["segmentation"][0][int(y), int(x)] == layout.bodies.index("cube") + 1
        assert front["segmentation"][0][0, 0] == 0 and front["segmentation"][0][-1, 0] == 1  # sky, ground
    assert len({round(s.params["cameras.front.position.y"], 3) for s in specs}) == 3


def test_an_episode_renders_the_same_bytes_in_any_batch_and_slot(filmed):
    _, batched, alone, _, _ = filmed
    for stream, frames in batched[1].frames["front"].items():  # slot 1 of a batch of 2, then slot 0 alone
        assert np.array_equal(alone.frames["front"][stream], frames), stream
    assert np.array_equal(alone.states, batched[1].states)


def test_genesis_refuses_lighting_filmed_particles_and_filmed_robots():
    data = yaml.safe_load(SCENE) | {"lighting": {"intensity": 0.5}}
    with pytest.raises(EngineUnsupported, match="lighting: Genesis' rasterizer fixes its lights"):
        GenesisEngine(recipe(yaml.safe_dump(data)))
    camera = {"name": "front", "position": [-1, 0, 0.5], "look_at": [0, 0, 0.2]}
    with pytest.raises(EngineUnsupported, match=r"cameras: Genesis films rigid .* 'fluid' recipe"):
        GenesisEngine(shipped("fluid/dam_break.yaml", cameras=[camera]))
    with pytest.raises(EngineUnsupported, match="cameras: Genesis films scenes without robots so far"):
        GenesisEngine(shipped("robot/push_cube_wrist.yaml", engine={"type": "genesis"}))


def test_a_camera_riding_on_the_sliding_cube_keeps_it_in_the_centre(filmed):
    _, batched, _, layout, _ = filmed
    cube = layout.bodies.index("cube") + 1
    for rollout in batched:
        x = layout.field(rollout.states, "cube", "pos")[:, 0]
        assert x[-1] - x[0] > 0.05  # it slid
        seg = rollout.frames["above"]["segmentation"]
        assert len(seg) == len(rollout.states) and (seg[:, 16, 16] == cube).all()
        boxes = bounding_boxes(seg, len(layout.bodies))[:, cube - 1]
        assert (np.abs(boxes - boxes[0]) <= 1).all()
