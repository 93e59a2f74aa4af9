"""Generation on real dask processes: a `dask scheduler` and two `dask worker`s on 127.0.0.1,
`factory run` as a subprocess, real SIGKILLs. Every dataset is compared shard by shard (sha256 of
every file) with one made serially in this process, and checked by `factory verify`, so a lost,
duplicated or altered episode fails the test.

The cluster is shared by the whole module (each worker pays Genesis' start once); the test that
kills a worker runs last.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from factory.generate.resume import STATE_DIR
from factory.generate.runner import run
from factory.recipe.schema import Recipe
from factory.storage.location import Location
from factory.storage.manifest import MANIFEST, read_manifest

pytestmark = pytest.mark.genesis

BIN = Path(sys.executable).parent
EPISODES = 48  # 12 shards of 4: enough that a kill lands mid-run
# no object-store settings of their own: a URL run must hand the workers everything they need
WORKER_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FSSPEC_"))} | {
    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def recipe(**update) -> Recipe:
    from helpers import small

    outputs = {"formats": ["parquet", "hdf5"], "record_every": 2, "shard_size": 4}
    return small("sliding_box", **({"episodes": EPISODES, "steps": 100, "n_envs": 4, "outputs": outputs} | update))


def write_recipe(path: Path, r: Recipe) -> Path:
    path.write_text(yaml.safe_dump(r.model_dump(mode="json"), sort_keys=False))
    return path


def shard_files(out: Path | Location) -> dict[int, dict[str, str]]:
    """Shard id → {file path: sha256}, from the manifest."""
    manifest = read_manifest(out)
    return {s["id"]: {f["path"]: f["sha256"] for f in s["files"]} for s in manifest["shards"]}


def receipts(out: Path) -> list[Path]:
    return sorted((out / STATE_DIR / "shards").glob("*.json"))


def factory(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "factory"), *args], capture_output=True, text=True, timeout=300, **kw)


def start_factory(*args: str) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "factory"), *args, "--quiet"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_receipt(out: Path, proc: subprocess.Popen, timeout: float = 240) -> None:
    """Block until the run has finished its first shard (but the manifest is not written yet)."""
    deadline = time.monotonic() + timeout
    while not receipts(out):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no shard finished in time"
        time.sleep(0.05)


def assert_verified(out: Path) -> None:
    proc = factory("verify", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith(": ok")


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> Path:
    """The same recipe, simulated serially in this process."""
    out = tmp_path_factory.mktemp("serial")
    run(recipe(), out)
    return out


@pytest.fixture(scope="module")
def reference(serial) -> dict[int, dict[str, str]]:
    return shard_files(serial)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A real scheduler and two single-threaded worker processes (no nanny: a killed worker stays dead)."""
    from dask.distributed import Client

    root = tmp_path_factory.mktemp("cluster")
    info = root / "scheduler.json"
    with open(root / "cluster.log", "w") as log:  # the processes keep their own handles
        scheduler = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                      "--no-dashboard", "--scheduler-file", str(info)], stdout=log, stderr=log)
        workers: list[subprocess.Popen] = []
        try:  # the processes go also when the cluster never came up
            deadline = time.monotonic() + 60
            while True:  # the scheduler creates the file, then writes it: wait until it reads whole
                try:
                    address = json.loads(info.read_text())["address"]
                    break
                except (FileNotFoundError, json.JSONDecodeError):
                    assert time.monotonic() < deadline and scheduler.poll() is None, (root / "cluster.log").read_text()
                    time.sleep(0.1)
            workers += [subprocess.Popen([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--no-nanny",
                                          "--name", f"w{i}", "--local-directory", str(root / f"w{i}")],
                                         stdout=log, stderr=log, env=WORKER_ENV) for i in range(2)]
            with Client(address, timeout="60s") as client:
                client.wait_for_workers(2, timeout=120)
            yield address, workers
        finally:
            for proc in [*workers, scheduler]:
                proc.kill()  # nothing of theirs needs a clean shutdown: the datasets are checked already
                proc.wait()


def test_hdf5_bytes_do_not_depend_on_a_thread_holding_frames(serial, reference, tmp_path):
    """A dask worker's profiler thread keeps the writer's frames alive a little longer; that once
    changed where HDF5 put its chunks, so the same shard came out with other bytes."""
    from factory.storage.hdf5 import HDF5Format
    from factory.storage.location import location

    fmt, files = HDF5Format(), ["hdf5/shard-00000.h5"]
    layout = fmt.layout(location(serial), files)
    records = list(fmt.records(location(serial), files, layout))
    stop = threading.Event()

    def sample_frames() -> None:
        held: list = []
        while not stop.is_set():
            held = [*held[-20:], sys._current_frames()]
            time.sleep(0.0005)

    threading.Thread(target=sample_frames, daemon=True).start()
    try:
        for k in range(10):
            fmt.write_shard(tmp_path / str(k), 0, records, layout)
    finally:
        stop.set()
    digests = {hashlib.sha256((tmp_path / str(k) / files[0]).read_bytes()).hexdigest() for k in range(10)}
    assert digests == {reference[0][files[0]]}


