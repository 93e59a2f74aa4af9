"""A failed command ends in one plain line and exit 1, the traceback in a log; a full disk loses nothing."""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
import yaml

from factory.cli import main
from factory.cli.failure import describe
from factory.generate.resume import receipt_name
from factory.generate.write_behind import Inline
from factory.storage.hdf5 import HDF5Format

ROOT = Path(__file__).resolve().parent.parent

SLIDING = {
    "name": "tiny_slide", "engine": {"type": "mujoco"}, "seed": 3, "episodes": 16, "steps": 60, "dt": 0.005,
    "n_envs": 4,
    "scene": {"ground": {"friction": 0.01}, "objects": [{
        "name": "box", "shape": {"type": "box", "size": [0.3, 0.3, 0.1]},
        "mass": {"type": "uniform", "low": 0.5, "high": 4.0}, "friction": 0.5, "pos": [0, 0, 0.05],
        "vel": [{"type": "uniform", "low": 1.0, "high": 3.0}, 0, 0]}]},
    "outputs": {"formats": ["parquet", "hdf5"], "record_every": 1, "shard_size": 4},
}


def _recipe(tmp_path: Path, **update) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(SLIDING | update))
    return path


def _data(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).parts[0] in ("parquet", "hdf5")}


def _lines(err: str) -> list[str]:
    """stderr without the progress bar's redraws."""
    return [line for line in err.replace("\r", "\n").splitlines() if line.strip() and "ep/s" not in line]


def test_a_full_disk_mid_run_is_one_line_and_the_same_command_resumes_to_identical_bytes(tmp_path, monkeypatch, capfd):
    recipe = _recipe(tmp_path)
    assert main(["run", str(recipe), "--out", str(tmp_path / "ref"), "--quiet"]) == 0
    write = HDF5Format.write_shard

    def full_from_shard_2(self, root, shard, *args, **kwargs):
        if shard >= 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(root / "hdf5" / f".shard-{shard:05d}.h5.tmp-1"))
        return write(self, root, shard, *args, **kwargs)

    monkeypatch.setattr("factory.generate.runner.write_behind", lambda out, threads=1: Inline())  # the patch holds
    monkeypatch.setattr(HDF5Format, "write_shard", full_from_shard_2)
    out = tmp_path / "out"
    capfd.readouterr()
    assert main(["run", str(recipe), "--out", str(out), "--quiet"]) == 1
    lines = _lines(capfd.readouterr().err)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: no space left on device writing {out}/hdf5/shard-00002.h5; the remaining "
                               "8 episodes need about ")
    assert "2 of 4 shards are finished and kept: free space and run the same command to resume (details: " \
        f"{out}/.factory/factory.log)" in lines[0]
    assert "Traceback" in (out / ".factory" / "factory.log").read_text()

    monkeypatch.setattr(HDF5Format, "write_shard", write)  # space freed
    assert main(["run", str(recipe), "--out", str(out), "--quiet"]) == 0
    assert _data(out) == _data(tmp_path / "ref")


@pytest.fixture
def tiny_disk(tmp_path):
    """A 6 MB tmpfs, where root may mount one."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_a_real_full_disk_is_one_line_and_resumes_once_there_is_space(tmp_path, tiny_disk):
    """A run that outgrows a 6 MB tmpfs: one line naming the file, exit 1; grown, the same command finishes."""
    recipe = _recipe(tmp_path, episodes=256, steps=400, outputs=SLIDING["outputs"] | {"shard_size": 8})
    out = tiny_disk / "ds"
    proc = _factory("run", str(recipe), "--out", str(out))
    assert proc.returncode == 1
    lines = _lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: no space left on device writing "), proc.stderr
    assert f"into {out};" in lines[0] or f" {out}/" in lines[0]
    assert "shards are finished and kept: free space and run the same command to resume (details: " in lines[0]
    assert not (out / "manifest.json").exists()

    subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_disk)], check=True)
    assert _factory("run", str(recipe), "--out", str(out), "--quiet").returncode == 0
    assert _factory("run", str(recipe), "--out", str(tmp_path / "ref"), "--quiet").returncode == 0
    assert _data(out) == _data(tmp_path / "ref")


def _factory(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "factory.cli", *args], capture_output=True, text=True, cwd=ROOT)


FAILING_INSPECT = """
import logging, sys
sys.excepthook = lambda *a: print("[Engine] [ERROR] hook", file=sys.stderr)  # what Genesis installs
logging.getLogger("engine").addHandler(logging.StreamHandler(sys.stderr))
import factory.storage.inspect as inspect
def summarize(*args):
    raise ValueError("Too many bins for data range")
