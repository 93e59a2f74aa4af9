"""Every shipped recipe at the smallest size that runs, through every command a user can type on it: exit 0 and no
traceback. Rigid and robot recipes run on MuJoCo in the default suite; every recipe on its own engine (Genesis), with
`compare` on Genesis and MuJoCo, is the opt-in `genesis and slow` part."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import RECIPES, shipped

from factory.cli import main
from factory.errors import EngineUnsupported
from factory.export import EXPORTERS
from factory.recipe.schema import Recipe

SHIPPED = sorted(p.relative_to(RECIPES).as_posix() for p in RECIPES.glob("*/*.yaml") if p.parent.name != "unity")
FILMED = ("robot/push_cube_wrist.yaml",)
"""Recipes with cameras: every command also renders, encodes or rereads their frames (a minute and
more on 2 cores), so their sweep is in the slow run; tests/test_camera_outputs.py covers the frames."""
RIGID = [pytest.param(p, marks=pytest.mark.slow) if p in FILMED else p
         for p in SHIPPED if p.split("/")[0] in ("collision", "phyworld", "robot")]


def _smallest(path: str, **engine) -> Recipe:
    """Two episodes (the fewest `merge`, `compare` and a split can use), one scene batch."""
    return shipped(path, episodes=2, n_envs=2, **({"engine": engine} if engine else {}))


def _sweep(recipe: Recipe, tmp_path: Path, capfd, engines: str | None = None) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))
    ds = str(tmp_path / "ds")
    # the run draws the card's preview; card and merge leave it out (the same drawing, seconds each)
    commands = [["validate", str(path)], ["run", str(path), "--out", ds, "--quiet"], ["inspect", ds], ["verify", ds],
                ["card", ds, "--no-preview"],
                ["preview", ds, "--episode", "1"], ["probes", ds, "--out", str(tmp_path / "probes.jsonl")],
                ["report", ds, "--train-seconds", "2", "--epochs", "1"],
                *[["export", ds, "-f", fmt, "--out", str(tmp_path / fmt), "--quiet"] for fmt in EXPORTERS],
                ["merge", ds, ds, "--out", str(tmp_path / "merged"), "--quiet", "--no-preview"]]
    if engines:
        commands.append(["compare", str(path), "--engines", engines, "--out", str(tmp_path / "compare")])
    for command in commands:
        code = main(command)
        err = capfd.readouterr().err
        assert code == 0 and "Traceback" not in err, (command, err, _details(err))


def _details(err: str) -> str:
    """The traceback a failed command's line points to."""
    if "(details: " not in err:
        return ""
    return Path(err.rsplit("(details: ", 1)[1].split(")")[0]).read_text()[-3000:]


@pytest.mark.filterwarnings("error", "ignore::DeprecationWarning")  # a warning would reach the terminal
@pytest.mark.parametrize("path", RIGID)
def test_rigid_recipe_on_mujoco_through_every_command(path, tmp_path, capfd):
    recipe = _smallest(path, type="mujoco")
    if refusal := _refusal("mujoco", recipe):
        pytest.skip(f"MuJoCo refuses {path}: {refusal}")
    _sweep(recipe, tmp_path, capfd)


@pytest.mark.genesis
@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED)
def test_shipped_recipe_on_its_engine_through_every_command(path, tmp_path, capfd):
    """Warnings are left to the ini's filters: Genesis' kernel compiler warns, into a run's engine log."""
    recipe = _smallest(path)
    # compare needs two engines that both take the recipe
    both = recipe.kind == "collision" and not _refusal("mujoco", recipe) and not _refusal("genesis", recipe)
    _sweep(recipe, tmp_path, capfd, engines="genesis,mujoco" if both else None)


def _refusal(engine: str, recipe: Recipe) -> str | None:
    """Why `engine` refuses `recipe` (as `compare` gives it to each engine), or None when it accepts it."""
    from engines import load_engine
    from factory.compare.runs import on_engine

    try:
        load_engine(engine)(on_engine(recipe, engine))
    except EngineUnsupported as exc:
        return str(exc)
    return None
