"""The helper process of a plain `factory run`: it does what is not stepping while the engine steps.

While shard k simulates, the helper samples shard k+1's episodes and labels, screens and writes
shard k-1 (`factory.generate.runner.run_write_behind`, the CLI's executor). Genesis on CPU steps on
one core and holds the GIL while it launches kernels, so a thread would take turns with the
stepping instead of running beside it; a process runs on the other core. It is started with
`spawn` (forking a process that runs Genesis' threads is unsafe) and warmed up at once, so its
start overlaps the first shard. `mujoco.rollout` lets go of the GIL while it steps, and so do
Arrow's Parquet writer and h5py's compressed writes (a Python thread keeps most of its pace beside
each), so where MuJoCo's threads fill the cores the helper is a thread of this process instead.

It ignores Ctrl-C (the run waits for the shards in flight and receipts them before stopping) and,
on Linux, is killed with its parent, so a `kill -9`-ed run leaves no writer behind that could race
the resume's clean-up. The helper's calls run in this process, one after the other, where it may
not have children (a dask worker is daemonic) and for outputs under a URL: a `memory://` folder
exists in one process only, and fsspec keeps what this process listed (sizes, S3 etags), which
another process's upload would leave stale; uploading, not encoding, is what such a run waits on.

Scripts that pass `executor=run_write_behind` to `factory.run` need the usual
`if __name__ == "__main__":` guard, as for any multiprocessing code: the helper imports the main
module. `factory.run`'s default executor stays in one process.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from factory.storage.location import LocalDir, Location

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
THREAD_NAME = "factory-writer"
"""The write-behind thread's name where the system shows threads (`top -H`, /proc/PID/task/*/comm on Linux)."""


def write_behind(out: Location, engine_threads: int = 1) -> Helper | Threaded | Inline:
    """The helper for a run into `out`: one spawned process; a thread of this process where the
    engine's `engine_threads` keep every core busy (a process there would only take turns with them,
    and pay for its start and for pickling every shard; `mujoco.rollout` lets go of the GIL, and so
    do Arrow's writer and the compressors, so a thread fills what the engine leaves idle);
    this process itself on one core (see above)."""
    if multiprocessing.current_process().daemon or not isinstance(out, LocalDir) or usable_cores() == 1:
        return Inline()
    if usable_cores() <= engine_threads:
        return Threaded()
    return Helper(os.getpid())


class Helper(ProcessPoolExecutor):
    """The spawned helper process, started and importing at once, so its start overlaps the first shard."""

    def __init__(self, parent: int):
        super().__init__(1, mp_context=multiprocessing.get_context("spawn"), initializer=_start_writer,
                         initargs=(parent,))
        self._started = self.submit(_ready)

    def ready(self) -> bool:
        """Whether it has started: until then the run does the helper's work itself rather than wait
        (spawning and importing can take longer than a MuJoCo run's first shards)."""
        return self._started.done()


class Threaded(ThreadPoolExecutor):
    """One thread beside the engine's, named `THREAD_NAME` for the system too, so one can see which
    thread of a busy run writes."""

    def __init__(self) -> None:
        super().__init__(1, thread_name_prefix="factory-write-behind", initializer=_name_thread)

    def ready(self) -> bool:
        return True


class Inline(Executor):
    """Runs each call at once, in this process."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def ready(self) -> bool:
        return True


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, which `taskset` and containers narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _start_writer(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)
    import factory.generate.shard  # noqa: F401 - what every write needs: pyarrow, h5py, the storage modules


def _name_thread() -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_NAME, THREAD_NAME.encode())


def _ready() -> None:
    """Nothing: submitting it starts the writer process."""
