"""Writers and readers, the same suite for every format, on hand-made episodes (no engine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hand_made import write_dataset, write_points_dataset

from factory import open_dataset
from factory.errors import StorageError
from factory.storage import FORMATS


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_round_trip_triples(hand_made_dataset, fmt):
    root, records = hand_made_dataset
    ds = open_dataset(root, fmt)
    state, action, next_state = ds.triples()
    assert len(ds) == len(state) == 60
    expected = np.concatenate([records[i].rollout.states[:-1] for i in range(6)])
    assert np.array_equal(state, expected)
    assert np.array_equal(next_state, np.concatenate([records[i].rollout.states[1:] for i in range(6)]))
    assert np.array_equal(action, np.concatenate([records[i].rollout.actions for i in range(6)]))
    ep = ds.episode(3)
    assert np.array_equal(ep.states, records[3].rollout.states)
    assert ep.params == {"a__mass": pytest.approx(1.3), "b__mass": 1.0}
    assert ep.labels["touched__a__b"] is True and ep.labels["first_contact__a__b"] == 4
    assert ep.contacts.num_rows == 3 and ep.contacts["body_b"].to_pylist() == ["a", "b", "b"]


def test_formats_hold_the_same_tables(hand_made_dataset):
    root, _ = hand_made_dataset
    pq_ds, h5_ds = open_dataset(root, "parquet"), open_dataset(root, "hdf5")
    assert pq_ds.transitions().equals(h5_ds.transitions())
    assert pq_ds.contacts().equals(h5_ds.contacts())
    assert pq_ds.episodes().equals(h5_ds.episodes())


def test_columns_are_typed(hand_made_dataset):
    root, _ = hand_made_dataset
    t = open_dataset(root).transitions()
    assert t.schema.field("state").type == pa.list_(pa.float32(), 26)
    assert t.schema.field("action").type == pa.list_(pa.float32(), 6)
    assert t.schema.field("is_first").type == pa.bool_()
    assert open_dataset(root).contacts().schema.field("body_a").type == pa.dictionary(pa.int32(), pa.string())
    meta = pq.ParquetFile(next((root / "parquet" / "transitions").glob("*.parquet"))).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_row_groups_never_split_an_episode(tmp_path, monkeypatch):
    import factory.storage.parquet as parquet

    monkeypatch.setattr(parquet, "ROW_GROUP_TARGET", 15)  # 10-row episodes: groups of 2 episodes
    write_dataset(tmp_path)
    f = pq.ParquetFile(tmp_path / "parquet" / "transitions" / "shard-00000.parquet")
    assert f.metadata.num_row_groups == 2
    seen = set()
    for g in range(f.metadata.num_row_groups):
        episodes = set(f.read_row_group(g, columns=["episode"])["episode"].to_pylist())
        assert not episodes & seen
        seen |= episodes


def test_manifest_lists_every_file_with_checksum(hand_made_dataset):
    from factory.storage.location import location
    from factory.storage.manifest import read_manifest

    root, _ = hand_made_dataset
    m = read_manifest(root)
    files = [f for s in m["shards"] for f in s["files"]]
    assert {f["path"] for f in files} == {p.relative_to(root).as_posix() for p in root.rglob("*")
                                          if p.is_file() and p.name != "manifest.json"}
    assert all(location(root).sha256(f["path"]) == f["sha256"] for f in files)
    assert m["counts"] | {"quarantined": 0} == {"episodes": 6, "transitions": 60, "contacts": 18, "quarantined": 0}
    assert m["features"]["state"]["names"][:3] == ["a.pos.x", "a.pos.y", "a.pos.z"]
    assert len(m["recipe_hash"]) == 64


def test_incomplete_dataset_is_refused(tmp_path):
    (tmp_path / "parquet").mkdir()
    with pytest.raises(StorageError, match=r"no manifest\.json; not a complete dataset"):
        open_dataset(tmp_path)


def test_other_tools_open_the_files(hand_made_dataset):
    """pandas, DuckDB, Polars, dask and h5py read the shards with no help from the factory."""
    import dask.dataframe as dd
    import duckdb
    import h5py
    import pandas as pd
    import polars as pl

    root, records = hand_made_dataset
    glob = str(root / "parquet" / "transitions" / "*.parquet")
    assert len(pd.read_parquet(root / "parquet" / "transitions")) == 60
    assert duckdb.sql(f"select count(*), count(distinct episode) from '{glob}'").fetchall()[0] == (60, 6)
    assert duckdb.sql(f"select sum(touched__a__b::int) from '{root}/parquet/episodes/*.parquet'").fetchall()[0][0] == 3
    assert pl.read_parquet(glob)["state"].dtype == pl.Array(pl.Float32, 26)
    assert len(dd.read_parquet(str(root / "parquet" / "transitions")).compute()) == 60
    with h5py.File(root / "hdf5" / "shard-00000.h5") as f:
        row = f["episodes"][list(f["episodes"]["episode"]).index(2)]
        assert row["param.a.mass"] == pytest.approx(1.2) and row["label.first_contact__a__b"] == -1
        s, t, c = row["states_offset"], row["transitions_offset"], row["contacts_offset"]
        assert row["transitions"] == 10 and f["states"].shape[1] == 26 and f["actions"].shape[1] == 6
        assert np.array_equal(f["states"][s:s + 11], records[2].rollout.states)
        contacts = f["contacts"][c:c + row["contacts"]]
        assert contacts["body_b"].tolist() == [1, 2, 2] and contacts["position"].shape == (3, 3)
        assert set(contacts["episode"]) == {2}
        assert f["step_labels"]["n_contacts"][t:t + 10].tolist() == list(range(10))


def test_points_round_trip_in_both_formats(tmp_path):
    """Fluid/cloth episodes: (T+1, N, 3) point fields and their indices come back from either format."""
    records = write_points_dataset(tmp_path)
    pq_ds, h5_ds = open_dataset(tmp_path, "parquet"), open_dataset(tmp_path, "hdf5")
    assert pq_ds.transitions().equals(h5_ds.transitions())
    t = pq_ds.transitions()
    assert t.schema.field("particle_pos").type == pa.list_(pa.field("element", pa.list_(
        pa.field("element", pa.float32()), 3)), 7)
    for ds in (pq_ds, h5_ds):
        ep = ds.episode(1)
        assert np.array_equal(ep.points["particle_pos"], records[1].rollout.points["particle_pos"])
        assert np.array_equal(ep.points["particle_vel"], records[1].rollout.points["particle_vel"])
        assert ep.point_index.tolist() == [0, 2, 4, 6, 8, 10, 12]
        assert ds.manifest["features"]["particle_pos"]["shape"] == [7, 3]
        assert ds.layout.action_names == ["a.velocity.x"]


def test_writing_a_shard_imports_no_pandas(tmp_path):
    """`pa.array` imports pandas (1–4 s in a fresh writer process here); the writers build Arrow
    columns from numpy buffers instead, so a shard in every format is written without it."""
    import subprocess
    import sys

    code = ("import sys\nfrom hand_made import LAYOUT, record\nfrom factory.generate.plan import plan_shards\n"
            "from factory.generate.shard import write_shard\nfrom factory.storage import FORMATS\n"
            f"write_shard({str(tmp_path)!r}, plan_shards(3, 8)[0], [record(i) for i in range(3)], LAYOUT, "
            "list(FORMATS))\n"
            "print('pandas' in sys.modules)")
    here = Path(__file__).parent
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=here,
                          env={"PYTHONPATH": f"{here}:{here.parent}", "PATH": ""})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*")) == [
        "hdf5/shard-00000.h5", "parquet/contacts/shard-00000.parquet", "parquet/episodes/shard-00000.parquet",
        "parquet/transitions/shard-00000.parquet"]


def test_hdf5_of_an_older_layout_is_refused_with_advice(hand_made_dataset, tmp_path):
    import json
    import shutil

    root, _ = hand_made_dataset
    copy = tmp_path / "old"
    shutil.copytree(root, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps(manifest | {"format_version": 2}))
    with pytest.raises(StorageError, match="format_version 2 layout, which this factory no longer reads; "
                                           r"open its Parquet files \(format='parquet'\)"):
        open_dataset(copy, "hdf5")
    assert len(open_dataset(copy, "parquet").transitions()) == 60
