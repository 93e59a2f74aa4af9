"""`factory merge` and `open_dataset([A, B])`: one dataset from several of the same layout.

push_target_dataset (8 episodes, n_envs 4, shards of 4) and push_target_32 (32 episodes, n_envs 8,
shards of 8, a holdout) run the same recipe and seed, so their episodes 0-7 are the same episodes:
the merge keeps them once."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from factory import open_dataset
from factory.cli import main
from factory.errors import MergeError
from factory.export.merge import merge
from factory.model.loader import TripleStream
from factory.storage import FORMATS
from factory.storage.verify import verify

pytestmark = pytest.mark.genesis


@pytest.fixture(scope="module")
def merged(push_target_dataset, push_target_32, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("merged") / "ab"
    assert main(["merge", str(push_target_dataset), str(push_target_32), "--out", str(out), "--quiet"]) == 0
    return out


def renumbered(table: pa.Table, new_ids: dict[int, int], drop: tuple[str, ...] = ()) -> pa.Table:
    """`table`'s rows of the episodes in `new_ids`, numbered as the merge numbers them."""
    keep = table.filter(pc.is_in(table["episode"], pa.array(list(new_ids), pa.int64())))
    ids = pa.array([new_ids[e] for e in keep["episode"].to_pylist()], pa.int64())
    keep = keep.set_column(keep.schema.get_field_index("episode"), "episode", ids)
    return keep.drop_columns([c for c in drop if c in keep.column_names])


def assert_same_table(got: pa.Table, want: pa.Table, what: str) -> None:
    """Equal schemas and values; NaN labels (no contact, no friction) equal NaN."""
    assert got.schema == want.schema, what
    for name in want.column_names:
        if pa.types.is_floating(want.schema.field(name).type):
            np.testing.assert_array_equal(got[name].to_numpy(), want[name].to_numpy(), err_msg=f"{what}.{name}")
        else:
            assert got[name].equals(want[name]), f"{what}.{name}"


def test_merge_keeps_each_episode_once_and_verifies(merged, push_target_dataset, push_target_32, capsys):
    ds = open_dataset(merged)
    m = ds.manifest["merge"]
    assert m["duplicates"] == 8 and ds.manifest["counts"]["episodes"] == 32
    assert m["episodes"] == {"source": [0] * 8 + [1] * 24, "episode": list(range(8)) + list(range(8, 32))}
    sources = [Path(push_target_dataset), Path(push_target_32)]
    assert [s["manifest_sha256"] for s in m["sources"]] == [
        hashlib.sha256((p / "manifest.json").read_bytes()).hexdigest() for p in sources]
    assert [s["recipe"]["episodes"] for s in m["sources"]] == [8, 32]
    assert verify(merged) == []
    assert main(["verify", str(merged)]) == 0 and main(["inspect", str(merged)]) == 0
    assert f"merged from {push_target_dataset}, {push_target_32}" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_merged_tables_equal_the_sources(merged, push_target_dataset, push_target_32, fmt):
    a, b, out = (open_dataset(p, fmt) for p in (push_target_dataset, push_target_32, merged))
    first = {e: e for e in range(8)}
    rest = {e: e for e in range(8, 32)}
    # the episodes dropped as duplicates really are the same episodes
    assert renumbered(b.transitions(), first).equals(a.transitions())
    skip = ("shard", "transitions_offset")
    for name in ("transitions", "episodes", "contacts"):
        want = pa.concat_tables([renumbered(getattr(a, name)(), first, skip),
                                 renumbered(getattr(b, name)(), rest, skip)])
        got = getattr(out, name)().drop_columns([c for c in skip if c in getattr(out, name)().column_names])
        assert_same_table(got, want, name)


def test_merged_dataset_exports(merged, tmp_path):
    import datasets

    from factory.export import export

    export(merged, "hf", tmp_path / "hf")
    provenance = datasets.load_from_disk(str(tmp_path / "hf"))["transitions"].info.description
    assert len(datasets.load_from_disk(str(tmp_path / "hf"))["transitions"]) == 1600
    assert '"merged_from"' in provenance and provenance.count("manifest_sha256") == 3


def test_merging_a_merge_with_its_source_counts_the_repeats(merged, push_target_dataset, tmp_path):
    manifest = merge([merged, push_target_dataset], tmp_path / "again")
    assert manifest["merge"]["duplicates"] == 8 and manifest["counts"]["episodes"] == 32


def test_different_layouts_refused_naming_the_features(push_target_dataset, sliding_box_dataset, tmp_path, capsys):
    out = tmp_path / "mixed"
    with pytest.raises(MergeError, match=r"(?s)state: shape \[39\] \(ball.pos.x.*shape \[13\] \(box.pos.x.*"
                                         r"action: shape \[9\].*shape \[3\]"):
        merge([push_target_dataset, sliding_box_dataset], out)
    assert main(["merge", str(push_target_dataset), str(sliding_box_dataset), "--out", str(out), "--quiet"]) == 2
    assert "bodies: ['ground', 'ball', 'target', 'blocker']" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(MergeError, match="different layouts"):
        open_dataset([push_target_dataset, sliding_box_dataset])


def test_open_dataset_takes_several(push_target_dataset, push_target_32):
    a, b = open_dataset(push_target_dataset), open_dataset(push_target_32)
    group = open_dataset([push_target_dataset, push_target_32])
    assert len(group) == len(a) + len(b) and group.offsets == [0, 8]
    assert group.episodes()["episode"].to_pylist() == list(range(40))
    assert group.episode_map[8] == (1, 0) and group.locate(39) == (1, 31)
    np.testing.assert_array_equal(group.episode(9).states, b.episode(1).states)
    state, _, _ = group.triples()
    np.testing.assert_array_equal(state, np.concatenate([a.triples()[0], b.triples()[0]]))


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_training_loader_streams_several_datasets(push_target_dataset, push_target_32, fmt):
    a, b = open_dataset(push_target_dataset, fmt), open_dataset(push_target_32, fmt)
    group = open_dataset([push_target_dataset, push_target_32], fmt)
    batches = list(TripleStream(group, 64, shuffle=False))
    episode = np.concatenate([x["episode"].numpy() for x in batches])
    state = np.concatenate([x["state"].numpy() for x in batches])
    order = np.lexsort((np.concatenate([x["step"].numpy() for x in batches]), episode))
    np.testing.assert_array_equal(state[order], np.concatenate([a.triples()[0], b.triples()[0]]))
    assert set(episode) == set(range(40))
    only = list(TripleStream([a, b], 64, episodes=[3, 20], shuffle=True))  # a list works as a group too
    assert set(np.concatenate([x["episode"].numpy() for x in only])) == {3, 20}


def test_interrupted_merge_leaves_nothing_and_runs_again(push_target_dataset, push_target_32, tmp_path):
    out = tmp_path / "ab"

    def interrupt(transitions: int) -> None:  # after the first shard is written
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        merge([push_target_dataset, push_target_32], out, progress=interrupt)
    assert not [p for p in out.rglob("*") if p.is_file()]
    assert merge([push_target_dataset, push_target_32], out)["counts"]["episodes"] == 32