inspect.summarize = summarize
from factory.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def test_an_unexpected_error_is_one_line_with_its_place_and_log_whatever_hook_is_installed(tmp_path):
    proc = subprocess.run([sys.executable, "-c", FAILING_INSPECT, "inspect", str(tmp_path)], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert re.fullmatch(r"error: unexpected ValueError in factory/cli/dataset\.py:\d+ \(_inspect\): Too many bins for "
                        r"data range; this is a bug in the factory: please report it with the log \(details: .*\)",
                        lines[0]), lines[0]
    log = Path(lines[0].rsplit("(details: ", 1)[1].rstrip(")"))
    assert "Traceback" in log.read_text() and "Too many bins" in log.read_text()
    log.unlink()

    verbose = subprocess.run([sys.executable, "-c", FAILING_INSPECT, "inspect", str(tmp_path), "--verbose"],
                             capture_output=True, text=True, cwd=ROOT)
    assert verbose.returncode == 1 and "Traceback (most recent call last)" in verbose.stderr
    assert verbose.stderr.splitlines()[-1].startswith("error: unexpected ValueError") and "hook" not in verbose.stderr


def test_resources_are_named():
    def raised(exc: BaseException) -> BaseException:
        try:
            try:
                raise exc
            except BaseException as inner:
                raise RuntimeError("the writer thread failed") from inner
        except RuntimeError as outer:
            return outer

    assert describe(raised(MemoryError()), resumable=True).startswith("out of memory in ")
    assert describe(raised(MemoryError()), resumable=True).endswith("then run the same command to resume")
    files = describe(raised(OSError(errno.EMFILE, "Too many open files")))
    assert files.startswith("too many open files (limit ") and "`ulimit -n 65536`" in files
    disk = describe(raised(OSError(errno.ENOSPC, "No space left on device", "/data/x/.a.parquet.tmp-9")))
    assert disk == "no space left on device writing /data/x/a.parquet; free space and run the same command again"
    worker = describe(BrokenProcessPool("A process in the process pool was terminated abruptly"), resumable=True)
    assert worker.startswith("a worker process died abruptly (BrokenProcessPool; the system kills one that runs out")


def test_sigterm_mid_run_is_one_line_and_the_same_command_resumes_to_identical_bytes(tmp_path):
    """SIGTERM (a scheduler's stop) ends a run as Ctrl-C does: what is being written is receipted, exit 143."""
    recipe = _recipe(tmp_path, episodes=256, steps=400, outputs=SLIDING["outputs"] | {"shard_size": 8})
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "factory.cli", "run", str(recipe), "--out", str(out), "--quiet"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / receipt_name(1)).exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no shard finished in 120 s"
        time.sleep(0.01)
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert err.splitlines() == ["terminated (SIGTERM): finished shards are kept; run the same command again to resume"]
    assert not (out / "manifest.json").exists()
    assert _factory("run", str(recipe), "--out", str(out), "--quiet").returncode == 0
    assert _factory("run", str(recipe), "--out", str(tmp_path / "ref"), "--quiet").returncode == 0
    assert _data(out) == _data(tmp_path / "ref")


def test_a_file_missing_from_a_finished_dataset_is_one_line_and_the_run_command_restores_it(tmp_path, capfd):
    recipe = _recipe(tmp_path, episodes=4)
    out = tmp_path / "out"
    assert main(["run", str(recipe), "--out", str(out), "--quiet"]) == 0
    before = _data(out)
    lost = out / "parquet" / "transitions" / "shard-00000.parquet"
    lost.unlink()
    capfd.readouterr()
    for command in (["inspect", str(out)], ["preview", str(out), "--episode", "0"]):
        assert main(command) == 1
        lines = _lines(capfd.readouterr().err)
        assert len(lines) == 1 and lines[0].startswith(f"error: missing file {lost}; if it belongs to a dataset, "
                                                       "`factory verify DATASET` lists what else is missing"), lines
    assert main(["run", str(recipe), "--out", str(out), "--quiet"]) == 0
    assert _data(out) == before


def test_a_racing_second_run_is_one_line_and_leaves_the_first_alone(tmp_path, capfd):
    """A second run of the same output while one holds its lock: one line naming the holder, exit 1."""
    from factory.generate.lock import output_lock

    recipe = _recipe(tmp_path, episodes=4)
    out = tmp_path / "out"
    with output_lock(out):
        capfd.readouterr()
        assert main(["run", str(recipe), "--out", str(out), "--quiet"]) == 1
        lines = _lines(capfd.readouterr().err)
        assert len(lines) == 1 and lines[0].startswith(f"error: {out} is being written by another run (pid "), lines
    assert main(["run", str(recipe), "--out", str(out), "--quiet"]) == 0


def test_a_bare_timeout_is_named():
    assert describe(TimeoutError()).startswith("TimeoutError in ")


def test_a_cluster_that_closes_slowly_keeps_a_finished_run(monkeypatch):
    """Closing a LocalCluster on a loaded machine can time out after every shard is written: a note, not a failure."""
    from types import SimpleNamespace

    from factory.generate import distributed

    class SlowToClose:
        def __enter__(self):
            return SimpleNamespace(scheduler=SimpleNamespace(address="tcp://here"), dashboard_link="")

        def __exit__(self, *exc_info):
            raise TimeoutError

    def slow_to_close(stack, workers, scheduler, say):
        return distributed._enter(stack, SlowToClose(), say)

    monkeypatch.setattr(distributed, "_open_client", slow_to_close)
    said: list[str] = []
    with distributed.dask_client(workers=1, say=said.append):
        pass
    assert "SlowToClose did not close cleanly (TimeoutError)" in said[-1]
    with pytest.raises(RuntimeError), distributed.dask_client(workers=1, say=said.append):
        raise RuntimeError("a shard failed")  # an error while working still propagates
