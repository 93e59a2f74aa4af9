"""Scaling of generation on this machine: serial vs 1 vs N dask worker processes.

Every mode runs the same shards of a CPU-bound recipe with engines already built (Genesis start-up,
~20 s per process, is timed separately), so the figures are steady-state episodes/s. Reports the
speed-up of N workers over 1, dask's per-shard overhead ((1-worker time - serial time) / shards),
and the CPU the simulating processes got: on a shared machine "cores used" below N explains a
speed-up below N, while equal CPU ms/episode shows the work itself does not grow with workers.
Every mode's shards must hash the same as the serial ones, or the benchmark fails.

    .venv/bin/python benchmarks/bench_scale.py --episodes 256 --workers 1 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from factory.generate.distributed import DaskExecutor
from factory.generate.engine_cache import cached_engine
from factory.generate.runner import run
from factory.recipe.loader import load_recipe
from factory.recipe.schema import Recipe

ROOT = Path(__file__).resolve().parent.parent


def bench_recipe(episodes: int, steps: int, n_envs: int, shard_size: int) -> Recipe:
    base = load_recipe(ROOT / "recipes" / "collision" / "sliding_box.yaml")
    outputs = base.outputs.model_dump() | {"shard_size": shard_size}
    return Recipe.model_validate(base.model_dump() | {"episodes": episodes, "steps": steps, "n_envs": n_envs,
                                                      "outputs": outputs})


def timed_run(recipe: Recipe, out: Path, executor=None) -> tuple[float, float, list[dict]]:
    """Wall seconds, this process's CPU seconds, and the shards written."""
    wall, cpu = time.perf_counter(), time.process_time()
    manifest = run(recipe, out, executor=executor)
    return time.perf_counter() - wall, time.process_time() - cpu, manifest["shards"]


def bench_workers(recipe: Recipe, out: Path, n: int) -> dict[str, float]:
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        start = time.perf_counter()
        client.run(lambda r: cached_engine(r) and None, recipe)  # build every worker's engine
        startup = time.perf_counter() - start
        before = client.run(time.process_time)
        seconds, _, shards = timed_run(recipe, out, DaskExecutor(scheduler=cluster.scheduler_address,
                                                                 say=lambda _: None))
        cpu = sum(client.run(time.process_time)[w] - before[w] for w in before)
    return {"startup_s": startup, "seconds": seconds, "worker_cpu_s": cpu, "shards": shards}


def _spin(n: int = 20_000_000) -> float:
    start = time.perf_counter()
    x = 0
    for i in range(n):
        x += i
    return time.perf_counter() - start


def machine_ratio(n: int) -> float:
    """How much faster n plain Python processes get through n equal loops than one does, now."""
    import multiprocessing

    one = _spin()
    with multiprocessing.get_context("spawn").Pool(n) as pool:
        pool.map(_spin, [1] * n)  # wait for the processes to start
        start = time.perf_counter()
        pool.map(_spin, [20_000_000] * n)
        return n * one / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=256)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--n-envs", type=int, default=16)
    parser.add_argument("--shard-size", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    recipe = bench_recipe(args.episodes, args.steps, args.n_envs, args.shard_size)
    n_shards = -(-args.episodes // args.shard_size)

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        cached_engine(recipe)
        serial_startup = time.perf_counter() - start
        seconds, cpu, reference = timed_run(recipe, Path(tmp) / "serial")
        results["serial"] = {"startup_s": serial_startup, "seconds": seconds, "worker_cpu_s": cpu}
        for n in args.workers:
            r = bench_workers(recipe, Path(tmp) / f"w{n}", n)
            shards = r.pop("shards")
            if shards != reference:
                bad = [f["path"] for s, ref in zip(shards, reference, strict=True)
                       for f, g in zip(s["files"], ref["files"], strict=True) if f != g]
                raise SystemExit(f"{n} workers wrote other shards than the serial run: {bad[:5]}")
            results[f"{n} workers"] = r
    for r in results.values():
        r["episodes_per_s"] = args.episodes / r["seconds"]

    print(f"{args.episodes} episodes × {args.steps} steps, n_envs {args.n_envs}, {n_shards} shards of "
          f"{args.shard_size}; engines built before timing")
    print(f"{'mode':<12} {'start-up s':>10} {'run s':>8} {'episodes/s':>11} {'vs 1 worker':>12} "
          f"{'CPU ms/episode':>15} {'cores used':>11}")
    one = results.get("1 workers", {}).get("episodes_per_s")
    for mode, r in results.items():
        ratio = f"{r['episodes_per_s'] / one:.2f}x" if one else ""
        print(f"{mode:<12} {r['startup_s']:>10.1f} {r['seconds']:>8.2f} {r['episodes_per_s']:>11.1f} {ratio:>12} "
              f"{1000 * r['worker_cpu_s'] / args.episodes:>15.1f} {r['worker_cpu_s'] / r['seconds']:>11.2f}")
    for n in args.workers[1:]:
        print(f"this machine now: {n} plain Python processes give {machine_ratio(n):.2f}x the throughput of one")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"load average now: {load} (other processes take cores too)")
    if "1 workers" in results:
        overhead = (results["1 workers"]["seconds"] - results["serial"]["seconds"]) / n_shards
        results["dask_overhead_per_shard_s"] = overhead
        print(f"dask overhead per shard (1 worker vs serial): {overhead * 1000:.0f} ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
