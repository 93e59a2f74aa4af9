"""Ctrl-C (and SIGTERM, handled the same way) that lets the run's own process finish what it is writing.

A KeyboardInterrupt raised inside h5py's type conversion comes out as a `TypeError` ("Operation not
defined for data type class"), so a Ctrl-C during an HDF5 write in the main thread would end a run
with exit 1 and a traceback; and a shard whose formats are being written side by side (the last one
of `run_write_behind`) would be dropped while the write-behind thread goes on writing its Parquet
files, after the run let go of its output. A shard's writes are short; holding the interrupt until
one is done and in the run's books costs no more than that.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, a batch scheduler's stop), raised as Ctrl-C is so that a run stops the same way: what
    it is writing finished and receipted, its lock released, one line; Python's default ended it mid-write."""


def _terminate(_signum: int, _frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """For the block, SIGTERM raises `Terminated` in the main thread (elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) or a `sigterm_as_interrupt` SIGTERM that arrives in the block, then raise it as
    it ends. Changes nothing outside the main thread or for a signal whose handler is not those."""
    handlers = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: _terminate}
    held = [s for s, handler in handlers.items() if signal.getsignal(s) is handler]
    if threading.current_thread() is not threading.main_thread() or not held:
        yield
        return
    caught: list[int] = []
    for s in held:
        signal.signal(s, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        for s in held:
            signal.signal(s, handlers[s])
    if caught:
        raise Terminated if caught[0] == signal.SIGTERM else KeyboardInterrupt
