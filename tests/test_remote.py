"""Datasets under URLs: runs, resumes, locks, verify and reads against a real S3 API (moto's server
in its own process, spoken to by s3fs over HTTP) and fsspec's in-process memory:// filesystem.

Every dataset is compared with the local `sharded_dataset` made by the same recipe: the same shard
files, byte for byte (sha256), wherever they were written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pandas as pd
import pytest
from helpers import manifest, s3_options, sharded

from factory import open_dataset
from factory.errors import StorageError
from factory.generate.lock import OutputLocked, output_lock
from factory.generate.resume import LOCK_FILE, receipt_name
from factory.generate.runner import run
from factory.storage.location import RemoteDir, location
from factory.storage.manifest import MANIFEST
from factory.storage.verify import verify

pytestmark = pytest.mark.genesis


def remote_manifest(where: RemoteDir) -> dict:
    return json.loads(where.read_bytes(MANIFEST))


def flip_bit(where: RemoteDir, rel: str) -> None:
    data = bytearray(where.read_bytes(rel))
    data[len(data) // 2] ^= 0x01
    where.fs.pipe_file(where.path(rel), bytes(data))


@pytest.fixture(scope="module")
def s3_dataset(s3_endpoint, sharded_dataset) -> RemoteDir:
    """The sharded sliding box, run straight to s3://BUCKET/sliding."""
    import s3fs

    bucket = f"datasets-{uuid.uuid4().hex[:8]}"
    s3fs.S3FileSystem(skip_instance_cache=True, **s3_options(s3_endpoint)).mkdir(bucket)
    where = location(f"s3://{bucket}/sliding", s3_options(s3_endpoint))
    run(sharded(), where)
    return where


@pytest.fixture
def s3_copy(s3_dataset) -> RemoteDir:
    """A private copy of `s3_dataset` (server-side object copies) to damage or resume."""
    copy = location(f"{s3_dataset.url}-{uuid.uuid4().hex[:8]}", s3_dataset.storage_options)
    for rel in s3_dataset.files():
        s3_dataset.fs.copy(s3_dataset.path(rel), copy.path(rel))
    return copy


def test_run_to_s3_writes_what_a_local_run_writes(s3_dataset, sharded_dataset):
    m = remote_manifest(s3_dataset)
    assert m["shards"] == manifest(sharded_dataset)["shards"]  # every file's size and sha256
    data = sorted(f["path"] for s in m["shards"] for f in s["files"])
    documents = [d["path"] for d in m["documents"]]  # the card and the certificate
    assert sorted(documents) == ["README.md", "validity.json"]
    assert sorted(s3_dataset.files()) == sorted(  # no lock, no temporaries
        [MANIFEST, ".factory/run.json", *(receipt_name(i) for i in range(4)), *data, *documents])
    assert verify(s3_dataset) == []


def test_open_dataset_and_pandas_read_s3(s3_dataset, sharded_dataset):
    for fmt in ("parquet", "hdf5"):
        remote = open_dataset(s3_dataset.url, fmt, s3_dataset.storage_options)
        local = open_dataset(sharded_dataset, fmt)
        assert remote.transitions().equals(local.transitions())
        assert remote.episodes().equals(local.episodes())
        assert remote.contacts().equals(local.contacts())
    assert repr(remote).endswith(f"transitions at {s3_dataset.url}>")
    episodes = pd.read_parquet(f"{s3_dataset.url}/parquet/episodes", storage_options=s3_dataset.storage_options)
    assert sorted(episodes["episode"]) == list(range(16))
    with pytest.raises(StorageError, match="needs a dataset on a local disk"):
        remote.root  # noqa: B018 -- what the report and loader read from


