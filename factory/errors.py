"""The factory's exceptions: one small hierarchy so callers can catch what they can handle."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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


class ExportError(FactoryError):
    """An export that cannot start: unknown format, missing library, or a destination it must not touch."""


class MergeError(FactoryError):
    """Datasets that cannot be merged into one (different layouts), or a merge destination in use."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' (did you mean 'x'?)' suffix when `name` is close to one of `choices`, else ''."""
    choices = list(choices)
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if not close:  # 'velocity' for 'vel': a choice that is a prefix of the name
        close = [c for c in choices if len(c) >= 3 and name.startswith(c)][:1]
    return f" (did you mean '{close[0]}'?)" if close else ""
