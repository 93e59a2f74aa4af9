"""The replay policy: a file of actions retraces the episodes that made them, and a file that does not fit
the robot or the recipe is refused at load with its field and line."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from robot_scenes import PUSH, RECIPE, run

from factory.cli import main
from factory.errors import RecipeError
from factory.recipe.loader import parse_recipe
from factory.recipe.robots import robot_file_table

ROOT = Path(__file__).resolve().parent.parent
PUSHES = RECIPE.replace("steps: 1000", "steps: 400")


def replay_recipe(path: Path) -> str:
    return PUSHES.replace(PUSH, f"policy: {{type: replay, file: {path}}}")


def write_actions(path: Path, names: list[str], actions: dict[int, np.ndarray], **extra) -> Path:
    rows = [(e, k, a) for e, rows in actions.items() for k, a in enumerate(rows)]
    table = {"episode": [e for e, _, _ in rows], "step": [k for _, k, _ in rows]}
    table |= {n: [float(a[i]) for _, _, a in rows] for i, n in enumerate(names)} | extra
    pq.write_table(pa.table(table), path)
    return path


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Two pushes and their actions in a replay file, the rows of episode 1 shuffled (the step column orders them)."""
    layout, records = run(PUSHES, [0, 1])
    actions = {i: r.rollout.actions for i, r in enumerate(records)}
    path = tmp_path_factory.mktemp("replay") / "actions.parquet"
    names = layout.action_names
    table = pq.read_table(write_actions(path, names, actions)).to_pandas()
    pq.write_table(pa.Table.from_pandas(table.sample(frac=1.0, random_state=0), preserve_index=False), path)
    return layout, records, path


def test_a_replay_retraces_the_episodes_whose_actions_it_reads(recorded):
    layout, records, path = recorded
    replay_layout, replays = run(replay_recipe(path), [0, 1, 2])
    assert replay_layout.action_names == layout.action_names
    assert [r.params["arm.policy.episode"] for r in replays] == [0.0, 1.0, 0.0]  # episode k: the file's k mod 2
    for original, again in zip(records, replays[:2], strict=True):
        assert np.array_equal(again.rollout.actions, original.rollout.actions)
        # stored actions are float32 where the push applied float64 targets: measured 4e-5 at most (a velocity)
        assert np.abs(again.rollout.states - original.rollout.states).max() < 1e-4
        cube = [layout.field(r.rollout.states, "cube", "pos")[-1] for r in (original, again)]
        assert np.abs(cube[0] - cube[1]).max() < 1e-6 and original.episode_labels["displacement__cube"] > 0.05


def test_the_manifest_lists_the_replay_file_with_its_sha256(recorded):
    path = recorded[2]
    files = robot_file_table(parse_recipe(replay_recipe(path)).robots)["arm"]
    assert files[1] == {"role": "replay", "file": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def test_a_replay_file_that_does_not_fit_is_refused_with_its_field_and_line(recorded, tmp_path):
    layout, records, _ = recorded
    names, actions = layout.action_names, {0: records[0].rollout.actions}
    cases = {
        "cannot read .*missing.parquet: No such file": tmp_path / "missing.parquet",
        r"no column 'arm.gripper'; it needs 'episode' and one column per action: arm.joint1.target": write_actions(
            tmp_path / "no_gripper.parquet", names[:-1], actions),
        "columns arm.joint1.delta are not actions of this robot": write_actions(
            tmp_path / "delta.parquet", names, actions, **{"arm.joint1.delta": [0.0] * 40}),
        r"episode 0 has 20 rows; an episode of this recipe records 40 transitions": write_actions(
            tmp_path / "short.parquet", names, {0: actions[0][:20]}),
    }
    for message, path in cases.items():
        with pytest.raises(RecipeError, match=f"line 28: robots.0.policy.file: .*{message}"):
            parse_recipe(replay_recipe(path))


def test_a_missing_replay_file_exits_2_and_writes_nothing(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(replay_recipe(tmp_path / "missing.parquet"))
    proc = subprocess.run([sys.executable, "-m", "factory.cli", "run", str(recipe), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "robots.0.policy.file: cannot read" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_replaying_a_stored_dataset_without_its_replay_file_is_one_plain_line(recorded, tmp_path, capsys):
    actions = tmp_path / "actions.parquet"
    actions.write_bytes(recorded[2].read_bytes())
    recipe = tmp_path / "r.yaml"
    recipe.write_text(replay_recipe(actions).replace("episodes: 4", "episodes: 2"))
    assert main(["run", str(recipe), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    actions.unlink()
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "out"), "--replay", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot read {actions}: No such file") and len(err.strip().splitlines()) == 1
