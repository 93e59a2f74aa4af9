"""The `factory` command as a user runs it: real subprocesses, real files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def factory(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "factory.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_help_teaches_the_workflow():
    out = factory("--help").stdout
    for word in ("run", "validate", "inspect", "schema", "typical session", "exit codes"):
        assert word in out


@pytest.mark.parametrize("recipe", sorted((ROOT / "recipes").glob("*/*.yaml")),
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_shipped_recipes_validate(recipe):
    proc = factory("validate", str(recipe))
    assert proc.returncode == 0, proc.stderr
    assert ": ok — " in proc.stdout


def test_schema_is_json_schema_with_the_recipe_fields(tmp_path):
    proc = factory("schema", "--out", str(tmp_path / "s.json"))
    assert proc.returncode == 0
    schema = json.loads((tmp_path / "s.json").read_text())
    assert {"name", "engine", "scene", "actions", "outputs"} <= set(schema["properties"])
    assert "Uniform" in schema["$defs"] and "RandomPush" in schema["$defs"]


@pytest.mark.genesis
def test_run_then_inspect(tmp_path):
    out = tmp_path / "ds"
    recipe = ROOT / "recipes" / "collision" / "sliding_box.yaml"
    proc = factory("run", str(recipe), "--episodes", "4", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "wrote 4 episodes, 400 transitions" in proc.stdout
    assert "ep/s" in proc.stderr  # the progress bar
    assert "building the genesis scene (a machine's first Genesis run compiles kernels" in proc.stderr
    assert re.search(r"scene built in \d+ s, [\d,]+ env-steps/s", proc.stderr)
    assert "[Genesis]" not in proc.stderr and "[W " not in proc.stderr  # engine output is in the log
    assert (out / ".factory" / "engine.log").is_file() and "engine output in" in proc.stdout
    assert (out / "manifest.json").is_file()
    summary = json.loads(factory("inspect", str(out), "--json").stdout)
    assert summary["counts"]["episodes"] == 4 and summary["counts"]["transitions"] == 400
    assert summary["engine"]["name"] == "genesis"
    assert summary["episode_labels"]["came_to_rest"]["true"] == 1.0
    text = factory("inspect", str(out), "--format", "hdf5").stdout
    assert "reading hdf5" in text and "param__box__mass" in text


def test_inspect_of_a_non_dataset_fails_clearly(tmp_path):
    proc = factory("inspect", str(tmp_path))
    assert proc.returncode == 1
    assert "no manifest.json; not a complete dataset" in proc.stderr
