"""Cameras on MuJoCo: pixels where the pinhole projection puts them, depth in metres, segmentation
naming layout bodies, frames stored with their episode in both formats, and recipe mistakes.

Rendering tests skip only where no GL context can be made (CI installs OSMesa: setup.sh).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import gl_problem, shipped

from engines.gl import default_backend
from engines.mujoco import MuJoCoEngine
from factory.contract.sampling import sample_episodes
from factory.errors import EngineUnsupported, RecipeError
from factory.generate.runner import run
from factory.labels.pixels import NO_BOX, bounding_boxes, visible_pixels
from factory.recipe.loader import parse_recipe, recipe_hash
from factory.storage.dataset import Dataset
from factory.storage.verify import verify

ROOT = Path(__file__).resolve().parent.parent
EYE, TARGET, RADIUS, FOV, WIDTH, HEIGHT = (-1.7, 0.2, 0.5), (0.3, 0.2, 0.5), 0.1, 45.0, 65, 49
CUBE = (0.3, -0.2, 0.05)  # resting on the ground, right of the ball as the camera sees it

SCENE = f"""\
name: camera_scene
engine: mujoco
seed: 3
episodes: 3
steps: 4
dt: 0.005
n_envs: 3
scene:
  objects:
    - name: ball
      shape: {{type: sphere, radius: {RADIUS}}}
      mass: 1.0
      fixed: true
      pos: {list(TARGET)}
    - name: cube
      shape: {{type: box, size: [0.1, 0.1, 0.1]}}
      mass: {{type: uniform, low: 0.5, high: 2.0}}
      pos: {list(CUBE)}
cameras:
  - name: front
    position: {list(EYE)}
    look_at: {list(TARGET)}
    fov: {FOV}
    resolution: [{WIDTH}, {HEIGHT}]
    streams: [rgb, depth, segmentation]
    every: 2
