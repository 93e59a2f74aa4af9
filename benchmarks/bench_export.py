"""Export speed per format against a plain pyarrow read + write of the same columns.

    .venv/bin/python benchmarks/bench_export.py                    # generates push_target (256 episodes)
    .venv/bin/python benchmarks/bench_export.py --dataset DIR ...  # any finished datasets

For each dataset: every `factory export` format (best of --repeat runs after an untimed one that
imports the format's libraries, each into a fresh folder, timed from the call to the renamed
result), and "plain pyarrow": `pq.read_table` of the dataset's transition files and one
`pq.write_table` of the same columns (snappy), the least any export does. MB/s counts the transition
columns' in-memory size (state, action, next_state, points, labels) over the time; "on disk" is the
size of what was written.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from factory import open_dataset  # noqa: E402
from factory.export import EXPORTERS, export  # noqa: E402


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def plain_pyarrow(root: Path, files: list[str], out: Path) -> float:
    start = time.perf_counter()
    table = pq.read_table([str(root / f) for f in files])
    pq.write_table(table, out)
    return time.perf_counter() - start


def generate(tmp: Path, episodes: int) -> Path:
    from factory.generate.runner import run
    from factory.recipe.loader import load_recipe
    from factory.recipe.schema import Recipe

    recipe = load_recipe(ROOT / "recipes" / "collision" / "push_target.yaml")
    recipe = Recipe.model_validate(recipe.model_dump() | {"episodes": episodes, "n_envs": 64,
                                                          "outputs": {"formats": ["parquet"], "record_every": 5,
                                                                      "shard_size": 64}})
    out = tmp / "push_target"
    t = time.perf_counter()
    run(recipe, out)
    print(f"generated {episodes} push_target episodes in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return out


def bench(root: Path, tmp: Path, repeat: int) -> list[tuple]:
    ds = open_dataset(root, "parquet")
    files = [f for f in ds.files if "/transitions/" in f]
    mb = ds.transitions().drop_columns(["episode", "step", "t"]).nbytes / 1e6
    n = len(ds)
    rows = []
    best = min(plain_pyarrow(root, files, tmp / f"plain-{i}") for i in range(repeat))
    rows.append(("plain pyarrow read + write", n / best, mb / best, best, (tmp / "plain-0").stat().st_size / 1e6))
    for fmt in EXPORTERS:
        times = []
        for i in range(repeat + 1):  # the first run imports the format's libraries: not timed
            out = tmp / f"{fmt}-{i}"
            start = time.perf_counter()
            export(ds, fmt, out)
            times.append(time.perf_counter() - start)
        best = min(times[1:])
        rows.append((f"factory export --format {fmt}", n / best, mb / best, best, folder_mb(tmp / f"{fmt}-0")))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", type=Path, default=[], help="finished dataset (repeatable)")
    parser.add_argument("--episodes", type=int, default=256, help="push_target episodes to generate without --dataset")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
        tmp = Path(folder)
        roots = args.dataset or [generate(tmp, args.episodes)]
        for root in roots:
            ds = open_dataset(root)
            print(f"\n{ds.manifest['recipe']['name']}: {ds.manifest['counts']['episodes']} episodes, {len(ds):,} "
                  f"transitions, state {ds.layout.state_size}, points {ds.layout.n_points}")
            print("| | transitions/s | MB/s | seconds | on disk MB |\n|---|---:|---:|---:|---:|")
            work = tmp / "out"
            work.mkdir(exist_ok=True)
            for name, tps, mbs, secs, disk in bench(root, work, args.repeat):
                print(f"| {name} | {tps:,.0f} | {mbs:,.1f} | {secs:.2f} | {disk:.1f} |")
            shutil.rmtree(work)


if __name__ == "__main__":
    main()
