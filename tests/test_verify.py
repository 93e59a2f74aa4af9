"""`factory verify` on a real sharded_dataset: intact passes; truncation, bit flips, lost, duplicated or
stray episodes and files are each reported; a rerun of the same run redoes exactly the bad shards."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import manifest, sharded

from factory.generate.runner import run
from factory.storage.manifest import MANIFEST, file_entry
from factory.storage.verify import verify

pytestmark = pytest.mark.genesis


def rewrite_listed(root: Path, rel: str, table: pa.Table) -> None:
    """Replace a data file and its manifest entry consistently, as a buggy writer would."""
    pq.write_table(table, root / rel)
    relist(root, rel)


def relist(root: Path, rel: str) -> None:
    """Make the manifest's entry for `rel` match the file as it now is."""
    m = manifest(root)
    for shard in m["shards"]:
        shard["files"] = [file_entry(root, Path(rel)) if f["path"] == rel else f for f in shard["files"]]
    (root / MANIFEST).write_text(json.dumps(m))


def test_intact_dataset_verifies(sharded_dataset):
    assert verify(sharded_dataset) == []
    proc = subprocess.run([sys.executable, "-m", "factory.cli", "verify", str(sharded_dataset)], capture_output=True,
                          text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == f"{sharded_dataset}: ok"


def test_truncated_and_bit_flipped_shards_are_caught_and_redone(sharded_dataset, copy):
    truncated = copy / "parquet" / "transitions" / "shard-00001.parquet"
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    flipped = copy / "hdf5" / "shard-00002.h5"
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped.write_bytes(bytes(data))

    problems = verify(copy)
    assert len(problems) == 2
    assert problems[0].startswith("shard 1: parquet/transitions/shard-00001.parquet: ") and "truncated" in problems[0]
    assert problems[1] == "shard 2: hdf5/shard-00002.h5: sha256 does not match (corrupt)"
    proc = subprocess.run([sys.executable, "-m", "factory.cli", "verify", str(copy)], capture_output=True, text=True)
    assert proc.returncode == 1 and "2 problem(s)" in proc.stderr

    said: list[str] = []
    run(sharded(), copy, say=said.append)
    assert "redoing shard 1: parquet/transitions/shard-00001.parquet" in said[0]
    assert "redoing shard 2: hdf5/shard-00002.h5: sha256" in said[0]
    assert "2 of 4 shards verified" in said[0]
    assert verify(copy) == []
    assert manifest(copy)["shards"] == manifest(sharded_dataset)["shards"]


def test_lost_and_duplicated_episodes_are_caught_even_with_matching_hashes(copy):
    rel = "parquet/episodes/shard-00000.parquet"
    table = pq.read_table(copy / rel)
    rows = table.to_pylist()
    tampered = [rows[0], rows[1], rows[1], rows[3]]  # episode 1 twice, episode 2 lost
    rewrite_listed(copy, rel, pa.Table.from_pylist(tampered, schema=table.schema))
    assert verify(copy) == ["shard 0: parquet: episodes table: episodes [2] missing",
                            "shard 0: parquet: episodes table: episodes [1] appear more than once"]


def test_altered_transitions_are_caught_even_with_matching_hashes(copy):
    rel = "parquet/transitions/shard-00003.parquet"
    table = pq.read_table(copy / rel)
    rewrite_listed(copy, rel, table.slice(0, table.num_rows - 1))  # last transition of episode 15 gone
    problems = verify(copy)
    assert "shard 3: parquet: episodes [15] do not have 20 transitions" in problems
    assert any("transitions, manifest says" in p for p in problems)


def test_hdf5_dataset_shorter_than_its_table_is_caught(copy):
    rel = "hdf5/shard-00000.h5"
    with h5py.File(copy / rel, "a") as f:
        states = f["states"][:-1]  # the last episode's last state gone
        del f["states"]
        f["states"] = states
    relist(copy, rel)
    assert verify(copy) == [f"shard 0: hdf5: unreadable (StorageError: {rel}: /states has {len(states)} rows, "
                            f"its /episodes table says {len(states) + 1})"]


def test_overlapping_shards_and_stray_files_are_caught(copy):
    m = manifest(copy)
    m["shards"][1]["episodes"] = [3, 8]
    (copy / MANIFEST).write_text(json.dumps(m))
    shutil.copy(copy / "hdf5" / "shard-00000.h5", copy / "hdf5" / "shard-00009.h5")
    problems = verify(copy)
    assert "episodes 3..3 are in two shards (shard 1)" in problems
    assert "hdf5/shard-00009.h5: data file not in the manifest" in problems
    assert "shard 1: parquet: episodes table: episodes [3] missing" in problems
