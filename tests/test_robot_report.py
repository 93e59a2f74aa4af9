"""Robot datasets through the report and the previews: the robot model (the arm's block predicted, its tool
point a body among the objects), the tracking and causality checks, `factory report` end to end on push_cube,
and the arm drawn from its recorded joints by forward kinematics of its file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from robot_scenes import assert_chain_is_mujocos

from factory import checks
from factory.cli import main
from factory.contract.rollout import Layout, RobotBlock
from factory.export import EXPORTERS
from factory.labels.robot import tracking_error
from factory.model.bodies import Scene
from factory.model.evaluate import field_groups
from factory.model.robot import TOOL_RADIUS, RobotModel
from factory.names import param_name
from factory.preview import _arms
from factory.recipe.loader import load_recipe
from factory.recipe.robot_chain import link_frames, read_chain
from factory.recipe.robot_file import resolve
from factory.storage.opener import open_dataset

ROOT = Path(__file__).resolve().parent.parent
ARM = RobotBlock("arm", ("j1", "j2"))
LAYOUT = Layout(("cube",), ("ground", "cube", "arm/hand"), 0.02, robots=(ARM,),
                action_names_override=("arm.j1.target", "arm.j2.target"))


def factory(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "factory.cli", *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def push_cube(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("robot_report") / "push_cube"
    ran = factory("run", "recipes/robot/push_cube.yaml", "--episodes", "6", "--out", str(out), "--quiet")
    assert ran.returncode == 0, ran.stderr
    return out


def hand_made_model() -> RobotModel:
    return RobotModel.for_layout(Scene(("cube",), True, 0.0, (0.5, 0.5)), LAYOUT, hidden=8, arm_hidden=8)


def test_the_tool_joins_the_graph_where_it_is_moving_as_the_arm_is_predicted_to():
    model = hand_made_model()
    state = torch.zeros(1, LAYOUT.state_size)
    tool = 13 + 4  # after the cube's 13 floats and the two joints' q and dq
    state[0, tool:tool + 3] = torch.tensor([0.1, 0.2, 0.3])
    state[0, tool + 3] = 1.0  # hand quaternion w
    robot = state[:, 13:]
    moved = robot.clone()
    moved[0, 4:7] += torch.tensor([0.002, 0.0, -0.001])
    tools = model._tool_states(robot, moved)
    np.testing.assert_allclose(tools[0, :3], [0.1, 0.2, 0.3])
    np.testing.assert_allclose(tools[0, 7:10], [0.1, 0.0, -0.05], atol=1e-5)  # the move over dt = 0.02 s
    static = torch.zeros(1, 2, 10)  # ground and cube rows: the tool's row is the model's own
    g = model._graph(state[:, :13], robot, moved, static)
    assert g.nodes.shape[1] == 3  # ground, cube, tool
    assert g.nodes[0, 2, 4:7].tolist() == pytest.approx([TOOL_RADIUS] * 3)  # a held sphere at the tool point
    assert g.nodes[0, 2, 9] == 1.0


def test_a_step_keeps_the_layout_and_unit_quaternions():
    model = hand_made_model()
    state = torch.zeros(3, LAYOUT.state_size)
    state[:, 3] = 1.0  # the cube's quaternion
    state[:, 13 + 7] = 1.0  # the hand's
    with torch.no_grad():
        nxt = model.step(state, torch.zeros(3, 2), torch.zeros(3, 2, 10))
    assert nxt.shape == state.shape
    np.testing.assert_allclose(nxt[:, 3:7].norm(dim=-1), 1, rtol=1e-5)
    np.testing.assert_allclose(nxt[:, 20:24].norm(dim=-1), 1, rtol=1e-5)


def test_one_step_errors_cover_the_joints_and_the_tool():
    groups = field_groups(LAYOUT)
    assert groups["pos"].tolist() == [0, 1, 2]
    assert groups["joint_q"].tolist() == [13, 14] and groups["joint_dq"].tolist() == [15, 16]
    assert groups["tool_pos"].tolist() == [17, 18, 19] and groups["tool_quat"].tolist() == [20, 21, 22, 23]


def test_causality_finds_an_object_that_moves_before_anything_touches_it():
    states = np.zeros((6, LAYOUT.state_size), np.float32)
    states[:, 3] = 1.0
    states[3:, 0] = [0.004, 0.01, 0.02]  # the cube slides from state 3 on
    assert checks.creep_before_touch(states, LAYOUT, "cube", 3) == 0.0  # a touch seen at step 3 moved it
    assert checks.creep_before_touch(states, LAYOUT, "cube", 5) == pytest.approx(0.01)  # seen too late
    assert checks.creep_before_touch(states, LAYOUT, "cube", -1) == pytest.approx(0.02)  # never touched
    names = np.array(["ground", "cube", "arm/hand", "cube"], object)
    others = np.array(["cube", "arm/hand", "cube", "ground"], object)
    touches = checks.first_touches(["cube"], np.array([0, 0, 0, 1]), np.array([1, 4, 2, 1]), names, others)
    assert touches == {(0, "cube"): 2}  # the ground does not count; episode 1 was never touched


def test_tracking_fails_on_shuffled_commands(push_cube):
    ds = open_dataset(push_cube)
    robot = load_recipe(ROOT / "recipes/robot/push_cube.yaml").robots[0]
    rng = np.random.default_rng(0)
    ep = ds.episode(0)
    kept = np.median(tracking_error(ds.layout, robot, ep.states, ep.actions, 0))
    shuffled = np.median(tracking_error(ds.layout, robot, ep.states, rng.permutation(ep.actions), 0))
    assert kept < 0.1 < shuffled  # QualityOptions.max_tracking_error


def test_factory_report_runs_on_push_cube(push_cube, tmp_path, capfd):
    code = main(["report", str(push_cube), "--train-seconds", "2", "--epochs", "1", "--out", str(tmp_path / "r")])
    err = capfd.readouterr().err
    assert code == 0 and "Traceback" not in err, err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    c = summary["checks"]
    assert c["tracking"]["arm"]["unit"] == "rad" and 0 < c["tracking"]["arm"]["median"] < 0.1
    assert "causality" in c and "energy_gain" not in c
    names = {k["name"] for k in summary["verdict"]["criteria"]}
    assert "arm tracking error, median (rad)" in names
    assert "model / best baseline one-step error" in names
    one = summary["evaluation"]["test"]["one_step"]
    assert set(one) == {"zero-motion", "constant-velocity", "linear", "model"}
    assert "joint_q" in one["model"]["rmse"] and (tmp_path / "r" / "index.html").is_file()


@pytest.mark.parametrize("recipe", sorted(p.name for p in (ROOT / "recipes" / "robot").glob("*.yaml")))
def test_one_robot_episode_through_every_command(recipe, tmp_path, capfd):
    """Every shipped robot recipe at 1 episode through verify, card, preview, every export and the report."""
    out = str(tmp_path / "one")
    commands = [["run", f"recipes/robot/{recipe}", "--episodes", "1", "--out", out, "--quiet"],
                ["verify", out], ["card", out], ["preview", out, "--episode", "0"],
                *[["export", out, "-f", fmt, "--out", str(tmp_path / fmt), "--quiet"] for fmt in EXPORTERS],
                ["report", out, "--train-seconds", "2", "--epochs", "1"]]
    for command in commands:
        code = main(command)
        err = capfd.readouterr().err
        assert code == 0 and "Traceback" not in err, (command, err)
    summary = json.loads((tmp_path / "one" / "report" / "summary.json").read_text())
    loaded = load_recipe(ROOT / "recipes" / "robot" / recipe)
    if loaded.kind == "collision":  # a robot pour is reported as a liquid: the particle checks, no tracking yet
        space = loaded.robots[0].action_space
        assert summary["checks"]["tracking"]["arm"]["unit"] == ("m" if space == "ee_delta" else "rad")
    assert summary["not_computed"]  # nothing to test on: said, not a traceback


# ---------------------------------------------------------------- previews: the arm from its joints
def test_the_link_chain_is_where_mujoco_puts_the_links():
    import mujoco

    path = resolve("assets/xml/franka_emika_panda/panda.xml", "genesis")
    chain = read_chain(path)
    m = mujoco.MjModel.from_xml_path(str(path))
    assert_chain_is_mujocos(chain, m)


def test_the_chain_from_recorded_joints_ends_at_the_recorded_tool_point(push_cube):
    """The base pose from the recipe and the joints from the state give the hand; its ee_offset the tool."""
    ds = open_dataset(push_cube)
    recipe = load_recipe(ROOT / "recipes/robot/push_cube.yaml")
    robot = recipe.robots[0]
    ep = ds.episode(1)
    arm = _arms(recipe, ds.layout, ep.states, {param_name(k): v for k, v in ep.params.items()})[0]
    chain = read_chain(robot.path())
    hand = [link.name for link in chain].index("hand")
    start, _ = ds.layout.robot_span("arm")
    q = {j: ep.states[:, start + k].astype(float) for k, j in enumerate(ds.layout.robots[0].joints)}
    _, rot = link_frames(chain, q, np.asarray(robot.base.pos), np.eye(3))
    tool = arm.links[:, hand] + rot[:, hand] @ np.asarray(robot.ee_offset)
    np.testing.assert_allclose(tool, arm.tool, atol=1e-5)  # float32 states
    final = ds.layout.field(ep.states, "cube", "pos")[-1, :2]  # the drawn goal is the one the label measures
    assert np.linalg.norm(final - arm.goal[:2]) == pytest.approx(ep.labels["goal_miss__cube"], abs=1e-6)


def test_a_robot_preview_draws_the_arm(push_cube, monkeypatch):
    import factory.preview as preview

    ds = open_dataset(push_cube)
    ep = ds.episode(0)
    chain_grey = lambda frames: int(sum((np.abs(f.astype(int) - 64).max(-1) <= 2).sum() for f in frames))  # noqa: E731
    monkeypatch.setattr(preview, "MAX_FRAMES", 3)
    drawn = chain_grey(preview._draw_frames(ds, ep))
    monkeypatch.setattr(preview, "_arms", lambda *_: [])
    assert chain_grey(preview._draw_frames(ds, ep)) < drawn / 3  # the links' grey: text and axes have some too


def test_train_then_evaluate_a_robot_checkpoint(push_cube, tmp_path, capfd):
    ckpt = tmp_path / "robot.pt"
    assert main(["train", str(push_cube), "--train-seconds", "1", "--epochs", "1", "--out", str(ckpt)]) == 0
    assert torch.load(ckpt, weights_only=False)["kind"] == "robot"
    capfd.readouterr()
    assert main(["evaluate", str(push_cube), "--model", str(ckpt), "--json"]) == 0
    result = json.loads(capfd.readouterr().out)
    one = result["test"]["one_step"]
    assert {"model", "linear"} <= set(one) and "joint_dq" in one["model"]["rmse"]
