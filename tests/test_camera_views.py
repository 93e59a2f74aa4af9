"""Camera poses and lighting drawn per episode (MuJoCo, OSMesa here): the drawn values are the
episode's parameters, differ across episodes, repeat for the same seed, and are what the frames
show (a sphere where the pinhole projection of the drawn pose puts it; Lambert's cosine law for
the drawn light).
"""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import gl_problem

from engines.mujoco import MuJoCoEngine
from factory.contract.sampling import sample_episodes
from factory.generate.runner import run
from factory.labels.pixels import bounding_boxes
from factory.names import param_column
from factory.recipe.loader import parse_recipe, recipe_hash
from factory.storage.dataset import Dataset

ROOT = Path(__file__).resolve().parent.parent
TARGET, RADIUS, FOV, SIDE = (0.3, 0.0, 0.5), 0.1, 45.0, 48

SCENE = f"""\
name: camera_views
engine: mujoco
seed: 11
episodes: 3
steps: 2
dt: 0.01
n_envs: 3
scene:
  objects:
    - name: ball
      shape: {{type: sphere, radius: {RADIUS}}}
      mass: 1.0
      fixed: true
      pos: {list(TARGET)}
cameras:
  - name: front
    position: [-1.7, {{type: uniform, low: -0.4, high: 0.4}}, {{type: uniform, low: 0.3, high: 0.7}}]
    look_at: [0.3, {{type: uniform, low: -0.15, high: 0.15}}, 0.5]
    fov: {FOV}
    resolution: [{SIDE}, {SIDE}]
    streams: [rgb, segmentation]
lighting:
  direction: [{{type: uniform, low: -0.5, high: 0.5}}, 0, -1]
  intensity: {{type: uniform, low: 0.3, high: 0.9}}
"""


@pytest.fixture(scope="module", autouse=True)
def gl() -> None:
    if (problem := gl_problem()) is not None:
        pytest.skip(f"MuJoCo cannot render here ({problem}); test_cameras.py fails CI for it")


def recipe(text: str = SCENE):
    return parse_recipe(text, "views.yaml")


def film(r, indices: list[int]):
    engine = MuJoCoEngine(r)
    try:
        specs = sample_episodes(engine.recipe, indices)
        return specs, engine.run_batch(specs), engine.layout
    finally:
        engine.close()


@pytest.fixture(scope="module")
def filmed():
    return film(recipe(), [0, 1, 2])


def _vec(params: dict, name: str) -> np.ndarray:
    return np.array([params[f"{name}.{axis}"] for axis in "xyz"])


def project(point, eye, target, up=(0.0, 0.0, 1.0)) -> tuple[float, float]:
    """Pixel (x, y) of a world point through a pinhole camera at `eye` looking at `target`."""
    forward = np.subtract(target, eye) / np.linalg.norm(np.subtract(target, eye))
    right = np.cross(forward, up) / np.linalg.norm(np.cross(forward, up))
    true_up = np.cross(right, forward)
    d = np.subtract(point, eye)
    f = (SIDE / 2) / math.tan(math.radians(FOV) / 2)
    return SIDE / 2 + f * (d @ right) / (d @ forward), SIDE / 2 - f * (d @ true_up) / (d @ forward)


def test_drawn_poses_are_parameters_that_differ_across_episodes_and_repeat_for_the_seed(filmed):
    specs, _, _ = filmed
    names = [f"cameras.front.{p}.{a}" for p in ("position", "look_at") for a in "xyz"]
    names += ["lighting.intensity", "lighting.ambient", *(f"lighting.direction.{a}" for a in "xyz")]
    for spec in specs:
        assert set(names) <= spec.params.keys()
        assert spec.cameras[0].position == tuple(_vec(spec.params, "cameras.front.position"))
        assert spec.light is not None and spec.light.intensity == spec.params["lighting.intensity"]
    for name in ("cameras.front.position.y", "cameras.front.look_at.y", "lighting.intensity"):
        assert len({s.params[name] for s in specs}) == 3, name
    again = sample_episodes(recipe(), [2, 0])  # another batch, another order
    assert [s.params for s in again] == [specs[2].params, specs[0].params]
    other = sample_episodes(recipe(SCENE.replace("seed: 11", "seed: 12")), [0])[0]
    assert other.params["cameras.front.position.y"] != specs[0].params["cameras.front.position.y"]


