"""A failed command ends in one plain line (what happened, where, what to do) and a log with the details.

Engines install their own reporting (Genesis replaces `sys.excepthook` and logs through a handler on the
stream a run diverted), and a traceback through the runner tells a user little; so `main` catches
whatever a command raises and says it once itself. The traceback goes to a log file the line names:
`OUT/.factory/factory.log` beside a run's engine log, else a file in the system's temporary folder
(where a full disk leaves it too); `--verbose` prints it instead. A handler names where its details go by
setting `args.log_dir`, and a run its engine output's `Terminal` as `args.engine_output`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from concurrent.futures import BrokenExecutor
from pathlib import Path

from factory.errors import NO_SPACE, TOO_MANY_FILES, FactoryError, OutOfSpace, exhausted, failed_file

LOG_NAME = "factory.log"
"""The log of a run's failures, in the run's state folder beside `engine.log`."""

_ROOT = Path(__file__).resolve().parents[2]  # the checkout: frames under it are the factory's own code


def report_failure(exc: Exception, args: argparse.Namespace) -> int:
    """Print the one line for `exc` (after its traceback with `--verbose`, else with the log it went to); return 1."""
    line = describe(exc, resumable=args.command == "run")
    if getattr(args, "verbose", False):
        traceback.print_exception(exc, file=sys.stderr)
    elif log := write_log(exc, args):
        line += f" (details: {log})"
    print(f"error: {line}", file=sys.stderr, flush=True)
    return 1


def describe(exc: BaseException, resumable: bool = False) -> str:
    """What happened, where and what to do, on one line; a resource the machine ran out of is named as such."""
    again = "run the same command to resume" if resumable else "run the same command again"
    cause = exhausted(exc)
    if isinstance(exc, OutOfSpace) or (isinstance(exc, FactoryError) and cause is None):
        return _one_line(str(exc))
    if isinstance(cause, MemoryError):
        return (f"out of memory in {where(cause)}; close other programs or make the work smaller (fewer n_envs, "
                f"a smaller shard_size or fewer --workers), then {again}")
    if isinstance(cause, OSError) and cause.errno in NO_SPACE:
        return f"no space left on device writing {failed_file(cause) or where(cause)}; free space and {again}"
    if isinstance(cause, OSError) and cause.errno in TOO_MANY_FILES:
        return (f"too many open files (limit {_open_files_limit()}, see `ulimit -n`) in {where(cause)}; raise the "
                f"limit (`ulimit -n 65536`) or use fewer --workers, then {again}")
    if isinstance(exc, BrokenExecutor) or type(exc).__name__ == "KilledWorker":  # dask's, by name: not imported here
        return (f"a worker process died abruptly ({type(exc).__name__}; the system kills one that runs out of memory, "
                f"see `dmesg`); use fewer --workers if memory is short, then {again}")
    if isinstance(exc, FileNotFoundError):
        name = failed_file(exc) or (str(exc.args[0]) if len(exc.args) == 1 else where(exc))  # Arrow: the path alone
        return (f"missing file {name}; if it belongs to a dataset, `factory verify DATASET` lists what else is "
                "missing, and the `factory run` command that wrote it redoes those shards")
    if isinstance(exc, OSError):
        name = f" ({exc.filename})" if exc.filename else ""
        what = exc.strerror or _one_line(str(exc)) or type(exc).__name__  # a bare TimeoutError says nothing
        return f"{what}{name} in {where(exc)}; check the path, then {again}"
    todo = ("finished shards are kept: run the same command to resume, and report the log if it fails again"
            if resumable else "this is a bug in the factory: please report it with the log")
    return f"unexpected {type(exc).__name__} in {where(exc)}: {_one_line(str(exc))[:300].rstrip('.')}; {todo}"


def where(exc: BaseException) -> str:
    """The innermost frame of the factory's own code that `exc` passed through, as `path:line (function)`."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if Path(f.filename).resolve().is_relative_to(_ROOT) and Path(f.filename).is_file()
            ] or frames
    if not ours:
        return "the factory"
    frame = ours[-1]
    path = Path(frame.filename).resolve()
    shown = path.relative_to(_ROOT) if path.is_relative_to(_ROOT) else path
    return f"{shown}:{frame.lineno} ({frame.name})"


def write_log(exc: BaseException, args: argparse.Namespace) -> Path | None:
    """Append the traceback to the command's log (a run's state folder, else the temporary folder); return it."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    text = f"{stamp} factory {' '.join(sys.argv[1:])}\n{''.join(traceback.format_exception(exc))}\n"
    if engine_log := getattr(getattr(args, "engine_output", None), "log", None):  # a run's, kept out of OUT
        text += f"engine output of this run: {engine_log}\n\n"
    folder = getattr(args, "log_dir", None)
    candidates = [folder / LOG_NAME] if folder is not None and folder.is_dir() else []
    candidates.append(Path(tempfile.gettempdir()) / f"factory-{args.command}-{time.strftime('%Y%m%d-%H%M%S')}.log")
    for path in candidates:
        existed = path.exists()
        try:
            with open(path, "a") as f:
                f.write(text)
            return path
        except OSError:  # a full disk: try the next place, and leave no empty file behind
            if not existed:
                path.unlink(missing_ok=True)
    return None


def _one_line(message: str) -> str:
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


def _open_files_limit() -> str:
    try:
        import resource

        return str(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    except (ImportError, OSError):
        return "unknown"
