"""Bad input found by trying it as a user: each refused clearly, with exit 2 (or 1) and nothing written
or deleted that the factory did not write."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import GOOD_RECIPE

from factory.errors import RecipeError, StorageError
from factory.generate.resume import check_output, remove_run
from factory.recipe.loader import load_recipe, parse_recipe
from factory.storage.location import location

ROOT = Path(__file__).resolve().parent.parent


def factory(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "factory.cli", *args], capture_output=True, text=True, cwd=ROOT)


def problems(text: str) -> list[str]:
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, "r.yaml")
    return info.value.problems


def test_a_key_given_twice_names_both_lines():
    text = GOOD_RECIPE.replace("dt: 0.01\n", "dt: 0.01\nsteps: 20\n")
    assert problems(text) == ["line 7: steps: given twice (first on line 5); keep one"]


def test_a_nested_key_given_twice_is_refused_beside_other_problems():
    text = GOOD_RECIPE.replace("pos: [0, 0, 0.1]", "pos: [0, 0, 0.1]\n      mass: 3").replace("seed: 1", "seed: -1")
    found = problems(text)
    assert "line 14: scene.objects.0.mass: given twice (first on line 12); keep one" in found
    assert any(p.startswith("line 3: seed:") for p in found)


@pytest.mark.parametrize("raw, message", [
    (GOOD_RECIPE.encode("utf-16"), "line 1: the file is UTF-16 text; save it as UTF-8"),
    (b"name: demo\nseed: 1\n\x89PNG\x00\xff", r"line 3: not UTF-8 text \(byte 0x89 at offset 19\)"),
])
def test_a_recipe_that_is_not_utf8_text_is_a_located_error(tmp_path, raw, message):
    path = tmp_path / "r.yaml"
    path.write_bytes(raw)
    with pytest.raises(RecipeError, match=message):
        load_recipe(path)


def test_a_utf8_byte_order_mark_is_fine(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_bytes(GOOD_RECIPE.encode("utf-8-sig"))
    assert load_recipe(path).name == "demo"


def test_binary_recipe_exits_2_without_a_traceback(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_bytes(bytes(range(256)))
    proc = factory("run", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "not UTF-8 text" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_an_episode_count_past_the_limit_is_refused_at_validation():
    found = problems(GOOD_RECIPE.replace("episodes: 4", "episodes: 100000000000000"))
    assert any(p.startswith("line 4: episodes:") and "less than or equal to 100000000" in p for p in found)


def test_too_many_shards_is_refused_with_the_field():
    text = GOOD_RECIPE.replace("episodes: 4", "episodes: 50000000") + "outputs: {shard_size: 1}\n"
    assert any("outputs.shard_size: 50,000,000 episodes in shards of 1 make more than 100,000 shards" in p
               for p in problems(text))


def test_an_episodes_override_past_the_limit_exits_2_before_any_memory_or_write(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(GOOD_RECIPE)
    proc = factory("run", str(path), "--out", str(tmp_path / "out"), "--episodes", "100000000000000", "--quiet")
    assert proc.returncode == 2, proc.stderr
    assert "episodes: 100,000,000,000,000 is outside 1..100,000,000" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_shards_that_would_not_fit_in_memory_are_refused(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(GOOD_RECIPE.replace("steps: 100", "steps: 10000000") + "outputs: {shard_size: 100000}\n")
    proc = factory("validate", str(path))
    assert proc.returncode == 2, proc.stderr
    assert "GiB in memory" in proc.stderr and "lower shard_size" in proc.stderr


def _tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def _foreign_folder(tmp_path: Path) -> Path:
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    out = tmp_path / "out"
    (out / "sub" / "deeper").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    (out / "sub" / "deeper" / "data.csv").write_text("1,2")
    (out / "link").symlink_to(outside)
    return out


def test_overwrite_refuses_a_folder_that_is_not_a_dataset(tmp_path):
    out = _foreign_folder(tmp_path)
    before = _tree(out)
    with pytest.raises(StorageError, match=r"--overwrite replaces only a dataset this factory wrote, and .* has no "
                                           r"manifest.json or .factory/run.json; it holds link, notes.txt, sub"):
        check_output(location(out), overwrite=True)
    assert _tree(out) == before and (tmp_path / "outside.txt").read_text() == "precious"


def test_overwrite_refuses_a_dataset_holding_foreign_files_and_names_them(tmp_path):
    out = _foreign_folder(tmp_path)
    (out / "manifest.json").write_text("{}")
    (out / "parquet" / "episodes").mkdir(parents=True)
    (out / "parquet" / "episodes" / "shard-00000.parquet").write_text("x")
    before = _tree(out)
    with pytest.raises(StorageError, match=r"removes only this factory's files, and .* also holds "
                                           r"link \(a link\), notes.txt, sub/deeper/data.csv"):
        check_output(location(out), overwrite=True)
    assert _tree(out) == before and (tmp_path / "outside.txt").read_text() == "precious"


def test_a_non_dataset_folder_error_does_not_suggest_overwrite(tmp_path):
    out = _foreign_folder(tmp_path)
    with pytest.raises(StorageError,
                       match=r"holds other files .* and no dataset of this factory; choose another --out") as info:
        check_output(location(out), overwrite=False)
    assert "--overwrite" not in str(info.value)


def test_cli_overwrite_on_a_foreign_folder_exits_1_and_deletes_nothing(tmp_path):
    out = _foreign_folder(tmp_path)
    before = _tree(out)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(GOOD_RECIPE)
    proc = factory("run", str(recipe), "--out", str(out), "--overwrite", "--quiet")
    assert proc.returncode == 1
    assert "--overwrite replaces only a dataset this factory wrote" in proc.stderr
    assert _tree(out) == before


def test_remove_run_removes_only_the_factory_files_and_keeps_the_held_lock(tmp_path):
    for rel in (".factory/lock", ".factory/run.json", ".factory/shards/shard-00000.json", "hdf5/shard-00000.h5",
                "parquet/transitions/shard-00000.parquet", "parquet/transitions/.shard-00001.parquet.tmp-7",
                "previews/episode_3.gif", "manifest.json"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    remove_run(location(tmp_path))
    assert _tree(tmp_path) == [".factory", ".factory/lock"]
