"""One run per output folder at a time.

An advisory `flock` on OUT/.factory/lock: the kernel drops it when the holder exits, however it
exits, so a run killed with -9 never leaves a stale lock behind for its rerun to trip on.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from factory.errors import StorageError
from factory.resume import LOCK_FILE, STATE_DIR


class OutputLocked(StorageError):
    """Another run is writing to the same output folder."""


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold the output's lock for the duration of the block, or raise `OutputLocked` at once."""
    path = out / STATE_DIR / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise OutputLocked(f"{out} is being written by another run ({holder}); wait for it to "
                               "finish or stop it, then run again to resume") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
