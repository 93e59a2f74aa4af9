"""A Panda on MuJoCo: it tracks its targets, pushes only what it touches, replays per episode, and a
bad robot recipe is refused with its field and line before anything is written."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from export_checks import (
    LEROBOT_MISSING,
    check_hf_export,
    check_lerobot_dataset,
    check_lerobot_files,
    check_minari_export,
    lerobot_python,
)
from robot_scenes import HELD_BOUND, MOVING_BOUND, PANDA, PUSH, RECIPE, WALK, run, same_bytes

from engines.mujoco.engine import MuJoCoEngine
from factory.errors import EngineUnsupported, RecipeError
from factory.generate.conformance import check_engine
from factory.recipe.loader import parse_recipe
from factory.recipe.robot_file import resolve

ROOT = Path(__file__).resolve().parent.parent
@pytest.fixture(scope="module")
def pushes():
    return run(RECIPE, [0, 1, 2, 3])


def test_the_arm_follows_its_joint_targets():
    text = RECIPE.replace(PUSH, WALK).replace("steps: 1000", "steps: 400")
    layout, records = run(text, [0, 1, 2, 3])
    assert layout.action_names[:2] == ["arm.joint1.target", "arm.joint2.target"]
    worst = max(r.episode_labels["max_tracking_error__arm"] for r in records)
    assert 0 < worst < MOVING_BOUND


def test_the_arm_settles_on_a_held_target(pushes):
    _, records = pushes
    for r in records:
        held = r.step_labels["tracking_error__arm"][-10:]  # the push's last tenth holds its end point
        assert (np.diff(held) < 0).all() and held[-1] < HELD_BOUND
        assert r.episode_labels["max_tracking_error__arm"] < MOVING_BOUND


def test_the_state_holds_the_cubes_then_the_arm(pushes):
    layout, records = pushes
    names = layout.state_names
    assert names[:3] == ["cube.pos.x", "cube.pos.y", "cube.pos.z"]
    assert names[26:29] == ["arm.joint1.q", "arm.joint2.q", "arm.joint3.q"]
    assert names[-7:] == ["arm.ee.pos.x", "arm.ee.pos.y", "arm.ee.pos.z",
                          "arm.ee.quat.w", "arm.ee.quat.x", "arm.ee.quat.y", "arm.ee.quat.z"]
    assert "arm/hand" in layout.bodies and records[0].rollout.states.shape[1] == layout.state_size


def test_a_cube_nothing_touches_stays_put(pushes):
    layout, records = pushes
    for r in records:
        pos = layout.field(r.rollout.states, "bystander", "pos")
        assert np.abs(pos[:, :2] - pos[0, :2]).max() < 1e-5
        assert np.abs(pos[:, 2] - pos[0, 2]).max() < 5e-4  # settling into MuJoCo's soft contact
        assert r.episode_labels["first_robot_contact__arm__bystander"] == -1


def test_the_pushed_cube_moves_only_after_the_first_robot_contact(pushes):
    layout, records = pushes
    for r in records:
        first = r.episode_labels["first_robot_contact__arm__cube"]
        pos = layout.field(r.rollout.states, "cube", "pos")
        assert first > 0
        assert np.abs(pos[:first] - pos[0]).max() < 1e-3  # 1 mm: the cube settling on the table
        assert r.episode_labels["displacement__cube"] > 0.05
        assert abs(r.episode_labels["displacement_heading_deg__cube"] - r.params["arm.policy.heading_deg"]) < 10
        assert r.episode_labels["pushed_to_target__cube"]


@pytest.mark.parametrize("space", ["joint_delta", "ee_delta"])
def test_every_action_space_makes_the_same_push(pushes, space):
    """Without noise the same commands in other coordinates move the arm the same way."""
    layout, records = run(RECIPE.replace("action_space: joint_position", f"action_space: {space}"), [0])
    names = {"joint_delta": "arm.joint1.delta", "ee_delta": "arm.ee.dyaw"}
    assert names[space] in layout.action_names
    moved, expected = (layout.field(r.rollout.states, "cube", "pos")[-1] for r in (records[0], pushes[1][0]))
    assert np.abs(moved - expected).max() < 1e-4


def test_an_episode_alone_and_in_a_batch_is_the_same_bytes(pushes):
    _, records = pushes
    _, alone = run(RECIPE, [2])
    assert same_bytes(alone[0].rollout, records[2].rollout)


def test_noise_and_random_moves_replay_per_episode():
    noisy = RECIPE.replace("distance: 0.12}", "distance: 0.12, noise: 0.01, random_share: 0.3}")
    noisy = noisy.replace("steps: 1000", "steps: 300")
    _, batch = run(noisy, [0, 1, 2])
    _, alone = run(noisy, [1])
    _, quiet = run(noisy.replace("noise: 0.01, random_share: 0.3", "noise: 0.0"), [1])
    assert same_bytes(alone[0].rollout, batch[1].rollout)
    assert not np.array_equal(alone[0].rollout.actions, quiet[0].rollout.actions)


def test_mujoco_keeps_the_engine_contract_with_a_robot():
    recipe = parse_recipe(RECIPE.replace("steps: 1000", "steps: 200").replace("n_envs: 4", "n_envs: 2"))
    batch = check_engine("mujoco", recipe)
    assert len(batch) == 2 and batch[0].actions.shape == (20, 8)


def test_unity_refuses_robot_recipes_saying_why():
    unity = pytest.importorskip("engines.unity.engine")
    with pytest.raises(EngineUnsupported, match=r"robots: the Unity adapter's builds .* no articulated robot"):
        unity.UnityEngine(parse_recipe(RECIPE.replace("engine: mujoco", "engine: {type: unity, behavior_name: x}")))


BAD = [
    (PANDA, "{package: genesis, path: assets/xml/nope.xml}", "line 20: robots.0.file: cannot read"),
    (PANDA, "{package: no_such_package, path: a.xml}", "line 20: robots.0.file.package: package 'no_such_package' "
                                                       "is not installed"),
    (PANDA, "recipes/robot/push_cube.yaml", "line 20: robots.0.file:"),
    ("joint2: -0.3,", "joint9: -0.3,", "line 22: robots.0.initial.joint9: 'joint9' is not a joint of the robot"),
    ("joint4: -2.2,", "joint4: {type: uniform, low: -2.2, high: 0.5},",
     r"line 22: robots.0.initial.joint4: can take values in \[-2.2, 0.5\], outside the joint's range"),
    ("joint4: -2.2,", "", r"line 22: robots.0.initial.joint4: can take 0, outside the joint's range .* \(unset"),
    ("joint6, joint7]", "joint6, joint8]", r"line 23: robots.0.actuated.6: 'joint8' is not a joint of the robot "
                                           r"\(did you mean 'joint7'\?\)"),
    ("ee_link: hand", "ee_link: palm", "line 25: robots.0.ee_link: 'palm' is not a link of the robot"),
    ("object: cube,", "object: bystandr,", "line 28: robots.0.policy.object: 'bystandr' is not a movable object"),
]


@pytest.mark.parametrize("old, new, message", BAD, ids=[b[2].split(": ")[1] + "-" + b[1][:12] for b in BAD])
def test_a_bad_robot_input_is_refused_with_its_field_and_line(old, new, message):
    assert old in RECIPE
    with pytest.raises(RecipeError, match=message):
        parse_recipe(RECIPE.replace(old, new))


@pytest.mark.parametrize("old, new, message", [BAD[0], BAD[3], BAD[4]])
def test_a_bad_robot_recipe_exits_2_and_writes_nothing(tmp_path, old, new, message):
    path = tmp_path / "r.yaml"
    path.write_text(RECIPE.replace(old, new))
    proc = subprocess.run([sys.executable, "-m", "factory.cli", "run", str(path), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    assert any(re.search(message, line) for line in proc.stderr.splitlines())
    assert not (tmp_path / "out").exists()


def factory(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "factory.cli", *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def push_cube(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("robots") / "push_cube"
    ran = factory("run", "recipes/robot/push_cube.yaml", "--episodes", "4", "--out", str(out), "--quiet")
    assert ran.returncode == 0, ran.stderr
    return out


def test_push_cube_runs_inspects_and_verifies(push_cube):
    inspected = factory("inspect", str(push_cube))
    assert inspected.returncode == 0, inspected.stderr
    assert "pushed_to_target__cube" in inspected.stdout
    manifest = json.loads((push_cube / "manifest.json").read_text())
    assert "arm.joint1.target" in manifest["features"]["action"]["names"]
    assert manifest["features"]["action"]["unit"] == ("arm: joint position targets (rad, m), then the gripper "
                                                      "(0 open .. 1 closed)")
    panda = resolve("assets/xml/franka_emika_panda/panda.xml", "genesis")
    assert manifest["robot_files"] == {"arm": [{"role": "robot", "file": str(panda),
                                                "sha256": hashlib.sha256(panda.read_bytes()).hexdigest()}]}
    verified = factory("verify", str(push_cube))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_push_cube_exports_open_in_their_loaders(push_cube, tmp_path, monkeypatch):
    """The export tests' own checks (Minari's loader, LeRobot's file reading, HF datasets) on robot data:
    the arm's joints and the cube in the observation state, the joint targets as the action."""
    check_minari_export(push_cube, tmp_path / "minari", monkeypatch)
    check_lerobot_files(push_cube, tmp_path / "lerobot")
    check_hf_export(push_cube, tmp_path / "hf")


