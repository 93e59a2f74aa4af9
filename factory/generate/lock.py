"""One run per output at a time.

A local folder gets an advisory `flock` on OUT/.factory/lock: the kernel drops it when the holder
exits, however it exits, so a run killed with -9 never leaves a stale lock behind for its rerun
to trip on.

A URL gets a lock object, OUT/.factory/lock, created only if absent (S3: a conditional PUT with
If-None-Match: *, atomic on AWS S3 and compatible stores that honour it) and deleted when the run
ends. Nothing deletes it for a run that was killed (-9, power loss): the next run stops with the
holder's host, pid and start time and the object to delete once that run is known to be gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

from factory.errors import StorageError
from factory.generate.resume import LOCK_FILE
from factory.storage.location import LocalDir, Location, RemoteDir, location


class OutputLocked(StorageError):
    """Another run is writing to the same output."""


def output_lock(out: str | os.PathLike[str] | Location) -> contextlib.AbstractContextManager[None]:
    """Hold the output's lock for the duration of the block, or raise `OutputLocked` at once."""
    out = location(out)
    return _flock(out) if isinstance(out, LocalDir) else _object_lock(out)


def _holder() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}"


@contextlib.contextmanager
def _flock(out: LocalDir) -> Iterator[None]:
    path = out.local_path() / LOCK_FILE
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
        os.pwrite(fd, f"{_holder()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _object_lock(out: RemoteDir) -> Iterator[None]:
    mine = f"{_holder()} since {datetime.now(UTC).isoformat(timespec='seconds')}\n".encode()
    try:
        out.create_exclusive(LOCK_FILE, mine)
    except FileExistsError:
        try:
            holder = out.read_bytes(LOCK_FILE).decode(errors="replace").strip()
        except FileNotFoundError:  # released between our attempt and this read
            holder = "a run that has just finished"
        raise OutputLocked(f"{out} is being written by another run ({holder}); wait for it to finish or stop "
                           f"it, then run again to resume. If that run is gone (killed, machine lost), its lock "
                           f"is stale: delete {out}/{LOCK_FILE} and run again") from None
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            if out.read_bytes(LOCK_FILE) == mine:  # never delete a lock someone else took after a manual clear
                out.remove(LOCK_FILE)
