"""Run shards as dask.distributed tasks: a LocalCluster of processes, or an existing cluster.

One task per shard. A worker simulates the shard on its process-wide cached engine, writes the
data files and the receipt straight into the output (a folder every worker sees at the same path,
or a URL: the task carries the URL and its storage options, so workers need no configuration of
their own), and returns the receipt; the client
only collects receipts and writes the manifest last. Dask reruns the task of a worker that dies,
and because a shard's bytes depend only on (recipe, seed, episode range), a rerun, a duplicate
run on another worker, or a resume writes exactly the same files.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from factory.errors import FactoryError, StorageError
from factory.generate.plan import Shard
from factory.generate.resume import receipt_name
from factory.generate.shard import Progress, produce_shard
from factory.recipe.schema import Recipe
from factory.storage.location import Location


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None,
                say: Callable[[str], None] = print) -> Iterator[Any]:
    """A client of `scheduler` (tcp://host:port), or of a new LocalCluster of `workers` processes."""
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        raise FactoryError("--workers and --scheduler need dask.distributed: pip install 'dask[distributed]' "
                           "(or: pip install -e '.[dask]')") from None

    with contextlib.ExitStack() as stack:
        client = _open_client(stack, workers, scheduler, say)
        n = len(client.scheduler_info(n_workers=-1)["workers"]) if scheduler else workers
        say(f"dask: {n} workers at {client.scheduler.address}; dashboard {client.dashboard_link}")
        yield client


def _open_client(stack: contextlib.ExitStack, workers: int | None, scheduler: str | None,
                 say: Callable[[str], None]) -> Any:
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            return _enter(stack, Client(scheduler, timeout="30s"), say)
        except OSError as exc:
            raise FactoryError(f"cannot reach the dask scheduler at {scheduler}: {exc}") from None
    # silence_logs: a worker holding a built scene takes a few seconds to exit, which the nanny
    # reports as a warning on every shutdown; errors still show
    cluster = _enter(stack, LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         dashboard_address=":0", silence_logs=logging.ERROR), say)
    return _enter(stack, Client(cluster), say)


def _enter(stack: contextlib.ExitStack, manager: Any, say: Callable[[str], None]) -> Any:
    """Enter `manager` on `stack`, closing it so that a close timing out (a loaded machine's cluster) is a
    note: what the tasks wrote is written, and an error of the work itself is not hidden by it."""
    entered = manager.__enter__()

    def close(*exc_info: Any) -> bool:
        try:
            manager.__exit__(*exc_info)
        except OSError as exc:  # TimeoutError among them
            say(f"dask: {type(manager).__name__} did not close cleanly ({type(exc).__name__}); "
                "every shard it finished is written")
        return False

    stack.push(close)
    return entered


class DaskExecutor:
    """Executor (see `factory.generate.runner.Executor`) that opens its cluster only when there is work."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None,
                 say: Callable[[str], None] = print):
        if (workers is None) == (scheduler is None):
            raise ValueError("give exactly one of workers or scheduler")
        self.workers, self.scheduler, self.say = workers, scheduler, say

    def __call__(self, recipe: Recipe, out: Location, shards: list[Shard],
                 progress: Progress | None = None) -> Iterator[dict[str, Any]]:
        if not shards:
            return
        from dask.distributed import as_completed

        out = out.for_workers()
        run_id = uuid.uuid4().hex[:8]
        with dask_client(self.workers, self.scheduler, self.say) as client:
            futures = [client.submit(produce_shard, recipe, out, shard, pure=False,
                                     key=f"factory-shard-{shard.id:05d}-{run_id}") for shard in shards]
            for future in as_completed(futures):
                receipt = future.result()
                if not out.is_file(receipt_name(receipt["id"])):
                    raise StorageError(f"a worker wrote shard {receipt['id']} where this machine cannot see "
                                       f"it: {out} must be the same folder for the workers and the client")
                if progress:
                    n = receipt["episodes"][1] - receipt["episodes"][0]
                    progress(n, n * recipe.steps)
                yield receipt
