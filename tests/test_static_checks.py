"""The static checks the layers and style rest on, run by the test command as by CI.

`lint-imports` holds the import contracts in pyproject.toml (the data flow's layers, engines that
import only the contract, the recipe models and errors), ruff the style, mypy the types.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("command", [
    ["lint-imports"],
    ["ruff", "check", "factory", "engines", "tests", "benchmarks"],
    ["mypy"],
], ids=lambda c: c[0])
def test_static_check_passes(command):
    proc = subprocess.run([str(BIN / command[0]), *command[1:]], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
