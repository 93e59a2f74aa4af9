"""A URDF robot on MuJoCo: the Genesis wheel's URDF Panda loads with its meshes found beside the file,
moves under the recipe's gains, holds its unactuated fingers, and what a URDF cannot give is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from robot_scenes import MOVING_BOUND, PANDA, PUSH, RECIPE, WALK, assert_chain_is_mujocos, run

from factory.errors import RecipeError
from factory.recipe.loader import parse_recipe
from factory.recipe.robot_file import resolve

URDF = "{package: genesis, path: assets/urdf/panda_bullet/panda.urdf}"
ARM = [f"panda_joint{i}" for i in range(1, 8)]
URDF_RECIPE = (RECIPE.replace("steps: 1000", "steps: 400").replace(PANDA, URDF)
               .replace("initial: {joint2: -0.3, joint4: -2.2, joint6: 1.9, joint7: 0.785}",
                        "initial: {panda_joint2: -0.3, panda_joint4: -2.2, panda_joint6: 1.9, panda_joint7: 0.785, "
                        "panda_finger_joint1: 0.02, panda_finger_joint2: 0.02}")
               .replace("actuated: [joint1, joint2, joint3, joint4, joint5, joint6, joint7]",
                        f"actuated: [{', '.join(ARM)}]")
               .replace("    gripper: {actuator: actuator8, open: 255, closed: 0}\n",
                        "    controller: {kp: 4500, kd: 450}\n")
               .replace("ee_link: hand", "ee_link: panda_hand"))


def test_the_urdf_panda_walks_and_holds_its_fingers():
    layout, records = run(URDF_RECIPE.replace(PUSH, WALK), [0, 1])
    assert layout.action_names[0] == "arm.panda_joint1.target" and "arm/panda_hand" in layout.bodies
    start = layout.robot_span("arm")[0]
    assert layout.state_names[start:start + 9] == [f"arm.{j}.q" for j in [*ARM, "panda_finger_joint1",
                                                                             "panda_finger_joint2"]]
    for r in records:
        assert np.isfinite(r.rollout.states).all()
        assert 0 < r.episode_labels["max_tracking_error__arm"] < MOVING_BOUND  # measured 0.097-0.113 rad
        fingers = r.rollout.states[:, start + 7:start + 9]
        assert np.abs(fingers - 0.02).max() < 1e-3  # held by soft joint equalities: measured 0.5 mm


def test_the_urdf_panda_reaches_a_point_through_ik():
    point = "policy: {type: reach, point: [0.1, -0.1, 0.2]}"
    _, records = run(URDF_RECIPE.replace(PUSH, point).replace("steps: 400", "steps: 600"), [0])
    assert records[0].episode_labels["reached__arm"] and records[0].episode_labels["reach_error__arm"] < 0.01  # 5.9 mm


def test_a_urdf_mesh_is_found_beside_the_file_or_the_recipe_is_refused(tmp_path):
    source = resolve("assets/urdf/panda_bullet/panda.urdf", "genesis")
    shutil.copytree(source.parent / "meshes", tmp_path / "meshes")
    text = source.read_text()
    (tmp_path / "panda.urdf").write_text(text)
    parse_recipe(URDF_RECIPE.replace(URDF, str(tmp_path / "panda.urdf")))  # package://meshes/... beside it
    (tmp_path / "broken.urdf").write_text(text.replace("collision/link3.obj", "collision/link3_gone.obj"))
    with pytest.raises(RecipeError, match=r"line 20: robots.0.file: .*broken.urdf: mesh package://meshes/collision/"
                                          r"link3_gone.obj is not under the URDF's folder"):
        parse_recipe(URDF_RECIPE.replace(URDF, str(tmp_path / "broken.urdf")))


@pytest.mark.parametrize("old, new, message", [
    ("controller: {kp: 4500, kd: 450}", "controller: {kp: 4500}",
     "line 24: robots.0.controller.kd: a URDF has no actuators, so the controller's gains drive its joints: give kd "
     "for panda_joint1"),
    ("controller: {kp: 4500, kd: 450}", "gripper: {actuator: actuator8, open: 255, closed: 0}",
     "line 24: robots.0.gripper: a URDF has no actuators to name"),
    ("panda_joint2: -0.3", "panda_joint22: -0.3", "line 22: robots.0.initial.panda_joint22: 'panda_joint22' is not "
                                                  "a joint of the robot"),
])
def test_what_a_urdf_cannot_give_is_refused_with_its_field_and_line(old, new, message):
    assert old in URDF_RECIPE
    with pytest.raises(RecipeError, match=message):
        parse_recipe(URDF_RECIPE.replace(old, new))


def test_a_file_that_is_neither_mjcf_nor_urdf_is_refused(tmp_path):
    other = tmp_path / "robot.urdf"
    other.write_text("<mujoco/>")
    with pytest.raises(RecipeError, match="not a URDF file"):
        parse_recipe(URDF_RECIPE.replace(URDF, str(other)))
    assert Path(other).exists()


def test_the_urdf_link_chain_is_where_mujoco_puts_the_links():
    """Previews draw a URDF arm from its joints: the chain read from the URDF agrees with MuJoCo's model of it."""
    from engines.mujoco.urdf import robot_spec
    from factory.recipe.robot_chain import read_chain

    robot = parse_recipe(URDF_RECIPE).robots[0]
    chain = read_chain(robot.path())
    m = robot_spec(robot).compile()
    assert_chain_is_mujocos(chain, m)