def test_each_episode_sees_the_ball_where_its_drawn_pose_projects_it(filmed):
    specs, rollouts, layout = filmed
    ball = layout.bodies.index("ball") + 1
    centres = []
    for spec, rollout in zip(specs, rollouts, strict=True):
        eye, target = _vec(spec.params, "cameras.front.position"), _vec(spec.params, "cameras.front.look_at")
        x, y = project(TARGET, eye, target)
        x0, y0, x1, y1 = bounding_boxes(rollout.frames["front"]["segmentation"][:1], len(layout.bodies))[0, ball - 1]
        assert abs((x0 + x1 + 1) / 2 - x) <= 1 and abs((y0 + y1 + 1) / 2 - y) <= 1, (spec.index, x, y)
        centres.append((x, y))
    assert len({(round(x), round(y)) for x, y in centres}) == 3  # the draws moved it in the image


def test_an_episode_renders_the_same_bytes_alone_and_again(filmed):
    _, rollouts, _ = filmed
    _, (alone,), _ = film(recipe(), [1])
    for stream, frames in rollouts[1].frames["front"].items():
        assert np.array_equal(alone.frames["front"][stream], frames), stream
    assert not np.array_equal(rollouts[0].frames["front"]["rgb"], rollouts[1].frames["front"]["rgb"])


def test_a_run_twice_writes_the_same_frame_bytes_and_records_the_draws(tmp_path, filmed):
    specs, _, _ = filmed
    for out in ("a", "b"):
        run(recipe(), tmp_path / out)
    frames = [sorted(p.relative_to(tmp_path / out) for p in (tmp_path / out).rglob("*")
                     if p.is_file() and ("frames" in p.parts or p.suffix == ".h5")) for out in ("a", "b")]
    assert frames[0] and frames[0] == frames[1]
    for rel in frames[0]:
        assert hashlib.sha256((tmp_path / "a" / rel).read_bytes()).digest() == \
            hashlib.sha256((tmp_path / "b" / rel).read_bytes()).digest(), rel
    episodes = Dataset(tmp_path / "a").episodes().to_pandas().set_index("episode")
    name = "cameras.front.position.y"
    assert episodes[param_column(name)].tolist() == [s.params[name] for s in specs]


LAMBERT = """\
name: lambert
engine: mujoco
seed: 1
episodes: 1
steps: 1
dt: 0.01
scene:
  objects:
    - name: cube
      shape: {type: box, size: [0.1, 0.1, 0.1]}
      mass: 1.0
      pos: [3, 3, 0.05]
cameras:
  - name: down
    position: [0, 0, 1]
    look_at: [0, 0, 0]
    up: [1, 0, 0]
    resolution: [8, 8]
"""


def ground_pixels(direction, intensity: float, ambient: float) -> np.ndarray:
    data = yaml.safe_load(LAMBERT) | {"lighting": {"direction": direction, "intensity": intensity, "ambient": ambient}}
    _, (rollout,), _ = film(recipe(yaml.safe_dump(data)), [0])
    return rollout.frames["down"]["rgb"][0].astype(float)


def test_the_ground_is_lit_by_lamberts_cosine_law():
    """A matte plane seen from above: pixel = albedo × (ambient + intensity × cos θ), θ the angle
    between the light and the plane's normal (±1 for 8-bit rounding)."""
    straight = ground_pixels([0, 0, -1], 0.8, 0.0)
    albedo = straight / 0.8
    assert straight.min() > 50
    for direction, intensity, ambient, cos in (([0, 0, -1], 0.4, 0.0, 1.0), ([0, 3 ** 0.5, -1], 0.8, 0.0, 0.5),
                                               ([1, 0, -1], 0.5, 0.2, 2 ** -0.5), ([0, 0, 1], 0.9, 0.3, 0.0)):
        got = ground_pixels(direction, intensity, ambient)
        np.testing.assert_allclose(got, albedo * (ambient + intensity * cos), atol=1.01, err_msg=str(direction))


def test_a_recipe_without_lighting_dumps_and_hashes_as_before():
    without = SCENE[:SCENE.index("lighting:")]
    assert "lighting" not in recipe(without).model_dump()
    assert recipe_hash(recipe(without + "lighting: null\n")) == recipe_hash(recipe(without))


@pytest.mark.parametrize(("text", "message"), [
    (LAMBERT[:LAMBERT.index("cameras:")] + "lighting: {intensity: 0.5}\n", "lighting: lights only the cameras"),
    (SCENE.replace("high: 0.9}", "high: 1.5}"), "lighting.intensity: must be >= 0.0 and <= 1.0"),
    (SCENE.replace("direction: [{type: uniform, low: -0.5, high: 0.5}, 0, -1]", "direction: [0, 0, 0]"),
     "lighting.direction: must not be zero"),
])
def test_bad_lighting_exits_2_naming_its_line(tmp_path, text, message):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "factory.cli", "validate", str(path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "line " in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
