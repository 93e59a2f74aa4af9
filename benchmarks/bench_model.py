"""Benchmark the model path on datasets: loader throughput against plain pyarrow / h5py reads of
the same files, training steps/s, the time `factory report` takes to a verdict, and the figures
the verdict rests on (the relational model and the old flat MLP against the best trivial baseline).

    .venv/bin/python benchmarks/bench_model.py /tmp/pt500 --holdout ball.mass=0.2:0.3 --holdout ball.mass=0.9:1.0
    .venv/bin/python benchmarks/bench_model.py /tmp/pt500 /tmp/ho200 /tmp/sb200 --no-loader  # figures only
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import h5py
import numpy as np
import pyarrow.parquet as pq
import torch

from factory import open_dataset
from factory.cli.model import parse_holdout
from factory.model.baselines import baselines
from factory.model.evaluate import evaluate
from factory.model.loader import TripleStream, make_loader
from factory.model.pieces import iter_chunks
from factory.model.rigid import TorchPredictor
from factory.model.split import episode_info, quality_options, split_episodes
from factory.model.stats import load_stats
from factory.model.train import TrainConfig, train
from factory.report.build import make_report
from factory.report.verdict import BASELINES, gap_closed
from factory.storage.dataset import Dataset


def _batches_of(arrays: tuple[np.ndarray, ...], batch: int) -> int:
    rows = 0
    for start in range(0, len(arrays[0]), batch):
        tensors = [torch.from_numpy(np.array(a[start:start + batch])) for a in arrays]
        rows += len(tensors[0])
    return rows


def plain_pyarrow(ds: Dataset, batch: int) -> int:
    """The baseline: read whole transition files with pyarrow, slice into torch batches."""
    rows = 0
    for rel in sorted(f for f in ds.files if f.startswith("parquet/transitions/")):
        table = pq.read_table(ds.root / rel, columns=["state", "action", "next_state"])
        arrays = tuple(table[c].combine_chunks().flatten().to_numpy().reshape(table.num_rows, -1)
                       for c in ("state", "action", "next_state"))
        rows += _batches_of(arrays, batch)
    return rows


def plain_h5py(ds: Dataset, batch: int) -> int:
    """The baseline: read every shard's states and actions with h5py, cut them per episode by the
    `/episodes` offsets, slice into torch batches."""
    rows = 0
    for rel in sorted(f for f in ds.files if f.startswith("hdf5/")):
        with h5py.File(ds.root / rel, "r") as f:
            all_states, all_actions = f["states"][()], f["actions"][()]
            for row in f["episodes"][()]:
                s, t, n = row["states_offset"], row["transitions_offset"], row["transitions"]
                states, actions = all_states[s:s + n + 1], all_actions[t:t + n]
                rows += _batches_of((states[:-1], actions, states[1:]), batch)
    return rows


def timed(fn, repeats: int = 2) -> tuple[float, int]:
    """Best of `repeats` runs: the first also pays for cold caches and imports."""
    best, rows = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter()
        rows = fn()
        best = min(best, time.perf_counter() - start)
    return best, rows


def loader_rows(path: Path, batch: int, workers: int) -> list[tuple[str, str]]:
    rows = []
    ds = open_dataset(path)
    for fmt, plain in (("parquet", plain_pyarrow), ("hdf5", plain_h5py)):
        if fmt not in ds.manifest["formats"]:
            continue
        d = open_dataset(path, fmt)
        load_stats(d)
        runs = {
            f"plain {'pyarrow' if fmt == 'parquet' else 'h5py'} → torch batches":
                lambda d=d, plain=plain: plain(d, batch),
            "TripleStream, in order": lambda d=d: sum(len(b["state"]) for b in TripleStream(d, batch, shuffle=False)),
            "TripleStream, shuffled": lambda d=d: sum(len(b["state"]) for b in TripleStream(d, batch)),
            f"TripleStream, shuffled, DataLoader {workers} workers": lambda d=d: sum(
                len(b["state"]) for b in make_loader(TripleStream(d, batch), workers)),
        }
        for name, fn in runs.items():
            seconds, n = timed(fn)
            rows.append((f"{fmt}: {name}", f"{n / seconds:,.0f} triples/s ({seconds:.2f} s)"))
    return rows


def figures(evaluation: dict, name: str = "model") -> str:
    """one-step and H-step position error as multiples of the best trivial baseline, label gap closed."""
    r = evaluation["test"]
    one = r["one_step"][name]["nmse"] / min(r["one_step"][b]["nmse"] for b in BASELINES)
    roll = r["rollout"][name][-1] / min(r["rollout"][b][-1] for b in BASELINES)
    return (f"one-step {one:.2f}×, {len(r['rollout'][name])}-step position {roll:.2f}× the best baseline; "
            f"labels close {gap_closed(r['labels'], name):.0%} of the majority→readout gap")


def old_mlp(path: Path, holdout: dict, epochs: int, batch: int) -> tuple[str, str]:
    """The flat MLP the relational model replaced, trained and scored on the same split."""
    ds = open_dataset(path)
    table = ds.episodes()
    split = split_episodes(table, quality_options(ds, holdout).holdout)
    stats = load_stats(ds)
    result = train(ds, split, stats, TrainConfig(epochs=epochs, batch_size=batch))
    predictors = [*baselines(ds.layout, stats, iter_chunks(ds, split.train)), TorchPredictor(result.model)]
    ev = evaluate(predictors, ds, {"test": split.test}, stats, episode_info(table))
    return (f"{ds.manifest['recipe']['name']}: old flat MLP, {epochs} epochs",
            f"{figures(ev, 'mlp')}; training {result.seconds:.0f} s, {result.steps_per_second:.0f} steps/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", type=Path, nargs="+")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train-seconds", type=float, default=300.0, help="the report's training budget")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=20, help="for the time-to-verdict run")
    parser.add_argument("--mlp-epochs", type=int, default=20,
                        help="for the old MLP beside the first dataset's model (0: skip)")
    parser.add_argument("--no-loader", action="store_true", help="skip the loader throughput rows")
    parser.add_argument("--holdout", action="append", default=[], metavar="PARAM=LOW:HIGH",
                        help="OOD bands for the first dataset's report, as in factory report")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows: list[tuple[str, str]] = []
    for k, path in enumerate(args.datasets):
        ds = open_dataset(path)
        name = ds.manifest["recipe"]["name"]
        rows.append((f"{name}: dataset", f"{ds.manifest['counts']['episodes']} episodes, {len(ds)} transitions"))
        if not args.no_loader and k == 0:
            rows += loader_rows(path, args.batch_size, args.workers)
        holdout = parse_holdout(args.holdout) if k == 0 else None
        start = time.perf_counter()
        summary = make_report(path, config=TrainConfig(epochs=args.epochs, batch_size=args.batch_size,
                                                       max_seconds=args.train_seconds), holdout=holdout)
        t = summary["training"]
        rows.append((f"{name}: factory report, {args.epochs} epochs: time to verdict",
                     f"{time.perf_counter() - start:.0f} s (training {t['seconds']:.0f} s, "
                     f"{t['steps_per_second']:.1f} steps/s); verdict: "
                     f"{'pass' if summary['verdict']['passed'] else 'fail'}"))
        if "labels" in summary["evaluation"]["test"]:
            rows.append((f"{name}: relational model", figures(summary["evaluation"])))
            for kind, r in summary["probes"].get("test", {}).items():
                rows.append((f"{name}: probe '{kind}' ({r['items']} items)",
                             f"model {r['model']:.2f}, readout {r['truth-readout']:.2f}, "
                             f"majority {r['majority']:.2f}, chance {r['chance']:.2f}"))
            if args.mlp_epochs and k == 0:
                rows.append(old_mlp(path, holdout, args.mlp_epochs, 256))
    width = max(len(k) for k, _ in rows)
    print(f"| {'measure':<{width}} | result |\n|{'-' * (width + 2)}|--------|")
    for k, v in rows:
        print(f"| {k:<{width}} | {v} |")


if __name__ == "__main__":
    main()
