"""The pouring cup without an engine: its geometry, the tilt's schedule and path, the pour labels on
hand-made arrays, and the recipe mistakes it refuses (exit 2, nothing written)."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engines.genesis.cup import TiltPath, quat_of
from factory.contract.sampling import sample_episode
from factory.errors import RecipeError
from factory.labels.pour import (
    PourContext,
    in_cavity,
    pour_episode_labels,
    pour_step_labels,
)
from factory.recipe.containers import CupShape, container_cavity, container_lip, in_cavity_frame, tilt_schedule
from factory.recipe.distributions import nominal
from factory.recipe.loader import load_recipe, parse_recipe

ROOT = Path(__file__).resolve().parent.parent
POUR = ROOT / "recipes" / "fluid" / "pour.yaml"
CUP = CupShape(type="cup", inner=[0.12, 0.1, 0.08], wall=0.02)


def test_the_cup_walls_fill_its_outer_box_less_its_cavity():
    """Sampled points of the outer box: a point is in some wall box exactly when it is not in the cavity."""
    boxes = CUP.boxes()
    assert len(boxes) == 5 and np.allclose(CUP.outer, [0.16, 0.14, 0.1])
    lo, hi = CUP.cavity()
    assert np.allclose(hi - lo, [0.12, 0.1, 0.08])  # floor top to rim: the inner height
    points = np.random.default_rng(0).uniform(-CUP.outer / 2, CUP.outer / 2, (20_000, 3))
    in_wall = np.zeros(len(points), bool)
    for centre, size in boxes:
        assert (np.abs(centre) + size / 2 <= CUP.outer / 2 + 1e-12).all()  # inside the outer box
        in_wall |= np.all(np.abs(points - centre) <= size / 2, axis=1)
    in_cavity_ = np.all((points > lo) & (points < hi), axis=1)
    assert np.array_equal(in_wall, ~in_cavity_)


def test_tilt_turns_about_the_lip_and_its_velocity_is_the_path_s():
    pos0 = np.array([[-0.1, 0.0, 0.25], [0.3, 0.2, 0.1]])
    path = TiltPath(CUP, "+x", pos0, quat_of(np.zeros((2, 3))))
    lip = pos0 + CUP.lip("+x")[0]
    omega = np.array([[0.0, 2.0, 0.0], [0.0, 0.5, 0.0]])
    dt = 1e-4
    for _ in range(3000):  # 0.6 rad and 0.15 rad
        before, _ = path.pose()
        velocity = path.velocity(omega)
        path.turned += omega * dt
        after, quat = path.pose()
        assert np.allclose((after - before) / dt, velocity[:, :3], atol=2e-4)
    local = np.array([0.08, 0.0, 0.05])  # the lip itself, in the cup's frame: it has not moved
    w, x, y, z = quat.T
    rot = np.array([[1 - 2 * (y**2 + z**2), 2 * (x * z + w * y)], [2 * (x * z - w * y), 1 - 2 * (x**2 + y**2)]])
    moved = np.stack([after[:, 0] + rot[0, 0] * local[0] + rot[0, 1] * local[2],
                      after[:, 2] + rot[1, 0] * local[0] + rot[1, 1] * local[2]], axis=1)
    assert np.allclose(moved, lip[:, [0, 2]], atol=1e-9)
    assert np.allclose(2 * np.arctan2(quat[:, 2], quat[:, 0]), [0.6, 0.15])
    assert after[0, 2] > pos0[0, 2]  # a positive tilt about the +x lip lifts the far side: it pours toward +x


def test_tilt_schedule_stops_at_the_largest_angle():
    rates = tilt_schedule(2.0, 90.0, 10, 300, 0.004, 300)
    assert rates[:10].sum() == 0 and rates[10] == 2.0
    assert rates.sum() * 0.004 == pytest.approx(math.pi / 2)
    assert np.count_nonzero(rates) == math.ceil(math.pi / 2 / (2.0 * 0.004))
    assert tilt_schedule(2.0, 180.0, 0, 50, 0.004, 60)[50:].sum() == 0  # `stop` first
    assert not tilt_schedule(0.0, 90.0, 0, 50, 0.004, 60).any()


def _ctx() -> PourContext:
    target = CupShape(type="cup", inner=[0.2, 0.2, 0.1], wall=0.02)
    return PourContext(cup=0, cup_cavity=CUP.cavity(), target=1, target_cavity=target.cavity(),
                       slack=0.005, record_dt=0.02)


def test_pour_labels_on_hand_made_particles():
    """Three states: all in the upright cup; the cup turned 90° about y with two particles out
    (one in the basin, one spilled); then the cup back upright, empty, with three in the basin."""
    ctx = _ctx()
    cup_pos = np.array([[0.0, 0.0, 0.5]] * 3)
    quarter = [math.cos(math.pi / 4), 0.0, math.sin(math.pi / 4), 0.0]
    cup_quat = np.array([[1.0, 0, 0, 0], quarter, [1.0, 0, 0, 0]])
    basin = (np.array([[1.0, 0.0, 0.0]] * 3), np.array([[1.0, 0, 0, 0]] * 3))
    in_cup_local = np.array([[0.0, 0.0, 0.0], [0.05, 0.04, -0.02], [-0.05, -0.04, 0.04]])
    turned = in_cup_local @ np.array([[0, 0, -1], [0, 1, 0], [1, 0, 0]]).T + cup_pos[1]  # R_y(90°) · local
    in_basin, spilled = np.array([1.0, 0.0, -0.04]), np.array([0.5, 0.0, 0.0])
    pos = np.stack([np.vstack([in_cup_local + cup_pos[0], [0.0, 0.0, 0.48]]),
                    np.vstack([turned[:2], in_basin, spilled]),
                    np.vstack([in_basin, in_basin + 0.01, in_basin + np.array([-0.01, -0.01, 0.01]), spilled])])
    assert np.array_equal(in_cavity(pos, cup_pos, cup_quat, ctx.cup_cavity, ctx.slack),
                          [[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0]])
    # the cup's frame matters: the same turned points are outside the cavity of an upright cup
    assert not in_cavity(pos[1:2, :2], cup_pos[:1], cup_quat[:1], ctx.cup_cavity, 0.0).all()
    poses = {"cup": (cup_pos, cup_quat), "target": basin}
    steps = pour_step_labels(pos, poses, ctx)
    assert np.allclose(steps["poured"], [0.5, 1.0]) and np.allclose(steps["in_target"], [0.25, 0.75])
    assert np.allclose(steps["spilled"], [0.25, 0.25])
    episode = pour_episode_labels(pos, poses, ctx)
    assert episode["poured_fraction"] == 1.0 and episode["in_target_fraction"] == 0.75
    assert episode["spilled_fraction"] == 0.25
    assert episode["first_outflow_step"] == 1 and episode["first_outflow_time"] == pytest.approx(0.02)
    still = pour_episode_labels(pos[:1].repeat(3, axis=0), {"cup": (cup_pos, np.array([[1.0, 0, 0, 0]] * 3)),
                                                           "target": basin}, ctx)
    assert still["first_outflow_step"] == -1 and math.isnan(still["first_outflow_time"])
    assert still["poured_fraction"] == 0.0


def test_the_pour_recipe_draws_a_tilt_per_episode():
    recipe = load_recipe(POUR)
    a, b = sample_episode(recipe, 0), sample_episode(recipe, 1)
    for spec in (a, b):
        omega = spec.params["actions.0.angular_velocity"]
        limit = spec.params["actions.0.max_angle_deg"]
        w = spec.velocities[:, 0]
        assert np.allclose(w[:, [0, 2]], 0) and w[0, 1] == pytest.approx(omega)
        turning = recipe.actions[0].stop * recipe.dt  # seconds the tilt may last
        assert w[:, 1].sum() * recipe.dt == pytest.approx(min(math.radians(limit), omega * turning))
    assert a.params["actions.0.angular_velocity"] != b.params["actions.0.angular_velocity"]


BAD_CUPS = [  # (old, new, the line the error names, its message)
    ("wall: 0.02}\n      pos: [-0.1", "wall: 0.12}\n      pos: [-0.1", "wall: 0.12}",
     r"scene.objects.0.shape.wall: a wall 0.12 m thick is not thinner than the cavity"),
    ("pos: [0.0, 0, 0.06]", "pos: [0.3, 0, 0.06]", "pos: [0.3, 0, 0.06]",
     r"scene.objects.1.pos: 'basin' reaches .* outside the liquid's domain scene.fluid.tank"),
    ("pos: [-0.1, 0, 0.245]", "pos: [-0.1, 0, 0.3]", "    block:",
     r"scene.fluid.block: the liquid must start inside the upright cavity of 'cup'"),
    ("into: basin", "into: cup", "into: cup", r"actions.0.into: the cup cannot pour into itself"),
    ("into: basin", "into: basn", "into: basn", r"actions.0.into: 'basn' is not a fixed object of shape 'cup'"),
    ("low: 30, high: 135", "low: 30, high: 190", "max_angle_deg",
     r"actions.0.max_angle_deg: must be > 0.0 and <= 180.0"),
]


@pytest.mark.parametrize("old, new, at, message", BAD_CUPS)
def test_a_bad_cup_is_refused_naming_field_and_line(old, new, at, message):
    text = POUR.read_text()
    assert old in text
    bad = text.replace(old, new, 1)
    line = next(i for i, row in enumerate(bad.splitlines(), 1) if at in row)
    with pytest.raises(RecipeError) as info:
        parse_recipe(bad, "pour.yaml")
    assert any(re.search(f"line {line}: {message}", p) for p in info.value.problems), info.value.problems


POUR_MUG = ROOT / "recipes" / "fluid" / "pour_mug.yaml"
BAD_MUGS = [  # a block reaching past the smallest mug's round wall, or above its lowest rim
    ("pos: [0.0964, 0, 0.305]", "pos: [0.13, 0, 0.305]", "    block:",
     r"scene.fluid.block: the liquid must start inside the upright cavity of 'mug', .* within 0.0627 m of its axis"),
    ("size: [0.08, 0.08, 0.09]", "size: [0.08, 0.08, 0.15]", "    block:",
     r"scene.fluid.block: the liquid must start inside the upright cavity of 'mug'"),
    ("into: basin", "into: mug", "into: mug", r"actions.0.into: the cup cannot pour into itself"),
]


@pytest.mark.parametrize("old, new, at, message", BAD_MUGS)
def test_a_mug_whose_liquid_does_not_fit_is_refused(old, new, at, message):
    """The block is checked against the mug at every corner of its drawn sizes: its round wall and its
    rim, where its floor is highest."""
    text = POUR_MUG.read_text()
    assert old in text
    bad = text.replace(old, new, 1)
    line = next(i for i, row in enumerate(bad.splitlines(), 1) if at in row)
    with pytest.raises(RecipeError) as info:
        parse_recipe(bad, "pour_mug.yaml")
    assert any(re.search(f"line {line}: {message}", p) for p in info.value.problems), info.value.problems


def test_a_mug_s_round_cavity_and_lip():
    """A mug's cavity is round about its axis (off its centre of mass, towards -x: the handle is on +x) and
    its -x lip is on the outer wall at the rim: points inside the square about the circle are not in it."""
    mug = load_recipe(POUR_MUG).scene.objects[0].shape
    lower, upper, radius = container_cavity(mug, {"radius": 0.08, "height": 0.14})
    axis = (lower + upper) / 2
    assert radius == pytest.approx(0.068 * math.cos(math.pi / 32)) and -0.005 < axis[0] < 0 and axis[1] == 0
    assert upper[2] - lower[2] == pytest.approx(0.14 - 0.012)
    corner = np.array([axis[0] + 0.9 * radius, axis[1] + 0.9 * radius, axis[2]])  # in the box, off the circle
    points = np.array([[*axis[:2], lower[2] + 0.01], [axis[0] - 0.99 * radius, 0.0, axis[2]], corner])
    assert in_cavity_frame(points, (lower, upper, radius), 0.0).tolist() == [True, True, False]
    low, high, _ = container_cavity(mug)  # at its nominal sizes, as the engine builds an undrawn scene
    point, turn = container_lip(mug, "-x")
    outer = nominal(mug.radius) * math.cos(math.pi / 32)  # the wall's outer face: the 32-gon's apothem
    assert point == pytest.approx([(low[0] + high[0]) / 2 - outer, 0.0, high[2]])
    assert turn.tolist() == [0.0, -1.0, 0.0]


def test_cli_refuses_a_bad_cup_with_exit_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(POUR.read_text().replace("wall: 0.02}\n      pos: [-0.1", "wall: 0.2}\n      pos: [-0.1", 1))
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "factory.cli", "run", str(bad), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2, done.stderr
    assert "scene.objects.0.shape.wall" in done.stderr and not out.exists()


def test_genesis_refuses_a_free_cup():
    from engines.genesis.engine import GenesisEngine
    from factory.errors import EngineUnsupported
    from factory.recipe.schema import Recipe

    data = load_recipe(POUR).model_dump()
    data["scene"]["objects"].append({"name": "mug", "shape": {"type": "cup", "inner": [0.05, 0.05, 0.05], "wall": 0.01},
                                     "pos": [0.25, 0.0, 0.3]})
    with pytest.raises(EngineUnsupported, match=r"scene\.objects\.2\.fixed: a cup is a fixed container"):
        GenesisEngine(Recipe.model_validate(data))
