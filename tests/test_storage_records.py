"""Records are checked against the layout before any format writes them: every problem in one
error, and no file under any name (hand-made bad records, every registered format)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hand_made import LAYOUT, record

from factory.contract.rollout import Contacts, EpisodeRecord, Layout, Rollout
from factory.errors import StorageError
from factory.generate.plan import plan_shards
from factory.generate.shard import write_shard
from factory.storage import FORMATS, check_records, writer_for


def bad_records() -> list[EpisodeRecord]:
    """Six episodes, each wrong in its own way; every one would reach a file without the check
    (Parquet takes its columns from the first record and drops or nulls the rest)."""
    ok = record(0)
    extra_param = replace(record(1), params={**record(1).params, "b.friction": 0.5})
    lacking_label = replace(record(2), episode_labels={k: v for k, v in record(2).episode_labels.items()
                                                       if k != "max_speed__a"})
    short = replace(record(3), step_labels={**record(3).step_labels, "n_contacts": np.zeros(3, np.int16)})
    r = record(4)
    wide = replace(r, rollout=replace(r.rollout, states=np.zeros((11, 27), np.float32),
                                      actions=r.rollout.actions.astype(np.int64)))
    r = record(5)
    c = r.rollout.contacts
    far_body = replace(r, rollout=replace(r.rollout, contacts=replace(c, body_b=np.array([1, 2, 7], np.int16))))
    return [ok, extra_param, lacking_label, short, wide, far_body]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_bad_records_reach_no_file(tmp_path, fmt):
    with pytest.raises(StorageError) as info:
        writer_for(fmt).write_shard(tmp_path, 0, bad_records(), LAYOUT)
    message = str(info.value)
    assert message.startswith("6 problems in the records of one shard; nothing written")
    for fragment in ["episode 1: params has extra b.friction (episode 0 has a.mass, b.mass)",
                     "episode 2: episode_labels lacks max_speed__a",
                     "episode 3: step label n_contacts: shape (3,), expected (10,)",
                     "episode 4: states: shape (11, 27), expected (11, 26)",
                     "episode 4: actions: dtype int64, expected floats",
                     "episode 5: contacts.body_b: body indices outside 0..2"]:
        assert fragment in message
    # through the shard writer too, for every format at once: nothing under any name, temporary or final
    with pytest.raises(StorageError):
        write_shard(tmp_path, plan_shards(6, 8)[0], bad_records(), LAYOUT, list(FORMATS))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_points_and_foreign_objects_are_checked():
    layout = Layout(("a",), ("a",), 0.01, ("particle_pos",), 4, ("a.velocity.x",))
    rollout = Rollout(0, np.zeros((5, 13), np.float32), np.zeros((4, 1), np.float32), Contacts.empty(),
                      {"particle_pos": np.zeros((5, 3, 3), np.float32)}, None)
    with pytest.raises(StorageError) as info:
        check_records([EpisodeRecord(rollout, {"a.mass": "heavy"}, {}, {}), "not a record"], layout)
    message = str(info.value)
    assert "record 1: a str, not an EpisodeRecord" in message
    assert "episode 0: a.mass: 'heavy' is not a number or a bool" in message
    assert "episode 0: points particle_pos: shape (5, 3, 3), expected (5, 4, 3)" in message
    assert "episode 0: point_index: a NoneType, not a numpy array" in message


def test_good_records_pass_and_repeated_episodes_do_not():
    check_records([record(i) for i in range(3)], LAYOUT)
    with pytest.raises(StorageError, match=r"episodes \[1\] appear more than once"):
        check_records([record(0), record(1), record(1)], LAYOUT)


def test_values_are_checked_in_every_record_and_beside_shape_problems():
    """Shapes and dtypes are checked once per kind of record; values (body indices, steps, numbers)
    in every record, and beside a shape problem elsewhere in the same record."""
    records = [record(i) for i in range(4)]
    c = records[1].rollout.contacts
    records[1] = replace(records[1], rollout=replace(records[1].rollout, contacts=replace(c, body_a=c.body_a + 5)))
    c = records[2].rollout.contacts
    records[2] = replace(records[2], rollout=replace(records[2].rollout, states=np.zeros((11, 27), np.float32),
                                                     contacts=replace(c, step=c.step + 50)))
    records[3] = replace(records[3], params={**records[3].params, "a.mass": "heavy"})
    with pytest.raises(StorageError) as info:
        check_records(records, LAYOUT)
    message = str(info.value)
    assert message.startswith("4 problems")
    for fragment in ["episode 1: contacts.body_a: body indices outside 0..2",
                     "episode 2: states: shape (11, 27), expected (11, 26)",
                     "episode 2: contacts.step: steps outside 0..10",
                     "episode 3: a.mass: 'heavy' is not a number or a bool"]:
        assert fragment in message
