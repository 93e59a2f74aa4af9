"""Ctrl-C and `kill -9` of a MuJoCo `factory run` whose shards a thread writes beside MuJoCo's rollout
threads (the write-behind path where the engine's threads fill the cores, `factory.generate.write_behind`):
every receipted shard survives with its bytes, no visible data file is half-written, Ctrl-C exits 130,
and the same command then finishes the dataset an uninterrupted run writes."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, manifest, small

from factory.generate.plan import plan_shards
from factory.generate.resume import TEMPORARY, receipt_name, scan
from factory.generate.runner import run
from factory.generate.write_behind import THREAD_NAME
from factory.storage import FORMATS
from factory.storage.location import location
from factory.storage.manifest import MANIFEST
from factory.storage.verify import verify

pytest.importorskip("mujoco")
CORES = sorted(os.sched_getaffinity(0))[:2] if hasattr(os, "sched_getaffinity") else []
pytestmark = pytest.mark.skipif(len(CORES) < 2 or not sys.platform.startswith("linux"),
                                reason="the thread path needs two cores; the checks read Linux's /proc")
RECIPE = small("sliding_box", engine={"type": "mujoco", "threads": 2}, episodes=160, steps=200, n_envs=8,
               outputs={"formats": list(FORMATS), "record_every": 2, "shard_size": 8})
SHARDS = plan_shards(RECIPE.episodes, RECIPE.outputs.shard_size)  # 20 shards of 8 episodes


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted") / "ds"
    run(RECIPE, out)
    return out


@pytest.fixture
def recipe_file(tmp_path) -> Path:
    path = tmp_path / "mujoco_sliding.yaml"
    path.write_text(yaml.safe_dump(RECIPE.model_dump(mode="json"), sort_keys=False))
    return path


def _factory_run(recipe: Path, out: Path) -> subprocess.Popen:
    """`factory run` pinned to two cores, with MuJoCo on two threads: the engine fills them, so the run
    writes behind in a thread; in a session of its own, as a terminal's Ctrl-C reaches its process group,
    and with Ctrl-C's default action, as from a terminal (a test run started in the background of a
    script inherits SIGINT ignored, and so would the run)."""
    def like_a_terminal() -> None:
        os.sched_setaffinity(0, CORES)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    return subprocess.Popen([sys.executable, "-m", "factory.cli", "run", str(recipe), "--out", str(out), "--quiet"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=like_a_terminal)


def _mid_run(proc: subprocess.Popen, out: Path) -> None:
    """Wait until the run has receipted its first shard, and check it writes in a thread, not a process."""
    deadline = time.monotonic() + 120
    while not (out / receipt_name(0)).exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no shard finished in 120 s"
        time.sleep(0.005)
    tasks = Path(f"/proc/{proc.pid}/task")
    assert (tasks / str(proc.pid) / "children").read_text().split() == []  # no helper process
    assert THREAD_NAME in [_name(t) for t in tasks.iterdir()]


def _name(task: Path) -> str:
    try:
        return (task / "comm").read_text().strip()
    except FileNotFoundError:  # a thread that ended since the listing
        return ""


def _data_files(root: Path) -> dict[str, str]:
    """Every file a reader globbing a format's folder sees (not hidden ones, as pyarrow's datasets skip
    them and `*.parquet` / `*.h5` do not match a temporary), path → sha256."""
    rels = [p.relative_to(root).as_posix() for fmt in FORMATS for p in (root / fmt).rglob("*") if p.is_file()]
    return {rel: hashlib.sha256((root / rel).read_bytes()).hexdigest()
            for rel in rels if not any(part.startswith(".") for part in rel.split("/"))}


def _receipted(out: Path) -> dict[str, str]:
    """The files of every shard whose receipt is there and whose files hash to it, path → sha256."""
    done, todo = scan(location(out), SHARDS)
    assert done and todo, "the run was not stopped mid-way"
    return {f["path"]: f["sha256"] for receipt in done.values() for f in receipt["files"]}


def _resume_and_compare(recipe: Path, out: Path, uninterrupted: Path, finished: int) -> None:
    """The same command finishes the dataset, byte for byte the uninterrupted run's."""
    proc = _factory_run(recipe, out)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert f"resuming {out}: {finished} of {len(SHARDS)} shards verified" in err
    assert verify(out) == []
    assert _data_files(out) == _data_files(uninterrupted)
    assert manifest(out)["shards"] == manifest(uninterrupted)["shards"]
    assert not list(out.rglob(TEMPORARY))


def test_ctrl_c_keeps_finished_shards_and_resumes(recipe_file, uninterrupted, tmp_path):
    """Ctrl-C mid-run: the shards being written are finished and receipted before the run exits 130,
    nothing else is visible, and no writer thread keeps the process alive."""
    out = tmp_path / "ds"
    proc = _factory_run(recipe_file, out)
    _mid_run(proc, out)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("the run hung after Ctrl-C")
    assert proc.returncode == 130, err
    assert "interrupted: finished shards are kept" in err
    assert not (out / MANIFEST).exists()
    receipted = _receipted(out)
    assert _data_files(out) == receipted  # every visible file is a receipted shard's
    assert receipted.items() <= _data_files(uninterrupted).items()
    assert not list(out.rglob(TEMPORARY))
    _resume_and_compare(recipe_file, out, uninterrupted, len(scan(location(out), SHARDS)[0]))


def test_kill_9_loses_no_finished_shard_and_resumes(recipe_file, uninterrupted, tmp_path):
    """`kill -9` mid-run: receipted shards keep their bytes; a data file in view is a whole one (written
    under a hidden name, then renamed), at most not yet receipted, which the rerun redoes."""
    out = tmp_path / "ds"
    proc = _factory_run(recipe_file, out)
    _mid_run(proc, out)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / MANIFEST).exists()
    receipted, visible, whole = _receipted(out), _data_files(out), _data_files(uninterrupted)
    assert receipted.items() <= visible.items() <= whole.items()
    _resume_and_compare(recipe_file, out, uninterrupted, len(scan(location(out), SHARDS)[0]))


def test_ctrl_c_while_the_last_shard_is_written_finishes_it(tmp_path):
    """The last shard's formats are written side by side, HDF5 here and Parquet by the thread: Ctrl-C
    during the HDF5 write finishes both and receipts the shard, rather than leave the thread writing
    Parquet files no receipt names after the run has let go of its output."""
    recipe = RECIPE.model_copy(update={"episodes": 64, "outputs": RECIPE.outputs.model_copy(update={"shard_size": 64})})
    path = tmp_path / "one_shard.yaml"
    path.write_text(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))
    out = tmp_path / "ds"
    proc = _factory_run(path, out)
    deadline = time.monotonic() + 120
    while not list((out / "hdf5").glob(TEMPORARY)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no HDF5 write began in 120 s"
        time.sleep(0.001)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    done, _ = scan(location(out), plan_shards(64, 64))
    assert _data_files(out) == {f["path"]: f["sha256"] for receipt in done.values() for f in receipt["files"]}
    assert done, "the shard being written was dropped"
