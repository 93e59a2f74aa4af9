"""The tilt policy: a tray welded to the Panda's hand turns about its lip; a ball in it stays at a small
angle and spills past 90°; what a tilt cannot do is refused with its field and line."""

from __future__ import annotations

import numpy as np
import pytest
from robot_scenes import PANDA, run

from factory.contract.rollout import Layout
from factory.errors import RecipeError
from factory.generate.conformance import check_engine
from factory.labels.tilt import tilt_labels
from factory.recipe.loader import parse_recipe

# the tray's top 1 cm below the tool point of the initial pose, the ball on its floor
TILT = f"""\
name: tilt_test
engine: mujoco
seed: 7
episodes: 2
steps: 1000
dt: 0.002
n_envs: 2
scene:
  ground: {{friction: 0.4, size: [1.4, 1.2]}}
  objects:
    - name: tray
      shape: {{type: tray, size: [0.12, 0.12, 0.05], thickness: 0.005}}
      mass: 0.2
      pos: [0.0135, 0.0, 0.3582]
    - name: ball
      shape: {{type: sphere, radius: 0.012}}
      mass: 0.02
      pos: [0.0135, 0.0, 0.359]
robots:
  - name: arm
    file: {PANDA}
    base: {{pos: [-0.45, 0.0, 0.0]}}
    initial: {{joint2: -0.3, joint4: -2.2, joint6: 1.9, joint7: 0.785}}
    actuated: [joint1, joint2, joint3, joint4, joint5, joint6, joint7]
    ee_link: hand
    ee_offset: [0.0, 0.0, 0.105]
    policy: {{type: tilt, object: tray, lip: "+y", angle_deg: 30}}
outputs: {{record_every: 10}}
"""


@pytest.mark.parametrize("angle, spills", [(30, False), (120, True)])
def test_a_tilt_turns_the_tray_about_its_lip_and_spills_past_the_lip(angle, spills):
    layout, records = run(TILT.replace("angle_deg: 30", f"angle_deg: {angle}"), [0])
    labels, states = records[0].episode_labels, records[0].rollout.states
    assert labels["tilt_deg__tray"] == pytest.approx(angle, abs=2)  # measured 30.2° and 120.2°
    assert labels["lip_drift__tray"] < 0.02  # the arm sags under the tray: measured 6 and 13 mm
    assert labels["spilled__ball"] == spills
    assert (labels["spill_step__ball"] > 20) if spills else labels["spill_step__ball"] == -1  # after the tilt began
    start = layout.robot_span("arm")[0] + 18  # the tool point: 9 joints' q and dq before it
    held = np.linalg.norm(layout.field(states, "tray", "pos") - states[:, start:start + 3], axis=-1)
    assert np.abs(held - held[0]).max() < 0.005  # welded to the hand where it started
    ball_z = layout.field(states, "ball", "pos")[-1, 2]
    assert (ball_z < 0.05) == spills  # out of the tray: on the table


def test_tilt_labels_on_hand_made_states():
    recipe = parse_recipe(TILT)
    layout = Layout(("tray", "ball"), ("ground", "tray", "ball"), 0.02)
    states = np.zeros((3, 26), np.float32)
    states[:, 3] = states[:, 16] = 1.0  # unrotated
    states[:, 13:16] = [[0.0, 0.0, 0.0], [0.05, 0.0, 0.0], [0.0, 0.2, 0.0]]  # in, in, out beyond +y
    states[-1, 3:7] = [np.cos(np.pi / 4), np.sin(np.pi / 4), 0.0, 0.0]  # 90° about x
    tray = recipe.scene.objects[0]
    labels = tilt_labels(layout, states, tray, "+y", ["ball"])
    assert labels["spilled__ball"] and labels["spill_step__ball"] == 2
    assert labels["tilt_deg__tray"] == pytest.approx(90, abs=1e-3)
    y, z = 0.06, 0.0328  # the +y lip in the tray's frame (its centre of mass), turned about x through it
    assert labels["lip_drift__tray"] == pytest.approx(np.hypot(-z - y, y - z), abs=1e-4)


@pytest.mark.parametrize("old, new, message", [
    ("angle_deg: 30}", "angle_deg: 30}\n    action_space: ee_delta",
     "line 28: robots.0.action_space: a tilt turns the hand about a horizontal axis"),
    ("angle_deg: 30", "angle_deg: 200", r"line 27: robots.0.policy.angle_deg: .*180"),
    ("pos: [0.0135, 0.0, 0.3582]", "pos: [0.0135, 0.0, 0.3582]\n      euler: [0, 0, 30]",
     "line 15: scene.objects.0.euler: the container a tilt holds starts upright and unrotated"),
])
def test_what_a_tilt_cannot_do_is_refused_with_its_field_and_line(old, new, message):
    assert old in TILT
    with pytest.raises(RecipeError, match=message):
        parse_recipe(TILT.replace(old, new))


def test_mujoco_keeps_the_engine_contract_with_a_tilt():
    """Each episode sets its own weld: an episode alone (on a model that ran another) is the same bytes."""
    text = TILT.replace("angle_deg: 30", "angle_deg: {type: uniform, low: 30, high: 120}").replace(
        "steps: 1000", "steps: 300")
    batch = check_engine("mujoco", parse_recipe(text))
    assert len(batch) == 2 and not np.array_equal(batch[0].states, batch[1].states)
