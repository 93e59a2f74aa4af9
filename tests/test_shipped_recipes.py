"""Shipped recipes by name (`factory run push_target` from any folder), `factory recipes`, `--version`."""

from __future__ import annotations

import pytest

from factory.cli import main
from factory.errors import RecipeError
from factory.recipe.loader import load_recipe
from factory.recipe.shipped import recipes_dir, resolve_recipe, shipped_recipes
from factory.version import __version__


def test_every_shipped_recipe_has_a_name_that_resolves_to_it():
    shipped = shipped_recipes()
    assert {"push_target", "billiards", "dam_break", "drape", "collision/head_on", "unity/head_on"} <= set(shipped)
    assert sorted(shipped.values()) == sorted(recipes_dir().rglob("*.yaml"))
    for name, path in shipped.items():
        assert resolve_recipe(name) == path


def test_a_name_loads_the_same_recipe_from_any_folder(tmp_path, monkeypatch):
    by_path = load_recipe(recipes_dir() / "collision" / "push_target.yaml")
    monkeypatch.chdir(tmp_path)
    assert load_recipe("push_target") == by_path
    assert load_recipe("collision/push_target") == by_path


def test_a_path_is_taken_as_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "push_target").write_text((recipes_dir() / "collision" / "sliding_box.yaml").read_text())
    assert load_recipe("push_target").name == "sliding_box"  # a file of that name wins over the shipped recipe
    with pytest.raises(RecipeError, match="cannot read the file"):
        load_recipe("missing.yaml")


def test_an_ambiguous_or_unknown_name_is_a_recipe_error():
    with pytest.raises(RecipeError, match="collision/head_on, unity/head_on"):
        load_recipe("head_on")
    with pytest.raises(RecipeError, match="did you mean 'push_target'"):
        load_recipe("push_targt")


def test_factory_recipes_lists_name_kind_engine_episodes(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:5] == ["NAME", "KIND", "ENGINE", "EPISODES", "STEPS"]
    rows = {line.split()[0]: line.split()[1:4] for line in out[1:]}
    assert rows["push_target"] == ["collision", "genesis", "128"]
    assert rows["dam_break"][:2] == ["fluid", "genesis"]
    assert rows["unity/head_on"][:2] == ["collision", "unity"]
    assert len(rows) == len(shipped_recipes())


def test_validate_takes_a_name(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "collision/sliding_box"]) == 0
    assert "sliding_box: ok" in capsys.readouterr().out
    assert main(["validate", "no_such_recipe"]) == 2
    assert "`factory recipes` lists them" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"factory {__version__}"
