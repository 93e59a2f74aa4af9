"""The streaming loader: every triple exactly once per epoch across workers and ranks, shuffled,
from Parquet and HDF5 alike; stats.json matches the data."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from factory import open_dataset  # noqa: E402
from factory.model.loader import TripleStream, make_loader, shuffle_buffer  # noqa: E402
from factory.model.pieces import Chunk, iter_episodes  # noqa: E402
from factory.model.stats import STATS, load_stats  # noqa: E402
from factory.storage import FORMATS  # noqa: E402


def _keys(batches) -> list[tuple[int, int]]:
    return [(int(e), int(s)) for b in batches for e, s in zip(b["episode"], b["step"], strict=True)]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_two_workers_yield_every_triple_exactly_once(push_target_dataset, fmt):
    ds = open_dataset(push_target_dataset, fmt)
    assert len(ds.pieces()) >= 2  # both workers get work
    stream = TripleStream(ds, batch_size=64, buffer_size=128, seed=3)
    batches = list(make_loader(stream, workers=2))
    counts = Counter(_keys(batches))
    t = ds.transitions()
    expected = set(zip(t["episode"].to_pylist(), t["step"].to_pylist(), strict=True))
    assert set(counts) == expected and set(counts.values()) == {1}
    # the rows carry their own data, not a neighbour's
    state, action, next_state = ds.triples()
    order = np.lexsort((t["step"].to_numpy(), t["episode"].to_numpy()))
    got = {k: i for i, k in enumerate(_keys(batches))}
    rows = np.array([got[(int(t["episode"][i].as_py()), int(t["step"][i].as_py()))] for i in order])
    stacked = {f: torch.cat([b[f] for b in batches]).numpy() for f in ("state", "action", "next_state")}
    np.testing.assert_array_equal(stacked["state"][rows], state[order])
    np.testing.assert_array_equal(stacked["action"][rows], action[order])
    np.testing.assert_array_equal(stacked["next_state"][rows], next_state[order])


def test_ranks_partition_an_epoch_and_epochs_reshuffle(push_target_dataset):
    ds = open_dataset(push_target_dataset, "hdf5")
    ranks = [_keys(TripleStream(ds, 32, rank=r, world_size=2, seed=1)) for r in (0, 1)]
    assert ranks[0] and ranks[1] and not set(ranks[0]) & set(ranks[1])
    assert len(ranks[0]) + len(ranks[1]) == len(ds)
    stream = TripleStream(ds, 32, seed=1)
    first = _keys(stream)
    stream.set_epoch(1)
    second = _keys(stream)
    assert sorted(first) == sorted(second) and first != second
    assert first != sorted(first)  # shuffled, not file order


def test_episode_filter_and_full_batches(push_target_dataset):
    ds = open_dataset(push_target_dataset, "parquet")
    batches = list(TripleStream(ds, 16, episodes=[1, 5], shuffle=False))
    assert {e for e, _ in _keys(batches)} == {1, 5}
    assert all(len(b["state"]) == 16 for b in batches[:-1])
    assert batches[0]["state"].dtype == torch.float32


def test_shuffle_buffer_emits_each_row_once():
    chunks = [Chunk(np.full(10, i), np.arange(10, dtype=np.int32), np.zeros((10, 2), np.float32),
                    np.zeros((10, 1), np.float32), np.zeros((10, 2), np.float32)) for i in range(7)]
    out = Chunk.concat(list(shuffle_buffer(chunks, 25, np.random.default_rng(0))))
    keys = list(zip(out.episode.tolist(), out.step.tolist(), strict=True))
    assert sorted(keys) == [(i, s) for i in range(7) for s in range(10)]
    assert keys != sorted(keys)


def test_episodes_stream_whole_and_in_order(push_target_dataset):
    for fmt in FORMATS:
        ds = open_dataset(push_target_dataset, fmt)
        eps = list(iter_episodes(ds))
        assert [e.index for e in eps] == list(range(8))
        ref = ds.episode(5)
        np.testing.assert_array_equal(eps[5].states, ref.states)
        np.testing.assert_array_equal(eps[5].actions, ref.actions)


def test_stats_json_matches_the_data_and_is_computed_once(push_target_dataset):
    ds = open_dataset(push_target_dataset, "parquet")
    stats = load_stats(ds, refresh=True)
    path = ds.root / STATS
    on_disk = json.loads(path.read_text())
    state, action, next_state = ds.triples()
    for feature, values in (("state", state), ("action", action), ("delta", next_state - state)):
        for key, fn in (("mean", np.mean), ("std", np.std), ("min", np.min), ("max", np.max)):
            np.testing.assert_allclose(on_disk[feature][key], fn(values.astype(np.float64), axis=0),
                                       rtol=1e-5, atol=1e-6)
    assert on_disk["state"]["names"] == ds.layout.state_names
    mtime = path.stat().st_mtime_ns
    assert load_stats(ds) == stats and path.stat().st_mtime_ns == mtime