def test_two_workers_write_what_one_process_writes(cluster, reference, tmp_path):
    address, _ = cluster
    out = tmp_path / "out"
    proc = factory("run", str(write_recipe(tmp_path / "r.yaml", recipe())), "--out", str(out),
                   "--scheduler", address)
    assert proc.returncode == 0, proc.stderr
    assert f"dask: 2 workers at {address}; dashboard" in proc.stderr
    assert f"wrote {EPISODES} episodes" in proc.stdout
    assert shard_files(out) == reference
    assert_verified(out)


def test_batch_size_does_not_change_episodes(cluster, reference, tmp_path):
    """n_envs 3 puts episodes in other env slots and pads the last batch of every shard."""
    out = tmp_path / "out"
    proc = factory("run", str(write_recipe(tmp_path / "r.yaml", recipe(n_envs=3))), "--out", str(out),
                   "--scheduler", cluster[0])
    assert proc.returncode == 0, proc.stderr
    assert shard_files(out) == reference


def test_one_local_worker_writes_what_serial_writes(reference, tmp_path):
    """`--workers 1` starts its own LocalCluster; shard content depends on the episode range only."""
    out = tmp_path / "out"
    proc = factory("run", str(write_recipe(tmp_path / "r.yaml", recipe())), "--out", str(out),
                   "--workers", "1", "--episodes", "8")
    assert proc.returncode == 0, proc.stderr
    assert "dask: 1 workers at tcp://127.0.0.1:" in proc.stderr
    assert shard_files(out) == {i: reference[i] for i in (0, 1)}


def test_two_workers_write_to_s3(cluster, reference, s3_endpoint, s3_bucket, tmp_path):
    """Worker processes without any S3 settings write straight to the bucket: the endpoint and
    credentials travel with each task from --storage-option."""
    from helpers import s3_options

    from factory.storage.location import location

    url, opts = f"s3://{s3_bucket}/ds", s3_options(s3_endpoint)
    flags = [f"--storage-option={k}={v}" for k, v in opts.items()]
    proc = factory("run", str(write_recipe(tmp_path / "r.yaml", recipe())), "--out", url, "--scheduler", cluster[0],
                   *flags)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {EPISODES} episodes" in proc.stdout and url in proc.stdout
    where = location(url, opts)
    assert shard_files(where) == reference
    assert "--storage-option=secret=***" in read_manifest(where)["command"]  # no credentials in the manifest
    proc = factory("verify", url, *flags)
    assert proc.returncode == 0 and proc.stdout.strip() == f"{url}: ok", proc.stderr


def test_kill_9_client_then_rerun_resumes_to_identical_dataset(cluster, reference, tmp_path):
    out = tmp_path / "out"
    args = ["run", str(write_recipe(tmp_path / "r.yaml", recipe())), "--out", str(out), "--scheduler", cluster[0]]
    proc = start_factory(*args)
    wait_for_receipt(out, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / MANIFEST).exists()
    finished = len(receipts(out))
    assert finished < EPISODES // 4, "the run finished before it was killed; nothing was tested"

    again = factory(*args)
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stderr
    assert shard_files(out) == reference
    assert_verified(out)


def test_second_run_on_same_output_is_refused_while_first_runs(cluster, tmp_path):
    out = tmp_path / "out"
    path = write_recipe(tmp_path / "r.yaml", recipe())
    first = start_factory("run", str(path), "--out", str(out), "--scheduler", cluster[0], "--episodes", "96")
    lock = out / STATE_DIR / "lock"
    while not (lock.exists() and lock.read_text()):  # the first run holds the lock before any work
        assert first.poll() is None, first.communicate()
        time.sleep(0.02)
    second = factory("run", str(path), "--out", str(out), "--scheduler", cluster[0], "--episodes", "96")
    assert first.wait(timeout=300) == 0, first.communicate()
    assert second.returncode == 1
    assert f"{out} is being written by another run (pid {first.pid}" in second.stderr
    assert_verified(out)


def test_killed_worker_costs_nothing(cluster, reference, tmp_path):
    """SIGKILL one of the two workers mid-run: dask reruns its shard on the other; nothing is lost."""
    address, workers = cluster
    out = tmp_path / "out"
    proc = start_factory("run", str(write_recipe(tmp_path / "r.yaml", recipe())), "--out", str(out),
                         "--scheduler", address)
    wait_for_receipt(out, proc)
    workers[1].send_signal(signal.SIGKILL)
    assert workers[1].wait(timeout=30) == -signal.SIGKILL
    assert len(receipts(out)) < EPISODES // 4
    _stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert shard_files(out) == reference
    assert_verified(out)
