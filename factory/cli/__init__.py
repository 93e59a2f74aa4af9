"""The `factory` command line: one parser, each command registered by the module named in `COMMANDS`.

A command module exposes `register(sub)`, which adds its subparsers and sets `func`; the libraries a
command needs load only when its handler runs, so `factory --help` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import signal
import sys

from factory.cli.failure import report_failure
from factory.errors import (
    EngineUnsupported,
    ExportError,
    MergeError,
    RecipeError,
)
from factory.generate.interrupt import Terminated, sigterm_as_interrupt
from factory.registry import FORMATS
from factory.version import __version__

COMMANDS = ("recipe", "recipes", "dataset", "model", "guide", "export", "compare")
"""Modules of `factory.cli`, in the order their commands appear in `factory --help`."""

EPILOG = """\
typical session:
  factory validate recipes/collision/push_target.yaml      check a recipe, write nothing
  factory run recipes/collision/push_target.yaml           simulate → outputs/push_target/
  factory inspect outputs/push_target                      counts, schema, label summary
  factory run RECIPE --out s3://bucket/ds                  write to object storage (any fsspec URL)
  factory preview outputs/push_target --episode 3          animated GIF of one episode
  factory run recipes/fluid/dam_break.yaml                 fluid (SPH) and cloth (PBD) work the same way
  factory schema > recipe.schema.json                      JSON Schema for editor autocompletion
  factory export outputs/push_target -f lerobot --out DIR  also minari, hf (HF datasets), webdataset
  factory merge outputs/a outputs/b --out outputs/ab       one dataset from several of the same layout
  factory compare RECIPE --engines genesis,mujoco --out DIR the same episodes on two engines, side by side

a dataset holds one folder per format ({formats}) and manifest.json; open it with
factory.open_dataset(path), pandas, DuckDB, Polars, h5py or dask.
exit codes: 0 ok, 1 run or storage error, 2 bad recipe (or one its engine refuses) or arguments,
an export or merge destination in use, datasets of different layouts.
"""


def main(argv: list[str] | None = None) -> int:
    """Run one command; any failure ends in one line on stderr and exit 1 (see `factory.cli.failure`)."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.raiseExceptions = False  # a handler an engine left on a closed stream (Genesis' on a run's log) stays quiet
    try:
        with sigterm_as_interrupt():
            return args.func(args)
    except (RecipeError, EngineUnsupported, ExportError, MergeError) as exc:  # bad input: the recipe, what its engine
        # cannot do, an export or merge destination it must not touch, datasets of different layouts
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM: `Terminated`
        what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        print(f"{what}: finished shards are kept; run the same command again to resume", file=sys.stderr)
        return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
    except Exception as exc:  # the factory says it once, plainly, whatever the engine installed to report it
        return report_failure(exc, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="factory", description="Synthetic physics data factory: turn YAML recipes into labeled "
        f"state-action-result datasets ({' + '.join(FORMATS)}) from physics engines.",
        epilog=EPILOG.format(formats=", ".join(f"{f}/" for f in FORMATS)),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command", required=True)

    for name in COMMANDS:
        importlib.import_module(f"factory.cli.{name}").register(sub)
    for command in sub.choices.values():
        with contextlib.suppress(argparse.ArgumentError):  # a command with its own --verbose (run) keeps it
            command.add_argument("--verbose", action="store_true", help="print a failure's traceback")
    return parser

