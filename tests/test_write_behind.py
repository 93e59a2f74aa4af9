"""A plain `factory run` writes each shard in a second process while the next one simulates: the
same bytes as writing in this process, errors and interrupts handled as if it were."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import pytest
from helpers import manifest, sharded

from factory.generate.plan import plan_shards
from factory.generate.resume import STATE_DIR, receipt_name
from factory.generate.runner import run, run_write_behind
from factory.generate.shard import produce_shard
from factory.generate.write_behind import Inline, Threaded, write_behind
from factory.storage.location import location
from factory.storage.manifest import MANIFEST
from factory.storage.verify import verify


def _writer_kind(folder: str, queue: multiprocessing.Queue) -> None:
    with write_behind(location(folder)) as writer:
        queue.put(type(writer).__name__)


def test_daemonic_process_writes_inline(tmp_path):
    """A dask worker is daemonic and may not start children: shards are written where they simulate."""
    with write_behind(location(tmp_path)) as helper:
        assert isinstance(helper, ProcessPoolExecutor)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_writer_kind, args=(str(tmp_path), queue), daemon=True)
    child.start()
    assert queue.get(timeout=60) == Inline.__name__
    child.join()


def test_engine_threads_on_every_core_write_in_a_thread(tmp_path):
    """MuJoCo's rollout threads fill the cores: a helper process would only take turns with them, a
    thread of this process writes beside them (on one core, this process writes between batches)."""
    cores = len(os.sched_getaffinity(0))
    helper = write_behind(location(tmp_path), engine_threads=cores)
    assert isinstance(helper, Threaded if cores > 1 else Inline)
    helper.shutdown()


@pytest.mark.parametrize("formats", [["parquet", "hdf5"], ["hdf5"]])
def test_mujoco_through_the_thread_writes_what_one_process_writes(formats, tmp_path):
    """Shards written by the thread beside MuJoCo's rollout threads, and the last one's formats
    written side by side, are the bytes `produce_shard` writes."""
    pytest.importorskip("mujoco")
    recipe = sharded(engine={"type": "mujoco", "threads": 2},
                     outputs={"formats": formats, "record_every": 2, "shard_size": 4})
    run(recipe, tmp_path / "run", executor=run_write_behind)
    inline = [produce_shard(recipe, location(tmp_path / "inline"), shard)
              for shard in plan_shards(recipe.episodes, recipe.outputs.shard_size)]
    assert [s["files"] for s in manifest(tmp_path / "run")["shards"]] == [r["files"] for r in inline]


def test_url_outputs_are_written_in_this_process():
    """memory:// exists in this process only; other URLs keep listings a helper's uploads would leave stale."""
    assert isinstance(write_behind(location("memory://factory-helper/ds")), Inline)


def test_inline_hands_errors_to_the_result():
    future = Inline().submit(int, "x")
    with pytest.raises(ValueError, match="invalid literal"):
        future.result()


def test_writer_dies_with_its_parent():
    """After `kill -9` of the run, no writer is left to race the resume's clean-up of temporaries."""
    code = ("from factory.storage.location import location\n"
            "from factory.generate.write_behind import write_behind\nimport os, time\n"
            "if __name__ == '__main__':\n"
            "    w = write_behind(location('.')); print(w.submit(os.getpid).result(), flush=True); time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)})
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child):
        assert time.monotonic() < deadline, "the writer outlived its parent"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"  # a zombie has exited; init reaps it later
    except FileNotFoundError:
        return False


@pytest.mark.genesis
@pytest.mark.parametrize("formats", [["parquet", "hdf5"], ["hdf5"]])
def test_same_bytes_as_writing_in_this_process(formats, tmp_path):
    """The helper's shards, and the last one split between the helper and this process, are the bytes
    `produce_shard` (a dask worker's path) writes."""
    recipe = sharded(outputs={"formats": formats, "record_every": 2, "shard_size": 4})
    run(recipe, tmp_path / "run", executor=run_write_behind)
    inline = [produce_shard(recipe, location(tmp_path / "inline"), shard)
              for shard in plan_shards(recipe.episodes, recipe.outputs.shard_size)]
    assert [s["files"] for s in manifest(tmp_path / "run")["shards"]] == [r["files"] for r in inline]


@pytest.mark.genesis
def test_writer_error_surfaces_with_its_message(tmp_path):
    (tmp_path / "parquet").write_text("a file where the writer needs a folder")
    recipe = sharded()
    with pytest.raises(NotADirectoryError, match="parquet"):
        list(run_write_behind(recipe, location(tmp_path), plan_shards(recipe.episodes, recipe.outputs.shard_size)))
    assert not (tmp_path / STATE_DIR).exists()  # nothing receipted


@pytest.mark.genesis
def test_interrupt_keeps_the_shard_being_written_and_resumes(sharded_dataset, tmp_path):
    """Ctrl-C while shard 1 simulates: shard 0, written meanwhile, is finished and receipted; shard 1
    leaves nothing visible; the same command then finishes the same dataset."""
    recipe, out = sharded(), tmp_path / "ds"
    per_shard = recipe.outputs.shard_size

    def progress(episodes: int, _steps: int, seen: list[int] = [0], **_) -> None:  # noqa: B006 - a counter
        seen[0] += episodes
        if seen[0] > per_shard:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(recipe, out, progress=progress, executor=run_write_behind)
    assert (out / receipt_name(0)).exists() and not (out / receipt_name(1)).exists()
    assert not list(out.rglob("shard-00001.*")) and not (out / MANIFEST).exists()
    said: list[str] = []
    run(recipe, out, say=said.append, executor=run_write_behind)
    assert said == [f"resuming {out}: 1 of 4 shards verified"]
    assert manifest(out)["shards"] == manifest(sharded_dataset)["shards"]
    assert verify(out) == []