"""


@pytest.fixture(scope="module", autouse=True)
def gl() -> None:
    if (problem := gl_problem()) is not None:
        message = f"MuJoCo cannot render here ({problem}); install libosmesa6 (setup.sh does)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def recipe(text: str = SCENE):
    return parse_recipe(text, "cameras.yaml")


@pytest.fixture(scope="module")
def frames():
    engine = MuJoCoEngine(recipe())
    try:
        rollouts = engine.run_batch(sample_episodes(engine.recipe, [0, 1, 2]))
    finally:
        engine.close()
    return rollouts, engine.layout


def _project(point) -> tuple[float, float]:
    """Pixel (x, y) of a world point through the camera looking along +x from EYE (+z up)."""
    f = (HEIGHT / 2) / math.tan(math.radians(FOV) / 2)
    dx, dy, dz = (p - e for p, e in zip(point, EYE, strict=True))
    return WIDTH / 2 - f * dy / dx, HEIGHT / 2 - f * dz / dx


def test_a_sphere_ahead_is_seen_where_the_pinhole_puts_it_at_its_distance(frames):
    rollouts, layout = frames
    front = rollouts[0].frames["front"]
    assert front["rgb"].shape == (3, HEIGHT, WIDTH, 3)  # 5 recorded states, every 2nd
    ball = layout.bodies.index("ball") + 1
    seg = front["segmentation"][0]
    assert seg[HEIGHT // 2, WIDTH // 2] == ball
    distance = math.dist(EYE, TARGET)
    assert abs(front["depth"][0][HEIGHT // 2, WIDTH // 2] - (distance - RADIUS)) < 0.01
    x0, y0, x1, y1 = bounding_boxes(front["segmentation"][:1], len(layout.bodies))[0, ball - 1]
    f = (HEIGHT / 2) / math.tan(math.radians(FOV) / 2)
    r = f * RADIUS / distance  # its image radius, px
    assert abs((x0 + x1 + 1) / 2 - WIDTH / 2) <= 1 and abs((y0 + y1 + 1) / 2 - HEIGHT / 2) <= 1
    assert abs((x1 - x0 + 1) / 2 - r) <= 1.5
    assert abs(visible_pixels(seg[None], len(layout.bodies))[0, ball - 1] - math.pi * r * r) < 0.3 * math.pi * r * r


def test_segmentation_names_each_body_where_it_projects(frames):
    rollouts, layout = frames
    seg = rollouts[0].frames["front"]["segmentation"][0]
    cube = layout.bodies.index("cube") + 1
    x, y = _project(CUBE)
    assert seg[int(y), int(x)] == cube
    box = bounding_boxes(seg[None], len(layout.bodies))[0, cube - 1]
    assert box[0] <= x <= box[2] + 1 and box[1] <= y <= box[3] + 1
    assert seg[0, 0] == 0  # sky: no layout body
    assert seg[-1, 0] == layout.bodies.index("ground") + 1


def test_an_episode_alone_renders_the_frames_it_renders_in_a_batch(frames):
    rollouts, _ = frames
    engine = MuJoCoEngine(recipe())
    try:
        alone = engine.run_batch(sample_episodes(engine.recipe, [1]))[0]
    finally:
        engine.close()
    for stream, batched in rollouts[1].frames["front"].items():
        assert np.array_equal(alone.frames["front"][stream], batched), stream


def test_frames_round_trip_through_both_formats_and_verify(tmp_path, frames):
    rollouts, layout = frames
    manifest = run(recipe(), tmp_path / "out")
    assert manifest["engine"]["renderer"] in {"osmesa", "egl", "glfw"}
    assert manifest["layout"]["cameras"][0]["every"] == 2
    assert verify(tmp_path / "out") == []
    for fmt in ("parquet", "hdf5"):
        got = Dataset(tmp_path / "out", fmt).episode(1).frames["front"]
        for stream, want in rollouts[1].frames["front"].items():
            assert np.array_equal(got[stream], want), (fmt, stream)
        seg = rollouts[1].frames["front"]["segmentation"]
        assert np.array_equal(got["visible_pixels"], visible_pixels(seg, len(layout.bodies)))
        assert np.array_equal(got["bbox"], bounding_boxes(seg, len(layout.bodies)))
        record = next(Dataset(tmp_path / "out", fmt).records([1]))  # what merges and conversions write
        for stream, want in rollouts[1].frames["front"].items():
            assert np.array_equal(record.rollout.frames["front"][stream], want), (fmt, stream)
        assert np.array_equal(record.frame_labels["front"]["bbox"], got["bbox"])


def test_a_camera_attached_to_a_sliding_cube_keeps_it_in_the_centre():
    data = yaml.safe_load(SCENE)
    data["scene"]["objects"][1]["vel"] = [2.0, 0.0, 0.0]
    data["steps"], data["cameras"] = 60, [{"name": "above", "attach": "cube", "position": [0, 0, 0.5],
                                           "look_at": [0, 0, 0], "up": [1, 0, 0], "resolution": [33, 33],
                                           "streams": ["segmentation"], "every": 20}]
    engine = MuJoCoEngine(recipe(yaml.safe_dump(data)))
    try:
        rollout = engine.run_batch(sample_episodes(engine.recipe, [0]))[0]
    finally:
        engine.close()
    cube = engine.layout.bodies.index("cube") + 1
    seg = rollout.frames["above"]["segmentation"]
    x = engine.layout.field(rollout.states, "cube", "pos")[::20, 0]
    assert x[-1] - x[0] > 0.1  # it slid
    assert (seg[:, 16, 16] == cube).all()
    boxes = bounding_boxes(seg, len(engine.layout.bodies))[:, cube - 1]
    assert (np.abs(boxes - boxes[0]) <= 1).all()


def test_an_attached_camera_names_a_body_of_the_scene():
    data = yaml.safe_load(SCENE)
    data["cameras"][0]["attach"] = "cub"
    with pytest.raises(RecipeError, match=r"cameras.0.attach: 'cub' is neither .*did you mean 'cube'"):
        recipe(yaml.safe_dump(data))


def test_a_camera_on_a_link_the_robot_file_lacks_is_refused_before_anything_runs():
    camera = {"name": "wrist", "attach": "arm/palm", "position": [0, 0, 0], "look_at": [0, 0, 1], "up": [1, 0, 0]}
    with pytest.raises(EngineUnsupported, match=r"cameras.0.attach: 'arm/palm' is no body .*arm/hand"):
        MuJoCoEngine(shipped("robot/push_cube.yaml", cameras=[camera]))


def test_pixel_labels_on_a_hand_made_segmentation():
    seg = np.zeros((2, 4, 5), np.uint8)
    seg[0, 1:3, 2:5] = 2  # body 1: rows 1-2, columns 2-4
    assert visible_pixels(seg, 2).tolist() == [[0, 6], [0, 0]]
    assert bounding_boxes(seg, 2).tolist() == [[[NO_BOX] * 4, [2, 1, 4, 2]], [[NO_BOX] * 4, [NO_BOX] * 4]]


def _edited(**camera) -> str:
    data = yaml.safe_load(SCENE)
    data["cameras"][0] |= camera
    return yaml.safe_dump(data, sort_keys=False)


@pytest.mark.parametrize(("camera", "message"), [
    ({"resolution": [0, 48]}, "cameras.0.resolution: "),
    ({"resolution": [4096, 4096]}, "outside 1..2048 per side and 1,048,576 pixels"),
    ({"streams": ["rgb", "normals"]}, "cameras.0.streams.1: "),
    ({"up": [1, 0, 0]}, "cameras.0.up: must not be parallel"),
])
def test_a_bad_camera_exits_2_naming_its_line(tmp_path, camera, message):
    path = tmp_path / "r.yaml"
    path.write_text(_edited(**camera))
    proc = subprocess.run([sys.executable, "-m", "factory.cli", "validate", str(path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "line " in proc.stderr and "Traceback" not in proc.stderr


def test_no_cameras_dumps_and_hashes_as_before():
    without = SCENE[:SCENE.index("cameras:")]
    assert recipe_hash(recipe(without + "cameras: []\n")) == recipe_hash(recipe(without))
    assert "cameras" not in recipe(without).model_dump()


def test_the_shipped_wrist_camera_moves_with_the_hand_and_sees_the_cube():
    """push_cube_wrist: the hand stays on the same pixels of the wrist camera's frames while the arm
    moves, and the cube it approaches fills more of them."""
    engine = MuJoCoEngine(shipped("robot/push_cube_wrist.yaml", episodes=1, n_envs=1, steps=600))
    try:
        rollout = engine.run_batch(sample_episodes(engine.recipe, [1]))[0]
    finally:
        engine.close()
    bodies = engine.layout.bodies
    seg = rollout.frames["wrist"]["segmentation"]
    hand = seg == bodies.index("arm/hand") + 1
    assert hand[0].sum() > 100 and (hand != hand[0]).sum(axis=(1, 2)).max() <= 0.02 * hand[0].sum()
    assert np.ptp(engine.layout.field(rollout.states, "cube", "pos")[:, 0]) > 0.01  # pushed, so the arm moved
    cube = visible_pixels(seg, len(bodies))[:, bodies.index("cube")]
    assert cube[0] > 0 and cube[-1] > 10 * cube[0]


def test_the_engines_package_picks_mujocos_gl_backend_before_any_engine_loads():
    """Genesis imports mujoco for its MJCF parser: had the MuJoCo adapter chosen MUJOCO_GL itself, a
    process that loaded Genesis first (`factory compare --engines genesis,mujoco`) could not render."""
    code = "import os, sys; import engines; print(os.environ['MUJOCO_GL'], 'mujoco' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if k != "MUJOCO_GL"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    assert out.stdout.split() == [default_backend(), "False"]
