"""Degenerate datasets never crash a command: one episode, identical episodes (constant labels and outcomes, a
label always false), no contacts at all, a split with nothing to train on. Tiny MuJoCo runs, every command."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import yaml

from factory.cli import main
from factory.compare import page
from factory.generate.runner import run
from factory.recipe.loader import parse_recipe

pytestmark = pytest.mark.filterwarnings("error", "ignore::DeprecationWarning")  # a warning reaches the terminal

BOX = {"name": "box", "shape": {"type": "box", "size": [0.3, 0.3, 0.1]},
       "mass": {"type": "uniform", "low": 0.5, "high": 4.0}, "friction": 0.5, "pos": [0, 0, 0.05],
       "vel": [{"type": "uniform", "low": 1.0, "high": 3.0}, 0, 0]}
BASE = {"engine": {"type": "mujoco"}, "seed": 3, "episodes": 2, "steps": 40, "dt": 0.005, "n_envs": 2,
        "scene": {"ground": {"friction": 0.01}, "objects": [BOX]},
        "outputs": {"formats": ["parquet", "hdf5"], "record_every": 2}}
RECIPES = {
    "one": BASE | {"episodes": 1, "n_envs": 1},
    # no random parameter: both episodes the same, every label and outcome constant, `left_support` always false
    "same": BASE | {"scene": {"ground": {"friction": 0.01}, "objects": [BOX | {"mass": 1.0, "vel": [2.0, 0, 0]}]}},
    # a ball high in the air for 0.2 s: not one contact
    "air": BASE | {"scene": {"ground": {"friction": 0.01},
                             "objects": [BOX | {"shape": {"type": "sphere", "radius": 0.1}, "pos": [0, 0, 3.0]}]}},
}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, tuple]:
    root = tmp_path_factory.mktemp("degenerate")
    out = {}
    for name, data in RECIPES.items():
        text = yaml.safe_dump(data | {"name": name})
        (root / f"{name}.yaml").write_text(text)
        run(parse_recipe(text), root / name)
        out[name] = root / name, root / f"{name}.yaml"
    return out


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_dataset_command_completes(datasets, name, tmp_path, capsys):
    ds, _ = datasets[name]
    if name == "air":
        assert json.loads((ds / "manifest.json").read_text())["counts"]["contacts"] == 0
    for command in (["inspect", str(ds)], ["verify", str(ds)],
                    ["preview", str(ds), "--episode", "0", "--out", str(tmp_path / "p.gif")],
                    ["probes", str(ds), "--out", str(tmp_path / "probes.jsonl")],
                    ["merge", str(ds), str(ds), "--out", str(tmp_path / "merged"), "--quiet"],
                    *[["export", str(ds), "-f", fmt, "--out", str(tmp_path / fmt), "--quiet"]
                      for fmt in ("lerobot", "minari", "hf", "webdataset")]):
        assert main(command) == 0, (command, capsys.readouterr().err)


@pytest.mark.parametrize("name", ["one", "same"])
def test_report_without_test_episodes_says_what_it_did_not_compute(datasets, name, tmp_path, capsys):
    ds, _ = datasets[name]
    assert main(["report", str(ds), "--out", str(tmp_path), "--train-seconds", "2", "--epochs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "not computed: in-distribution evaluation (rollout error, learnability, label accuracy, probes): no " \
           "held-out test episodes" in printed
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["training"]["steps"] > 0 and not (tmp_path / "rollout.png").exists()
    assert "Not computed" in (tmp_path / "index.html").read_text()


def test_report_with_every_episode_held_out_keeps_its_checks(datasets, tmp_path, capsys):
    ds, _ = datasets["same"]
    assert main(["report", str(ds), "--out", str(tmp_path), "--holdout", "box.mass=0:10"]) == 0
    assert "not computed: model, its evaluation and probes: 0 in-distribution episodes are too few" \
        in capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["training"] is None and summary["checks"]["duplicates"]["fraction"] > 0


@pytest.mark.parametrize("name", list(RECIPES))
def test_compare_of_degenerate_episodes_writes_its_page(datasets, name, tmp_path, monkeypatch, capsys):
    """Two 'engines' (MuJoCo twice) on one episode, on episodes whose every outcome is constant, without contacts."""
    from factory.compare import runs

    real = runs.run_engine
    monkeypatch.setattr(runs, "run_engine", lambda recipe, engine, episodes, out: dataclasses.replace(
        real(recipe, "mujoco", episodes, out), engine=engine))
    _, recipe = datasets[name]
    assert main(["compare", str(recipe), "--engines", "mujoco,twin", "--out", str(tmp_path)]) == 0, \
        capsys.readouterr().err
    assert (tmp_path / "outcomes.png").exists() and (tmp_path / "index.html").exists()


def test_a_measure_constant_up_to_rounding_gets_one_bin():
    """A resting ball's height differs between episodes by an ulp: numpy cannot make 20 bins of that."""
    values = np.array([0.05, np.nextafter(0.05, 1.0)])
    with pytest.raises(ValueError, match="Too many bins"):
        np.histogram(values, bins=20)
    edges = page._bins([values, values])
    assert len(edges) == 2 and np.histogram(values, bins=edges)[0].tolist() == [2]
    assert len(page._bins([np.array([0.0, 1.0])])) == 21 and page._bins([np.array([])]) is None