def test_cli_verify_and_inspect_take_a_url(s3_dataset, s3_endpoint):
    """Options on the command line, or fsspec's usual environment variables."""
    factory = [sys.executable, "-m", "factory.cli"]
    options = [f"--storage-option={k}={v}" for k, v in s3_dataset.storage_options.items()]
    proc = subprocess.run([*factory, "verify", s3_dataset.url, *options], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == f"{s3_dataset.url}: ok", proc.stderr
    env = os.environ | {"FSSPEC_S3_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing"}
    proc = subprocess.run([*factory, "inspect", s3_dataset.url, "--json"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["path"] == s3_dataset.url and summary["counts"]["episodes"] == 16


def test_verify_catches_a_bit_flipped_object(s3_copy):
    flip_bit(s3_copy, "hdf5/shard-00002.h5")
    assert verify(s3_copy) == ["shard 2: hdf5/shard-00002.h5: sha256 does not match (corrupt)"]


def test_interrupted_s3_run_resumes_only_the_bad_shards(s3_copy, sharded_dataset):
    """A run killed after shard 1's data but before its receipt, and an object damaged since."""
    s3_copy.remove(receipt_name(1))
    s3_copy.remove(MANIFEST)
    flip_bit(s3_copy, "parquet/transitions/shard-00003.parquet")
    said, progress = [], []
    run(sharded(), s3_copy, say=said.append, progress=lambda episodes, steps, **_: progress.append((episodes, steps)))
    assert said == [f"resuming {s3_copy}: 2 of 4 shards verified\n  redoing shard 3: "
                    "parquet/transitions/shard-00003.parquet: sha256 does not match (corrupt)"]
    assert progress[0] == (8, 0) and sum(e for e, _ in progress) == 16  # shards 0 and 2 were not simulated again
    assert remote_manifest(s3_copy)["shards"] == manifest(sharded_dataset)["shards"]
    assert verify(s3_copy) == []


def test_changed_recipe_is_refused_on_s3(s3_copy):
    with pytest.raises(StorageError, match=r"holds a run of a different recipe \(changed: seed\)"):
        run(sharded(seed=8), s3_copy)


def test_lock_object_refuses_a_second_run_and_goes_away(s3_copy):
    with output_lock(s3_copy):
        holder = s3_copy.read_bytes(LOCK_FILE).decode()
        assert holder.startswith(f"pid {os.getpid()} on ")
        with pytest.raises(OutputLocked, match=rf"{s3_copy} is being written by another run \(pid {os.getpid()} on .* "
                           rf"since .*delete {s3_copy}/.factory/lock and run again"):
            run(sharded(), s3_copy)
        # the conditional PUT refuses even the same process
        with pytest.raises(OutputLocked), output_lock(location(s3_copy.url, s3_copy.storage_options)):
            pass
    assert not s3_copy.is_file(LOCK_FILE)


def test_missing_bucket_is_a_clear_error(s3_endpoint):
    where = location(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/ds", s3_options(s3_endpoint))
    with pytest.raises(StorageError, match=rf"{where}: FileNotFoundError: The specified bucket does not exist"):
        run(sharded(), where)


def test_memory_url_uses_hidden_names_and_renames(sharded_dataset):
    """A filesystem with a rename (not an object store): resume clears a half-uploaded temporary."""
    url = f"memory://factory-{uuid.uuid4().hex[:8]}/ds"
    run(sharded(), url)
    where = location(url)
    assert where.read_bytes(MANIFEST) and not where.object_store
    where.remove(receipt_name(1))
    temp = "parquet/transitions/.shard-00001.parquet.tmp-0123456789ab"
    where.write_bytes(temp, b"PAR1 half")
    said = []
    run(sharded(), url, say=said.append)
    assert said == [f"resuming {url}: 3 of 4 shards verified"]
    assert not where.is_file(temp)
    assert json.loads(where.read_bytes(MANIFEST))["shards"] == manifest(sharded_dataset)["shards"]
    assert verify(url) == []
    assert open_dataset(url).transitions().equals(open_dataset(sharded_dataset).transitions())
    where.fs.rm(where.fs_root, recursive=True)
