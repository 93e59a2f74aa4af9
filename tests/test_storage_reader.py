"""The reader protocol's streaming reads, the same suite for every registered format: pieces,
columns and records agree with the whole tables, and records read back write the same data again."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hand_made import LAYOUT, RECIPE, write_points_dataset

from factory import open_dataset
from factory.errors import StorageError
from factory.generate.plan import plan_shards
from factory.generate.provenance import build_manifest
from factory.generate.shard import write_shard
from factory.storage import FORMATS, reader_for
from factory.storage.base import column_array
from factory.storage.manifest import write_manifest

ENGINE = {"name": "none", "version": "0", "backend": "cpu"}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_pieces_hold_whole_episodes_and_together_the_table(hand_made_dataset, fmt):
    root, _ = hand_made_dataset
    ds = open_dataset(root, fmt)
    pieces = ds.pieces()
    assert [e for p in pieces for e in p.episodes] == list(range(6))
    whole = ds.transitions()
    read = [t for p in pieces for t in ds.read_piece(p, batch_rows=4)]
    assert max(t.num_rows for t in read) == 4
    assert pa.concat_tables(read).equals(whole)
    for p in pieces:
        ids = pa.concat_tables(list(ds.read_piece(p, ["episode"])))["episode"].to_pylist()
        assert sorted(set(ids)) == list(p.episodes)
    picked = pa.concat_tables(list(ds.iter_transitions(["step", "next_state", "episode"], episodes=[4, 1])))
    assert picked.column_names == ["step", "next_state", "episode"]
    assert set(picked["episode"].to_pylist()) == {1, 4} and picked.num_rows == 20
    mask = np.isin(whole["episode"].to_numpy(), [1, 4])
    assert np.array_equal(column_array(picked["next_state"]), column_array(whole["next_state"])[mask])
    with pytest.raises(StorageError, match="no transitions column nope"):
        list(ds.iter_transitions(["nope"]))


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_columns_match_the_tables(hand_made_dataset, fmt):
    root, _ = hand_made_dataset
    ds = open_dataset(root, fmt)
    tables = {"transitions": ds.transitions(), "episodes": ds.episodes(), "contacts": ds.contacts()}
    for table, name in [("contacts", "penetration"), ("contacts", "episode"), ("contacts", "position"),
                        ("episodes", "param__a__mass"), ("transitions", "n_contacts")]:
        np.testing.assert_array_equal(ds.column(table, name), column_array(tables[table][name]))
    with pytest.raises(StorageError, match="did you mean 'contacts'"):
        ds.column("contact", "penetration")


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_records_come_back_as_written(hand_made_dataset, fmt):
    root, written = hand_made_dataset
    ds = open_dataset(root, fmt)
    got = list(ds.records())
    assert [r.index for r in got] == list(range(6))
    for r in got:
        w = written[r.index]
        assert np.array_equal(r.rollout.states, w.rollout.states)
        assert np.array_equal(r.rollout.actions, w.rollout.actions)
        for name in w.rollout.contacts.COLUMNS:
            have, want = getattr(r.rollout.contacts, name), getattr(w.rollout.contacts, name)
            assert np.array_equal(have, want) and have.dtype == want.dtype, name
        assert r.params == pytest.approx(w.params) and r.episode_labels == w.episode_labels
        assert list(r.step_labels) == list(w.step_labels)
        for name, values in w.step_labels.items():
            assert np.array_equal(r.step_labels[name], values) and r.step_labels[name].dtype == values.dtype
    assert [r.index for r in ds.records([5, 2])] == [2, 5]


@pytest.mark.parametrize("source", list(FORMATS))
def test_records_read_back_write_the_same_data_in_every_format(hand_made_dataset, tmp_path, source):
    """What a converter or a merge does: read records from one format, write them with each."""
    root, _ = hand_made_dataset
    src = open_dataset(root, source)
    records = list(src.records())
    entries = [write_shard(tmp_path, s, [records[i] for i in s.episodes], src.layout, list(FORMATS))
               for s in plan_shards(len(records), RECIPE.outputs.shard_size)]
    write_manifest(tmp_path, build_manifest(RECIPE, ENGINE, LAYOUT, entries, len(records), None))
    for fmt in FORMATS:
        copy = open_dataset(tmp_path, fmt)
        assert copy.transitions().equals(src.transitions())
        assert copy.episodes().equals(src.episodes())
        assert copy.contacts().equals(src.contacts())


def test_points_stream_from_every_format(tmp_path):
    write_points_dataset(tmp_path)
    tables = {fmt: open_dataset(tmp_path, fmt) for fmt in FORMATS}
    for ds in tables.values():
        t = pa.concat_tables(list(ds.iter_transitions(["episode", "particle_pos", "next_particle_vel"])))
        whole = ds.transitions()
        np.testing.assert_array_equal(column_array(t["particle_pos"]), column_array(whole["particle_pos"]))
        assert column_array(t["next_particle_vel"]).shape == (12, 7, 3)
        (r,) = ds.records([1])
        assert np.array_equal(r.rollout.points["particle_pos"], ds.episode(1).points["particle_pos"])
        assert r.rollout.point_index.tolist() == [0, 2, 4, 6, 8, 10, 12]


def test_registry_refuses_unknown_and_mismatched_formats(monkeypatch):
    with pytest.raises(StorageError, match=r"unknown format 'parqet' \(did you mean 'parquet'\?\); registered: "
                       + ", ".join(FORMATS)):
        reader_for("parqet")
    first, other = list(FORMATS)[:2]
    monkeypatch.setitem(FORMATS, other, FORMATS[first])
    with pytest.raises(StorageError, match=f"whose FORMAT is '{first}', not '{other}'"):
        reader_for(other)


def test_hdf5_pieces_are_runs_of_episodes_within_a_memory_budget(hand_made_dataset, monkeypatch):
    import factory.storage.hdf5 as hdf5

    root, _ = hand_made_dataset
    ds = open_dataset(root, "hdf5")
    assert [p.episodes for p in ds.pieces()] == [(0, 1, 2, 3), (4, 5)]  # one piece per shard file
    monkeypatch.setattr(hdf5, "PIECE_BYTES", 2 * (11 * 26 + 10 * 6) * 4)  # two episodes' states + actions
    assert [p.episodes for p in ds.pieces()] == [(0, 1), (2, 3), (4, 5)]
    assert pa.concat_tables([t for p in ds.pieces() for t in ds.read_piece(p)]).equals(ds.transitions())
