"""`factory compare`: the comparison's parts on MuJoCo runs, and the whole command against Genesis."""

from __future__ import annotations

import json

import numpy as np
import pytest

from factory.cli import main
from factory.compare import laws, metrics, robots
from factory.compare.runs import aligned, run_engine
from factory.recipe.loader import parse_recipe

ROBOT_SHORT = {"n_envs": 2, "episodes": 2}

TINY = """\
name: tiny_head_on
engine: {engine}
seed: 11
episodes: 8
steps: 100
dt: 0.004
n_envs: 8
scene:
  ground: {{friction: 0.01}}
  objects:
    - name: left
      shape: {{type: sphere, radius: 0.1}}
      mass: {{type: uniform, low: 0.5, high: 2.0}}
      friction: 0.01
      pos: [-0.4, 0, 0.1]
      vel: [{{type: uniform, low: 1.0, high: 3.0}}, 0, 0]
    - name: right
      shape: {{type: box, size: [0.2, 0.2, 0.2]}}
      mass: {{type: uniform, low: 0.5, high: 2.0}}
      friction: {{type: uniform, low: 0.2, high: 0.5}}
      pos: [0.4, 0, 0.1]
      vel: [{{type: uniform, low: 1.0, high: 1.5}}, 0, 0]
outputs: {{record_every: 2}}
"""


@pytest.fixture(scope="module")
def mujoco_runs(tmp_path_factory):
    """The tiny recipe on MuJoCo twice, the second with a different thread count: identical data."""
    root = tmp_path_factory.mktemp("compare")
    recipe = parse_recipe(TINY.format(engine="mujoco"))
    one = run_engine(recipe, "mujoco", 8, root / "a")
    two = run_engine(recipe.model_copy(update={"engine": recipe.engine.model_copy(update={"threads": 1})}),
                     "mujoco", 8, root / "b")
    return recipe, aligned([one, two])


def test_an_engine_agrees_with_itself(mujoco_runs):
    _recipe, (a, b) = mujoco_runs
    div = metrics.divergence(a, b, frozenset())
    assert max(div["p90"]) == 0.0 and metrics.horizon_within(div, 0.01) == div["t"][-1]
    agree = metrics.label_agreement(a, b)
    assert {"touched", "first_contact", "came_to_rest", "left_support"} <= set(agree)
    assert all(v["agreement"] == 1.0 for v in agree.values())
    assert all(d["wasserstein"] == 0.0 and d["ks"] == 0.0
               for d in metrics.distribution_distances(a, b, frozenset()).values())


def test_distances_see_a_shifted_sample():
    x = np.random.default_rng(0).normal(size=500)
    assert metrics.wasserstein(x, x + 0.5) == pytest.approx(0.5, abs=1e-9)
    assert metrics.ks_statistic(x, x + 10) == 1.0


def test_laws_on_mujoco(mujoco_runs):
    recipe, (a, _) = mujoco_runs
    res = laws.residuals(a, recipe)
    assert res["momentum"]["n"] >= 2 and res["momentum"]["median_abs"] < 0.1  # the sphere catches the box
    assert res["sliding_mu_g"]["n"] >= 6 and abs(res["sliding_mu_g"]["median"]) < 0.1  # the struck box slides at μ·g


def test_compare_needs_two_engines(tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text(TINY.format(engine="mujoco"))
    assert main(["compare", str(path), "--engines", "mujoco", "--out", str(tmp_path / "c")]) == 2
    assert "--engines" in capsys.readouterr().err


@pytest.mark.genesis
def test_compare_genesis_and_mujoco(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(TINY.format(engine="genesis"))
    assert main(["compare", str(path), "--engines", "genesis,mujoco", "--episodes", "8",
                 "--out", str(tmp_path / "c")]) == 0
    summary = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert summary["episodes"] == 8 and (tmp_path / "c" / "index.html").exists()
    assert summary["labels"]["mujoco"]["touched"]["agreement"] >= 0.9
    assert summary["divergence"]["mujoco"]["median"][0] == pytest.approx(0.0, abs=1e-4)  # same initial states


def test_a_robot_engine_agrees_with_itself(tmp_path):
    """Robot episodes on MuJoCo at two thread counts: no joint or tool gap, every robot label the same,
    and the object laws left out (the actions are the arm's, not pushes)."""
    from helpers import robot_push

    recipe = robot_push("mujoco", **ROBOT_SHORT)
    one = run_engine(recipe, "mujoco", 2, tmp_path / "a")
    two = run_engine(recipe.model_copy(update={"engine": recipe.engine.model_copy(update={"threads": 1})}),
                     "mujoco", 2, tmp_path / "b")
    same = robots.robot_comparison(*aligned([one, two]), recipe)
    assert same["robots"]["arm"]["joint_gap_rad"]["max"] == 0.0 and same["robots"]["arm"]["tool_gap_m"]["max"] == 0.0
    assert same["labels"]["pushed_to_target__cube"]["agreement"] == 1.0
    assert same["labels"]["displacement__cube"]["mean_abs_difference"] == 0.0
    assert same["labels"]["first_robot_contact__arm__cube"]["agreement"] == 1.0
    assert all(law["n"] == 0 for law in laws.residuals(one, recipe).values())


@pytest.mark.genesis
def test_compare_a_robot_recipe_on_mujoco_and_genesis(tmp_path, capsys):
    import yaml
    from helpers import robot_push

    path = tmp_path / "push.yaml"
    path.write_text(yaml.safe_dump(robot_push("mujoco", **ROBOT_SHORT).model_dump(mode="json", exclude_none=True)))
    assert main(["compare", str(path), "--engines", "mujoco,genesis", "--out", str(tmp_path / "c")]) == 0
    summary = json.loads((tmp_path / "c" / "summary.json").read_text())
    arm = summary["robots"]["genesis"]["robots"]["arm"]
    assert 0 < arm["joint_gap_rad"]["max"] < 0.02 and arm["tool_gap_m"]["max"] < 0.008  # measured 10 mrad, 2.4 mm
    labels = summary["robots"]["genesis"]["labels"]
    assert labels["pushed_to_target__cube"]["agreement"] == 1.0
    assert labels["displacement__cube"]["mean_abs_difference"] < 0.005
    assert "Robots" in (tmp_path / "c" / "index.html").read_text()
    assert "arm: joint gap mean" in capsys.readouterr().out
