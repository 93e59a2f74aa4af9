"""A Panda picks a cube up and places it: the gripper's commands, the labels on a real episode and on
hand-made arrays, and the refusal of a pick without a gripper."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from robot_scenes import PUSH, RECIPE, run

from factory.certify.impacts import contact_runs, impact_mask
from factory.contract.commands import Observation
from factory.contract.pick_place import pick_place
from factory.contract.robots import RobotInit
from factory.contract.rollout import Contacts, Layout
from factory.errors import RecipeError
from factory.generate.conformance import check_engine
from factory.labels.grasp import pick_place_labels
from factory.labels.pose import UPRIGHT_COS
from factory.recipe.loader import parse_recipe

ROOT = Path(__file__).resolve().parent.parent
PICK = ("policy: {type: pick_place, object: cube, place: [{type: uniform, low: 0.1, high: 0.2}, "
        "{type: uniform, low: -0.2, high: -0.1}, 0.025]}")
PICK_RECIPE = RECIPE.replace(PUSH, PICK).replace("steps: 1000", "steps: 1600").replace("mass: 0.2", "mass: 0.1")


def test_a_pick_place_lifts_the_cube_and_sets_it_down_at_the_drawn_place():
    layout, records = run(PICK_RECIPE, [0, 1])
    gripper = layout.action_names.index("arm.gripper")
    for r in records:
        labels, pos = r.episode_labels, layout.field(r.rollout.states, "cube", "pos")
        place = np.array([r.params[f"arm.policy.place.{axis}"] for axis in "xyz"])
        assert labels["grasped__cube"] and labels["placed__cube"] and not labels["dropped__cube"]
        assert labels["toppled__cube"] == (labels["up_cos__cube"] < UPRIGHT_COS)  # turned in the grip
        assert labels["place_miss__cube"] == pytest.approx(np.linalg.norm(pos[-1] - place), abs=1e-6)
        assert labels["place_miss__cube"] < 0.02
        lifted = labels["grasp_step__cube"]
        assert pos[lifted + 1, 2] - pos[0, 2] >= 0.01 and pos[:, 2].max() > pos[0, 2] + 0.08  # carried 0.1 m up
        opened = r.rollout.actions[:, gripper]
        assert opened[0] == 0.0 and opened[lifted] == 1.0 and opened[-1] == 0.0  # open, closed to carry, open
        assert r.episode_labels["first_robot_contact__arm__bystander"] == -1


LAYOUT = Layout(("cube",), ("ground", "cube", "arm/left_finger", "arm/right_finger"), 0.02)


def states(heights: list[float], x: list[float] | None = None) -> np.ndarray:
    out = np.zeros((len(heights), 13), np.float32)
    out[:, 0] = x if x is not None else 0.0
    out[:, 2] = heights
    out[:, 3] = 1.0  # upright
    return out


def contacts(pairs: list[tuple[int, int]]) -> Contacts:
    """Contacts seen at (state, body) of the cube (body 1)."""
    n = len(pairs)
    return Contacts(np.array([s for s, _ in pairs], np.int32), np.full(n, 1, np.int16),
                    np.array([b for _, b in pairs], np.int16), np.zeros((n, 3), np.float32),
                    np.zeros((n, 3), np.float32), np.zeros((n, 3), np.float32), np.zeros(n, np.float32))


def test_pick_place_labels_on_hand_made_episodes():
    place = np.array([0.2, 0.0, 0.025])
    # lifted by both fingers at state 2, carried to the place, set on the ground, let go
    z, x = [0.025, 0.025, 0.05, 0.05, 0.025, 0.025], [0.0, 0.0, 0.0, 0.2, 0.2, 0.2]
    held = [(1, 0), (1, 2), (1, 3), (2, 2), (2, 3), (3, 2), (3, 3), (4, 0), (4, 2), (4, 3), (5, 0)]
    labels = pick_place_labels(LAYOUT, states(z, x), contacts(held), "arm", "cube", place, 0.02)
    assert labels["grasped__cube"] and labels["grasp_step__cube"] == 1
    assert labels["placed__cube"] and not labels["dropped__cube"] and labels["place_miss__cube"] < 1e-6
    # the same, but the fingers lose it in the air at state 3: it falls short of the place
    fell = [(1, 0), (1, 2), (1, 3), (2, 2), (2, 3), (4, 0), (5, 0)]
    labels = pick_place_labels(LAYOUT, states(z, [0.0, 0.0, 0.0, 0.1, 0.1, 0.1]), contacts(fell), "arm", "cube",
                               place, 0.02)
    assert labels["grasped__cube"] and labels["dropped__cube"] and not labels["placed__cube"]
    # one finger only, or lifted while still on the ground (pushed up a slope): no grasp
    one = [(1, 0), (1, 2), (2, 2), (3, 2), (4, 0), (5, 0)]
    assert not pick_place_labels(LAYOUT, states(z, x), contacts(one), "arm", "cube", place, 0.02)["grasped__cube"]
    # still held at the end, on the place: not placed
    kept = [*held[:-1], (5, 2), (5, 3)]
    assert not pick_place_labels(LAYOUT, states(z, x), contacts(kept), "arm", "cube", place, 0.02)["placed__cube"]


def test_pick_place_labels_a_cube_left_on_its_side_toppled():
    on_side = states([0.025] * 3)
    on_side[-1, 3:7] = [np.cos(np.pi / 4), np.sin(np.pi / 4), 0.0, 0.0]  # a quarter turn about x
    labels = pick_place_labels(LAYOUT, on_side, contacts([]), "arm", "cube", np.array([0.0, 0.0, 0.025]), 0.02)
    assert labels["toppled__cube"] and not labels["grasped__cube"] and labels["placed__cube"]


NO_GRIPPER = ("line 27: robots.0.policy.type: a 'pick_place' policy grasps with the robot's gripper, and this "
              "robot has none")


def test_a_pick_place_for_a_robot_without_a_gripper_is_refused_at_its_line(tmp_path):
    text = PICK_RECIPE.replace("    gripper: {actuator: actuator8, open: 255, closed: 0}\n", "")
    with pytest.raises(RecipeError, match=NO_GRIPPER):
        parse_recipe(text)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "factory.cli", "run", str(recipe), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and NO_GRIPPER in proc.stderr and not (tmp_path / "out").exists()


def test_mujoco_keeps_the_engine_contract_with_a_pick_place():
    batch = check_engine("mujoco", parse_recipe(PICK_RECIPE.replace("steps: 1600", "steps: 400").replace(
        "n_envs: 4", "n_envs: 2")))
    assert len(batch) == 2 and batch[0].actions.shape == (40, 8)


def test_the_shipped_pick_place_never_presses_its_cube_into_the_table():
    """Episodes 4 and 14 of `pick_place.yaml` lose the cube (dropped, turned in the grip): lowered to the
    place regardless, the fingers pressed it 19-20 mm into the table while it rested there."""
    layout, records = run((ROOT / "recipes/robot/pick_place.yaml").read_text(), [4, 14])
    for r in records:
        contacts = r.rollout.contacts
        impact = impact_mask(contacts, contact_runs(r.rollout.states, contacts, layout), layout.record_dt)
        assert contacts.penetration[~impact].max() < 0.005


def test_the_lowering_tool_stays_clear_of_a_cube_it_does_not_hold_as_grasped():
    recipe = parse_recipe((ROOT / "recipes/robot/pick_place.yaml").read_text())
    arm, cube = recipe.robots[0], recipe.scene.objects[0]
    init = RobotInit(name="arm", initial={}, policy={"place.x": 0.2, "place.y": 0.0, "place.z": 0.025})
    start = np.array([0.1, 0.0, 0.025])

    def tool_z(tool: list[float], centre: list[float]) -> float:
        obs = Observation(step=150, steps=200, q=np.zeros(7), tool=np.array(tool), tool_start=np.zeros(3),
                          objects={"cube": np.array(centre)})
        command = pick_place(arm.policy, init, obs, cube, start)
        assert command.tool is not None
        return float(command.tool[2])

    held = tool_z([0.2, 0.0, 0.06], [0.2, 0.0, 0.062])  # in the fingers as grasped: lowered toward the place
    assert held < 0.06
    # turned in the grip, hanging 35 mm below the tool: stopped where no corner of it can reach the table
    assert tool_z([0.2, 0.0, 0.07], [0.2, 0.0, 0.035]) == pytest.approx(0.07 + np.sqrt(3) * 0.025 - 0.035)
    # dropped on the place, under the fingers: they stay the approach clearance above its top
    assert tool_z([0.21, 0.01, 0.1], [0.2, 0.0, 0.025]) == pytest.approx(0.05 + arm.policy.clearance)
