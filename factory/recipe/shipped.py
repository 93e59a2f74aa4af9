"""The shipped recipes, found by name: `factory run push_target` works from any folder.

In a checkout they are the repository's `recipes/` folder; a built wheel carries a copy as
`factory/_recipes/` (setup.py's build step copies it there). A recipe's name is its path under that
folder without `.yaml` (`collision/head_on`), or just the file's stem (`push_target`) when no other
shipped recipe has that stem.
"""

from __future__ import annotations

from pathlib import Path

from factory.errors import RecipeError, did_you_mean

_PACKAGE = Path(__file__).resolve().parents[1]  # factory/


def recipes_dir() -> Path:
    """The folder of the shipped recipes: the wheel's copy, else the checkout's `recipes/`."""
    packaged = _PACKAGE / "_recipes"
    return packaged if packaged.is_dir() else _PACKAGE.parent / "recipes"


def shipped_recipes() -> dict[str, Path]:
    """Every shipped recipe by its shortest unambiguous name, sorted by path."""
    root = recipes_dir()
    paths = sorted(root.rglob("*.yaml")) if root.is_dir() else []
    stems = [p.stem for p in paths]
    return {(p.stem if stems.count(p.stem) == 1 else p.relative_to(root).with_suffix("").as_posix()): p
            for p in paths}


def resolve_recipe(target: str | Path) -> Path:
    """`target` itself when it is a file (or looks like a path), else the shipped recipe of that name."""
    path = Path(target)
    text = str(target)
    if path.exists() or text.endswith((".yaml", ".yml")):
        return path
    shipped = shipped_recipes()
    if text in shipped:
        return shipped[text]
    root = recipes_dir()
    by_path = {p.relative_to(root).with_suffix("").as_posix(): p for p in shipped.values()}
    if text in by_path:
        return by_path[text]
    ambiguous = sorted(n for n in by_path if n.rsplit("/", 1)[-1] == text)
    if ambiguous:
        raise RecipeError(text, [f"several shipped recipes are named {text!r}: " + ", ".join(ambiguous)])
    raise RecipeError(text, [f"no such file, and no shipped recipe of that name{did_you_mean(text, shipped)}; "
                             "`factory recipes` lists them"])
