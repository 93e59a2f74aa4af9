"""Benchmark the model path on one dataset: loader throughput against plain pyarrow / h5py reads of
the same files, training steps/s, and the time `factory report` takes to a verdict.

    .venv/bin/python benchmarks/bench_model.py /tmp/pt1000 --holdout ball.mass=0.8:1.0  # a markdown table
    .venv/bin/python benchmarks/bench_model.py /tmp/pt1000 --no-report  # loader and training only
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
from factory.model.loader import TripleStream, make_loader
from factory.model.split import quality_options, split_episodes
from factory.model.stats import load_stats
from factory.model.train import TrainConfig, train
from factory.report.build import make_report
from factory.report.commands import parse_holdout
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
    """The baseline: read every episode group with h5py, slice into torch batches."""
    rows = 0
    for rel in sorted(f for f in ds.files if f.startswith("hdf5/")):
        with h5py.File(ds.root / rel, "r") as f:
            for name in (k for k in f if k.startswith("episode_")):  # not the /episodes table
                states, actions = f[name]["states"][()], f[name]["actions"][()]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=20, help="for the time-to-verdict run")
    parser.add_argument("--no-report", action="store_true")
    parser.add_argument("--holdout", action="append", default=[], metavar="PARAM=LOW:HIGH",
                        help="OOD range for the report run, as in factory report")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows: list[tuple[str, str]] = []
    ds = open_dataset(args.dataset)
    rows.append(("dataset", f"{ds.manifest['counts']['episodes']} episodes, {len(ds)} transitions"))
    for fmt, plain in (("parquet", plain_pyarrow), ("hdf5", plain_h5py)):
        if fmt not in ds.manifest["formats"]:
            continue
        d = open_dataset(args.dataset, fmt)
        load_stats(d)
        runs = {
            f"plain {'pyarrow' if fmt == 'parquet' else 'h5py'} → torch batches": lambda: plain(d, args.batch_size),
            "TripleStream, in order": lambda: sum(len(b["state"]) for b in TripleStream(d, args.batch_size,
                                                                                        shuffle=False)),
            "TripleStream, shuffled": lambda: sum(len(b["state"]) for b in TripleStream(d, args.batch_size)),
            f"TripleStream, shuffled, DataLoader {args.workers} workers": lambda: sum(
                len(b["state"]) for b in make_loader(TripleStream(d, args.batch_size), args.workers)),
        }
        for name, fn in runs.items():
            seconds, n = timed(fn)
            rows.append((f"{fmt}: {name}", f"{n / seconds:,.0f} triples/s ({seconds:.2f} s)"))
    split = split_episodes(ds.episodes(), quality_options(ds).holdout)
    result = train(ds, split, load_stats(ds), TrainConfig(epochs=3, batch_size=args.batch_size))
    rows.append((f"training (batch {args.batch_size}, CPU, 1 thread, incl. validation)",
                 f"{result.steps_per_second:,.0f} steps/s ({result.steps} steps)"))
    if not args.no_report:
        start = time.perf_counter()
        summary = make_report(args.dataset, config=TrainConfig(epochs=args.epochs, batch_size=args.batch_size),
                              holdout=parse_holdout(args.holdout))
        verdict = "pass" if summary["verdict"]["passed"] else "fail"
        rows.append((f"factory report, {args.epochs} epochs: time to verdict",
                     f"{time.perf_counter() - start:.1f} s (verdict: {verdict})"))
    width = max(len(k) for k, _ in rows)
    print(f"| {'measure':<{width}} | result |\n|{'-' * (width + 2)}|--------|")
    for k, v in rows:
        print(f"| {k:<{width}} | {v} |")


if __name__ == "__main__":
    main()
