"""Arguments several commands share, defined once."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from factory.registry import FORMATS

if TYPE_CHECKING:
    from factory.recipe.schema import Recipe
    from factory.storage.location import Location

FORMAT_CHOICE: dict[str, Any] = {"choices": list(FORMATS),
                                 "help": "which copy to read (default: the first the dataset holds)"}
"""Keyword arguments of a `--format` option that picks one of a dataset's copies."""


def add_storage_options(p: argparse.ArgumentParser, help: str = "fsspec option for a URL, repeatable (e.g. "
                        "endpoint_url=http://host:9000; VALUE is parsed as JSON when it can be); credentials are "
                        "better left to the usual environment variables (AWS_ACCESS_KEY_ID, …)") -> None:
    p.add_argument("--storage-option", dest="storage_options", action="append", type=storage_option, default=[],
                   metavar="KEY=VALUE", help=help)


def add_preview_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-preview", action="store_true",
                   help="leave the card without its preview (preview.gif: one episode drawn, a few seconds)")


def preview_card(where: Location, args: argparse.Namespace) -> None:
    """Draw the card's preview (`factory.preview.card_preview`) unless --no-preview; say what was done."""
    if not args.no_preview:
        from factory.preview import card_preview

        print(card_preview(where))


def storage_option(text: str) -> tuple[str, object]:
    """One `--storage-option KEY=VALUE`, or argparse's usage error."""
    from factory.storage.location import parse_storage_option

    try:
        return parse_storage_option(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def where(target: str, args: argparse.Namespace) -> Location:
    """The dataset location `target` names, with the command's storage options."""
    from factory.storage.location import location

    return location(target, dict(args.storage_options))


def load(path: Path, **overrides: Any) -> Recipe:
    """The recipe at `path`, with fields overridden."""
    from factory.recipe.loader import load_recipe

    recipe = load_recipe(path)
    return recipe.model_copy(update=overrides) if overrides else recipe


def worker_count(text: str) -> int:
    """`--workers N|auto`: auto is one worker per core this run may use."""
    if text == "auto":
        from factory.generate.write_behind import usable_cores

        return usable_cores()
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a number of worker processes >= 1 or 'auto', got {text!r}")
    return int(text)
