"""Ctrl-C that lets the run's own process finish what it is writing.

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


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) that arrives in the block, then raise KeyboardInterrupt as it ends.
    Changes nothing outside the main thread or where SIGINT is not Python's default handler."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    caught: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if caught:
        raise KeyboardInterrupt
