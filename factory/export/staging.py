"""Where an export is written before it is anywhere a loader looks.

A local export is written into a hidden folder beside the destination and renamed onto it at the
end, so a killed export leaves only a hidden `.NAME.export-PID` folder (removed by the next export
to the same place) and never a half-written dataset under NAME. A URL export is written locally
and uploaded with the files a loader opens first (`entry` files: info.json, metadata.json, …) last.

A destination that holds anything but an earlier export (marked by MARKER) is refused: an export
never deletes what it did not write.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from factory.errors import ExportError
from factory.storage.location import LocalDir, Location, RemoteDir

MARKER = ".factory-export.json"

Write = Callable[[Path, Path], list[str]]
"""Writes the export into its first folder (scratch files into the second); returns its entry files."""


def check_destination(dest: Location) -> None:
    """Refuse a destination that holds files an export did not write."""
    names = [n for n in dest.names() if n != MARKER]
    if not names:
        return
    if isinstance(dest, LocalDir) and not dest.root.is_dir():
        raise ExportError(f"{dest}: exists and is not a folder")
    if isinstance(dest, RemoteDir):
        raise ExportError(f"{dest}: not empty ({', '.join(sorted(names)[:5])}…); an export to a URL needs an "
                          "empty destination (it cannot be replaced in one step)")
    if not dest.is_file(MARKER):
        raise ExportError(f"{dest}: not empty ({', '.join(sorted(names)[:5])}…) and not an earlier export; "
                          "choose an empty or new --out")


def write_staged(dest: Location, write: Write, marker: dict[str, Any]) -> None:
    """Run `write` where no loader looks, then put its result at `dest` in one step."""
    check_destination(dest)
    if isinstance(dest, LocalDir):
        _write_local(dest.root, write, marker)
    else:
        with tempfile.TemporaryDirectory(prefix="factory-export-") as folder:
            out, scratch = Path(folder) / "out", Path(folder) / "scratch"
            out.mkdir()
            scratch.mkdir()
            entry = write(out, scratch)
            (out / MARKER).write_text(json.dumps(marker, indent=1))
            files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
            last = [f for f in files if f in entry]
            dest.publish(out, [f for f in files if f not in entry] + last)


def _write_local(dest: Path, write: Write, marker: dict[str, Any]) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(dest)
    out = dest.with_name(f".{dest.name}.export-{os.getpid()}")
    old = dest.with_name(f".{dest.name}.replaced-{os.getpid()}")
    scratch = dest.with_name(f".{dest.name}.scratch-{os.getpid()}")
    try:
        out.mkdir()
        scratch.mkdir()
        write(out, scratch)
        shutil.rmtree(scratch)
        (out / MARKER).write_text(json.dumps(marker, indent=1))
        if dest.exists():  # empty, or an earlier export: moved aside, then dropped
            os.replace(dest, old)
        os.replace(out, dest)
    finally:
        for folder in (out, old, scratch):
            shutil.rmtree(folder, ignore_errors=True)


def _remove_stale(dest: Path) -> None:
    """Hidden folders of exports to `dest` whose process is gone (killed exports)."""
    for prefix in (f".{dest.name}.export-", f".{dest.name}.replaced-", f".{dest.name}.scratch-"):
        for p in dest.parent.glob(f"{prefix}*"):
            pid = p.name.removeprefix(prefix)
            if not (pid.isdigit() and _alive(int(pid))):
                shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
