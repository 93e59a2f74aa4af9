"""The factory's exceptions: one small hierarchy so callers can catch what they can handle."""

from __future__ import annotations

import difflib
import errno
import re
from collections.abc import Iterable

NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
"""errno values of a full disk (or a full quota)."""
TOO_MANY_FILES = frozenset({errno.EMFILE, errno.ENFILE})
"""errno values of a process (or system) out of file descriptors."""


class FactoryError(Exception):
    """Base of every error the factory raises on purpose."""


class RecipeError(FactoryError):
    """A recipe that cannot be loaded or does not validate; lists every problem at once."""

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = problems
        bullets = "\n".join(f"  - {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{path}: {len(problems)} {noun} in recipe:\n{bullets}")


class UnknownEngine(FactoryError):
    """An engine name that is not registered."""


class EngineNotInstalled(FactoryError):
    """A registered engine whose optional dependency is missing."""


class EngineUnsupported(FactoryError):
    """A recipe asks for something the chosen engine cannot represent."""


class MeshError(FactoryError):
    """A mesh file that cannot be found, read or made into a body; the recipe loader adds its line."""


class SimulationError(FactoryError):
    """The engine failed while simulating a batch."""


class StorageError(FactoryError):
    """A dataset on disk that is missing, incomplete or inconsistent."""


class OutOfSpace(StorageError):
    """A run stopped by a full disk; its message says which file, how much more it needs and how to resume."""


class ExportError(FactoryError):
    """An export that cannot start: unknown format, missing library, or a destination it must not touch."""


class MergeError(FactoryError):
    """Datasets that cannot be merged into one (different layouts), or a merge destination in use."""


def exhausted(exc: BaseException) -> BaseException | None:
    """The failure behind `exc` that means the machine ran out of disk space, file descriptors or memory.

    Follows causes and contexts: a writer thread's ENOSPC reaches the caller through a future, h5py's
    through the error of closing the file, a worker's through the executor."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, MemoryError) or (
                isinstance(current, OSError) and current.errno in NO_SPACE | TOO_MANY_FILES):
            return current
        current = current.__cause__ or current.__context__
    return None


def failed_file(exc: OSError) -> str | None:
    """The file an OSError was about, by its final name (a writer's hidden `.NAME.tmp-ID` is NAME's draft).

    h5py and Arrow keep the name only in their messages (`filename = '...'`, `local file '...'`)."""
    name = exc.filename
    if name is None and (found := re.search(r"(?:filename = |local file )'([^']+)'", str(exc))):
        name = found.group(1)
    if name is None:
        return None
    return re.sub(r"(^|/)\.([^/]+)\.tmp-[^/]+$", r"\1\2", str(name))


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' (did you mean 'x'?)' suffix when `name` is close to one of `choices`, else ''."""
    choices = list(choices)
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if not close:  # 'velocity' for 'vel': a choice that is a prefix of the name
        close = [c for c in choices if len(c) >= 3 and name.startswith(c)][:1]
    return f" (did you mean '{close[0]}'?)" if close else ""
