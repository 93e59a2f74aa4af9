"""The docs' code examples run, so they stay true.

Every ```python block in docs/ and README.md that follows a `<!-- test -->` line runs here, in a
folder whose `outputs/push_target` is a small dataset of the shipped push_target recipe made on MuJoCo
(a few seconds; no Genesis). Blocks run in page order; each page shares one namespace, so a later
block may use what an earlier one defined. A marked ```yaml block is a recipe and must validate.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from factory.recipe.loader import load_recipe, parse_recipe
from factory.recipe.schema import Recipe

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MARK = re.compile(r"^<!-- test -->\s*\n```(python|yaml)\n(.*?)^```", re.MULTILINE | re.DOTALL)
OPTIONAL = {"duckdb", "polars", "dask", "pandas", "torch", "matplotlib"}  # dev or extra tools a block may use


def marked_blocks() -> list[tuple[str, list[tuple[str, str]]]]:
    pages = []
    for page in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        blocks = MARK.findall(page.read_text(encoding="utf-8"))
        if blocks:
            pages.append((page.relative_to(ROOT).as_posix(), blocks))
    return pages


PAGES = marked_blocks()


@pytest.fixture(scope="module")
def docs_folder(tmp_path_factory) -> Path:
    """A folder holding outputs/push_target: 24 episodes (one shard, both formats) on MuJoCo."""
    pytest.importorskip("mujoco")
    from factory.generate.runner import run

    recipe = load_recipe("push_target")
    engine = {"type": "mujoco", "threads": 1}
    recipe = Recipe.model_validate(recipe.model_dump() | {"engine": engine, "episodes": 24})
    folder = tmp_path_factory.mktemp("docs")
    run(recipe, folder / "outputs" / "push_target")
    return folder


def test_docs_have_runnable_examples():
    assert {page for page, _ in PAGES} >= {"README.md", "docs/getting-started.md", "docs/data-format.md"}


@pytest.mark.parametrize(("page", "blocks"), PAGES, ids=[page for page, _ in PAGES])
def test_examples_run(page, blocks, docs_folder, monkeypatch):
    monkeypatch.chdir(docs_folder)
    namespace: dict = {"__name__": f"docs.{page}"}
    for i, (language, code) in enumerate(blocks):
        if language == "yaml":
            parse_recipe(code, f"{page} (block {i + 1})")
            continue
        try:
            exec(compile(code, f"{page} (block {i + 1})", "exec"), namespace)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] in OPTIONAL:
                pytest.skip(f"{page} block {i + 1} needs {exc.name}")
            raise


def test_recipe_reference_covers_every_model():
    """The reference page the docs hook generates has a section for the recipe and every model it uses."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("recipe_reference", DOCS / "hooks" / "recipe_reference.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    schema = Recipe.model_json_schema()
    page = hook.render(schema)
    headings = set(re.findall(r"^## (\w+)$", page, re.MULTILINE))
    assert headings == {"Recipe", *schema["$defs"]}
    assert "| `mass` | number or distribution or null | `1.0` |" in page  # null: a mesh weighed by density
