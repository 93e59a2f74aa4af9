"""Every user-facing recipe mistake gets a located, specific message; the CLI exits 2 and writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import GOOD_RECIPE

from factory.errors import RecipeError
from factory.recipe.loader import parse_recipe
from factory.storage import FORMATS


def problems(text: str) -> list[str]:
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, "r.yaml")
    return info.value.problems


def test_good_recipe_parses():
    recipe = parse_recipe(GOOD_RECIPE)
    assert recipe.scene.objects[0].mass.type == "uniform"
    assert recipe.engine.type == "genesis"


MISTAKES = [
    # (description, old, new, expected message fragment, expected line)
    ("misspelt top-level key", "steps: 100", "stepz: 100",
     r"line 5: stepz: unknown key \(did you mean 'steps'\?\)", None),
    ("unknown engine", "engine: genesis", "engine: genisis",
     r"line 2: engine.type: 'genisis' is not allowed \(did you mean 'genesis'\?\)", None),
    ("negative seed", "seed: 1", "seed: -1", r"line 3: seed: .*greater than or equal to 0", None),
    ("zero episodes", "episodes: 4", "episodes: 0", r"line 4: episodes: .*greater than or equal to 1", None),
    ("missing field", "dt: 0.01\n", "", r"dt: required field is missing", None),
    ("dt too large", "dt: 0.01", "dt: 0.5", r"line 6: dt: .*less than or equal to 0.1", None),
    ("bad name", "name: demo", "name: My Demo",
     r"line 1: name: .My Demo. must be lowercase letters, digits and ._., starting with a letter", None),
    ("unknown shape", "type: box, size", "type: boxx, size",
     r"line 11: scene.objects.0.shape.type: 'boxx' is not allowed \(did you mean 'box'\?\)", None),
    ("short vector", "size: [0.2, 0.2, 0.2]", "size: [0.2, 0.2]",
     r"line 11: scene.objects.0.shape.size: List should have at least 3 items", None),
    ("incomplete distribution", "high: 2.0}", "hi: 2.0}", r"line 12: scene.objects.0.mass.hi: unknown key", None),
    ("unknown distribution", "type: uniform, low: 0.5", "type: uniformm, low: 0.5",
     r"scene.objects.0.mass.type: 'uniformm' is not allowed \(did you mean 'uniform'\?\)", None),
    ("text for a number", "pos: [0, 0, 0.1]", "pos: [0, zero, 0.1]",
     r"line 13: scene.objects.0.pos.1: expected a number or a distribution", None),
    ("negative mass", "mass: {type: uniform, low: 0.5, high: 2.0}", "mass: {type: uniform, low: -1, high: 2.0}",
     r"line 12: scene.objects.0.mass: must be > 0.0, but can take values in \[-1.0, 2.0\]", None),
    ("inverted range", "low: 0.5, high: 2.0", "low: 3.0, high: 2.0", r"low \(3.0\) must not exceed high \(2.0\)", None),
    ("push on unknown object", "object: box", "object: bx",
     r"line 16: actions.0.object: 'bx' is not an object of the scene \(did you mean 'box'\?\)", None),
    ("push past the end", "at: [10]", "at: [150]",
     r"line 17: actions.0.at: acts at step 150, past the episode's 100 steps", None),
    ("push with force and impulse", "impulse: [1, 0, 0]", "impulse: [1, 0, 0]\n    force: [1, 0, 0]",
     r"line 18: actions.0.impulse: give exactly one of 'force' or 'impulse'", None),
    ("misspelt object key", "pos: [0, 0, 0.1]", "pos: [0, 0, 0.1]\n      velocity: [1, 0, 0]",
     r"line 14: scene.objects.0.velocity: unknown key \(did you mean 'vel'\?\)", None),
    ("bool for an int", "n_envs: 2", "n_envs: true", r"line 7: n_envs: Input should be a valid integer", None),
    ("duplicate object names", "actions:", "    - name: box\n      shape: {type: sphere, radius: 0.1}\n"
     "      pos: [1, 0, 0.1]\nactions:", r"line 9: scene.objects: names must be unique; repeated: box", None),
    ("unknown output format", "actions:", "outputs: {formats: [parquet, csv]}\nactions:",
     r"outputs.formats.1: 'csv' is not allowed; allowed: " + " or ".join(f"'{f}'" for f in FORMATS), None),
    ("misspelt output format", "actions:", "outputs: {formats: [hfd5]}\nactions:",
     r"outputs.formats.0: 'hfd5' is not allowed \(did you mean 'hdf5'\?\)", None),
    ("repeated output format", "actions:", "outputs: {formats: [hdf5, parquet, hdf5]}\nactions:",
     r"line 14: outputs.formats: hdf5 listed more than once; list each format once", None),
    ("restitution above 1", "pos: [0, 0, 0.1]", "pos: [0, 0, 0.1]\n      restitution: 1.2",
     r"line 1[34]: scene.objects.0.restitution: must be >= 0.0 and <= 1.0, but can take 1.2", None),
    ("ground restitution drawn below 0", "scene:\n",
     "scene:\n  ground: {restitution: {type: uniform, low: -0.1, high: 0.5}}\n",
     r"line 9: scene.ground.restitution: must be >= 0.0 and <= 1.0, but can take values in \[-0.1, 0.5\]", None),
    ("striker not movable", "actions:", "labels: {striker: boxx}\nactions:",
     r"labels.striker: 'boxx' is not a movable object of the scene \(did you mean 'box'\?\)", None),
    ("record_every not dividing steps", "actions:", "outputs: {record_every: 7}\nactions:",
     r"outputs.record_every: steps \(100\) must be a multiple of record_every \(7\)", None),
]


@pytest.mark.parametrize("desc,old,new,pattern,_", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_has_its_message(desc, old, new, pattern, _):
    assert old in GOOD_RECIPE, desc
    found = problems(GOOD_RECIPE.replace(old, new, 1))
    assert any(__import__("re").search(pattern, p) for p in found), found


def test_all_problems_reported_at_once():
    text = GOOD_RECIPE.replace("seed: 1", "seed: -1").replace("steps: 100", "stepz: 100").replace(
        "type: box, size", "type: boxx, size")
    found = problems(text)
    assert len(found) == 3
    assert [p.split(":")[0] for p in found] == ["line 3", "line 5", "line 11"]


def test_yaml_syntax_error_names_line():
    found = problems(GOOD_RECIPE.replace("seed: 1", "seed: [1"))
    assert found[0].startswith("line ") and "not valid YAML" in found[0]


def test_not_a_mapping():
    assert "a recipe is a YAML mapping" in problems("- just\n- a list\n")[0]


def test_missing_file_is_a_recipe_error(tmp_path):
    from factory.recipe.loader import load_recipe

    with pytest.raises(RecipeError, match="cannot read the file"):
        load_recipe(tmp_path / "nope.yaml")


def test_cli_bad_recipe_exits_2_and_writes_nothing(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD_RECIPE.replace("steps: 100", "stepz: 100"))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "factory.cli", "run", str(bad), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "bad.yaml: 1 problem in recipe" in proc.stderr
    assert "line 5: stepz: unknown key (did you mean 'steps'?)" in proc.stderr
    assert not out.exists()


def test_engine_refusal_happens_before_any_write(tmp_path: Path):
    """A fixed object with a random mass is refused by Genesis before the output is created."""
    from factory.errors import EngineUnsupported
    from factory.generate.runner import run

    recipe = parse_recipe(GOOD_RECIPE.replace("pos: [0, 0, 0.1]", "pos: [0, 0, 0.1]\n      fixed: true").replace(
        "actions:\n  - type: push\n    object: box\n    at: [10]\n    impulse: [1, 0, 0]\n", ""))
    out = tmp_path / "out"
    with pytest.raises(EngineUnsupported, match="a fixed object has no mass or velocity to randomize"):
        run(recipe, out)
    assert not out.exists()


def test_continuous_restitution_needs_scene_variants():
    """Restitution sets contact parameters baked into a Genesis scene: drawn per scene variant."""
    from engines.genesis import GenesisEngine
    from factory.errors import EngineUnsupported

    drawn = GOOD_RECIPE.replace("pos: [0, 0, 0.1]",
                                "pos: [0, 0, 0.1]\n      restitution: {type: uniform, low: 0.2, high: 0.9}")
    with pytest.raises(EngineUnsupported,
                       match=r"box\.restitution|scene\.objects\.0\.restitution: varies continuously"):
        GenesisEngine(parse_recipe(drawn))
    GenesisEngine(parse_recipe(drawn.replace("n_envs: 2", "n_envs: 2\nscene_variants: 2")))


def test_particle_recipes_need_a_mover():
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "recipes" / "cloth" / "drape.yaml").read_text()
    no_action = text[:text.index("actions:")] + "outputs:" + text.split("outputs:")[1]
    assert any("a cloth recipe needs a 'move' action" in p for p in problems(no_action))
    assert any("scene.cloth: only a kind 'cloth' recipe" in p
               for p in problems(text.replace("kind: cloth", "kind: collision")))


def test_format_and_engine_choices_come_from_their_registries():
    """The JSON Schema offers the storage registry's formats (its default: all, in registry order),
    and the recipe's engine types are exactly the registered engines."""
    import typing

    from engines import ENGINES
    from factory.recipe.schema import Engine, Recipe

    schema = Recipe.model_json_schema()["$defs"]["Outputs"]["properties"]["formats"]
    assert schema["items"]["enum"] == schema["default"] == list(FORMATS)
    union = typing.get_args(typing.get_args(Engine)[0])
    assert sorted(typing.get_args(cls.model_fields["type"].annotation)[0] for cls in union) == sorted(ENGINES)