@pytest.mark.skipif(lerobot_python() is None, reason=LEROBOT_MISSING)
def test_lerobot_dataset_loads_a_robot_export(push_cube, tmp_path):
    """LeRobot's own `LeRobotDataset` (in its own venv) on push_cube: every frame equal to the source, the
    observation state the cube's pose then the arm's joints and tool, the action the recipe's joint targets."""
    got = check_lerobot_dataset([push_cube], tmp_path)[0]
    state, action = got["state_names"].tolist(), got["action_names"].tolist()
    assert state[:3] == ["cube.pos.x", "cube.pos.y", "cube.pos.z"] and "arm.joint7.q" in state
    assert "arm.finger_joint1.dq" in state and state[-7:-4] == ["arm.ee.pos.x", "arm.ee.pos.y", "arm.ee.pos.z"]
    assert action == [f"arm.joint{k}.target" for k in range(1, 8)] + ["arm.gripper"]
    assert got["observation.state"].shape[1] == 38 and got["action"].shape[1] == 8


def test_object_only_recipes_and_layouts_serialize_as_before():
    """What an object-only run writes into its manifest has no trace of robots (its data files were
    compared byte for byte with the tree before robots: README)."""
    recipe = parse_recipe(RECIPE.split("robots:")[0] + "outputs: {record_every: 10}\n")
    assert "robots" not in recipe.model_dump(mode="json")
    layout = MuJoCoEngine(recipe).layout
    assert list(layout.to_dict()) == ["objects", "bodies", "record_dt", "points", "n_points", "action_names"]
    assert layout.state_size == 26 and layout.action_names[0] == "cube.impulse.x"


def test_a_reach_gets_the_tool_to_a_drawn_point_or_above_an_object():
    point = ("policy: {type: reach, point: [{type: uniform, low: 0.0, high: 0.2}, "
             "{type: uniform, low: -0.2, high: 0.2}, {type: uniform, low: 0.1, high: 0.3}]}")
    above = "policy: {type: reach, object: cube, offset: [0, 0, 0.08]}"
    for policy in (point, above):
        _, records = run(RECIPE.replace(PUSH, policy).replace("steps: 1000", "steps: 600"), [0, 1])
        for r in records:
            assert r.episode_labels["reached__arm"] and 0 < r.episode_labels["reach_step__arm"] < 60
            assert r.episode_labels["reach_error__arm"] < 0.01  # measured 6-9 mm: the arm's sag under its gains
            assert r.episode_labels["first_robot_contact__arm__cube"] == -1
