"""Collision throughput and write speed, side by side with the bare alternatives.

    .venv/bin/python benchmarks/bench_collision.py [--envs 1 64 256] [--repeat 5] [--shards 4] [--runs 3]

1. The main ratio, issue #2's target: a whole `factory run` of `--shards` shards of n_envs episodes
   (n_envs 256, shard_size n_envs, Parquet + HDF5) into a fresh folder, timed from the call to the
   manifest: planning, lock, starting the helper process (`factory.generate.write_behind`), sampling,
   simulation, labels, quarantine screen, both formats written, checksums, receipts and manifest.
   Against `bare`: the same number of env-steps, `scene.step()` on the same built scene with the same
   pushes from the same initial states, timed around the steps only (restoring the checkpoint and
   setting the initial states are left out, so the ratio errs against the factory). `inline` is the
   same run with all of each shard in this process (`produce_shard`: what a dask worker does and what
   `factory run` did before). Best of `--runs` interleaved repetitions (run, inline, bare) each, and
   each repetition's ratio to its own bare stepping; after a warm-up batch (kernel compilation), in
   one process, with the scene built before timing.
2. Per batch size, `factory` against `bare` on the very same built scene and batch size (each
   n_envs in its own process so its peak RSS is its own). `factory` is the runner's
   `sample_shard`, `simulate_shard` and `label_shard` on one batch: per-episode sampling, the
   batched Genesis run with the checkpoint restore, initial states and state + contact reads, the
   quarantine screen and the labels. `simulate only` is `simulate_shard` alone, what `factory run`
   keeps in its main process. Best of `--repeat` interleaved batches each, after one warm-up batch
   each; scene build (kernel cache warm) reported apart. `inline writes / bare` adds the best time
   of writing that batch as a shard in this process (Parquet + HDF5, with checksums), no overlap.
3. Parquet / HDF5 shard writes against a plain `pyarrow.parquet.write_table` of the same table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RECIPE = ROOT / "recipes" / "collision" / "push_target.yaml"


def _engine(n_envs: int):
    """push_target at `n_envs` with shards of one batch, and its engine built (the one `factory run` uses)."""
    from factory.generate.engine_cache import cached_engine
    from factory.recipe.loader import load_recipe
    from factory.recipe.schema import Recipe

    recipe = load_recipe(RECIPE)
    outputs = recipe.outputs.model_dump() | {"shard_size": n_envs}
    recipe = Recipe.model_validate(recipe.model_dump() | {"n_envs": n_envs, "outputs": outputs})
    t0 = time.perf_counter()
    engine, _ = cached_engine(recipe)
    return recipe, engine, time.perf_counter() - t0


def _bare(recipe, engine):
    """Stepping the engine's scene through a batch of episodes, with nothing read or labelled: seconds of stepping."""
    from factory.contract.sampling import sample_episode

    scene = engine._built.scene
    solver = scene.sim.rigid_solver

    def batch(episodes: range) -> float:
        specs = [sample_episode(recipe, i) for i in episodes]
        scene.__setstate__(engine._pristine)
        engine._set_initial_state(specs)
        pushes = engine._push_schedule(specs)
        t = time.perf_counter()
        for step in range(recipe.steps):
            if step in pushes:
                solver.apply_links_external_wrench(force=pushes[step], links_idx=engine._movable_links)
            scene.step()
        return time.perf_counter() - t

    return batch


def whole_run(n_envs: int, shards: int, runs: int) -> dict:
    """Runs in a child process: seconds of `factory run` (helper process / inline) and bare stepping, per repetition."""
    from factory.generate.plan import Shard
    from factory.generate.runner import run, run_serially, run_write_behind
    from factory.generate.shard import sample_shard, simulate_shard
    from factory.recipe.schema import Recipe

    recipe, engine, _ = _engine(n_envs)
    recipe = Recipe.model_validate(recipe.model_dump() | {"episodes": shards * n_envs})
    bare = _bare(recipe, engine)
    warm_up = Shard(0, 0, n_envs)
    simulate_shard(recipe, warm_up, sample_shard(recipe, warm_up))  # first call compiles the step kernels
    bare(range(n_envs))

    times = {"run": [], "inline": [], "bare": []}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(runs):
            for name, executor in (("run", run_write_behind), ("inline", run_serially)):
                t = time.perf_counter()
                run(recipe, Path(tmp) / f"{name}{k}", executor=executor)
                times[name].append(time.perf_counter() - t)
            times["bare"].append(sum(bare(range(i * n_envs, (i + 1) * n_envs)) for i in range(shards)))
    return {"env_steps": shards * n_envs * recipe.steps, "seconds": times}


def one(n_envs: int, repeat: int) -> dict:
    """Runs in a child process: factory vs bare stepping at one batch size."""
    from factory.generate.plan import Shard
    from factory.generate.shard import (
        label_shard,
        sample_shard,
        simulate_shard,
        write_shard,
    )

    recipe, engine, build_s = _engine(n_envs)
    bare = _bare(recipe, engine)
    shard = Shard(0, 0, n_envs)

    def factory_batch() -> tuple[list, float]:
        """A batch's records, and the seconds of it spent in `simulate_shard` (what `factory run` keeps in
        its main process)."""
        specs = sample_shard(recipe, shard)
        t = time.perf_counter()
        simulated, used = simulate_shard(recipe, shard, specs)
        simulate_s = time.perf_counter() - t
        records, _ = label_shard(recipe, simulated)
        assert used is engine and len(records) == n_envs
        return records, simulate_s

    factory_batch()  # first call compiles the step kernels
    bare(range(n_envs))
    times = {"factory": [], "simulate": [], "bare": [], "write": []}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(repeat):
            t = time.perf_counter()
            records, simulate_s = factory_batch()
            times["factory"].append(time.perf_counter() - t)
            times["simulate"].append(simulate_s)
            t = time.perf_counter()
            write_shard(Path(tmp) / str(k), shard, records, engine.layout, recipe.outputs.formats)
            times["write"].append(time.perf_counter() - t)
            times["bare"].append(bare(range(n_envs)))  # stepping only: setup is not the engine's stepping
    env_steps = n_envs * recipe.steps
    best = {k: min(v) for k, v in times.items()}
    return {
        "n_envs": n_envs, "build_s": build_s,
        "factory_env_steps_s": env_steps / best["factory"], "bare_env_steps_s": env_steps / best["bare"],
        "simulate_env_steps_s": env_steps / best["simulate"],
        "with_writes_env_steps_s": env_steps / (best["factory"] + best["write"]),
        "factory_transitions_s": n_envs * recipe.recorded_steps / best["factory"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def writes(episodes: int = 512, transitions: int = 200) -> list[dict]:
    import numpy as np
    import pyarrow.parquet as pq

    from factory.contract.rollout import Contacts, EpisodeRecord, Layout, Rollout
    from factory.storage import writer_for
    from factory.storage.base import transitions_table

    layout = Layout(("ball", "target", "blocker"), ("ground", "ball", "target", "blocker"), 0.02)
    rng = np.random.default_rng(0)
    records = [EpisodeRecord(
        Rollout(i, rng.standard_normal((transitions + 1, layout.state_size), np.float32),
                rng.standard_normal((transitions, layout.action_size), np.float32), Contacts.empty()),
        {"ball.mass": 1.0}, {"n_contacts": np.zeros(transitions, np.int16)}, {"touched__ball__target": True})
        for i in range(episodes)]
    table = transitions_table(records, layout)
    mb = table.nbytes / 1e6
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in (
            ("pyarrow write_table (plain)", lambda d: pq.write_table(table, Path(d) / "plain.parquet")),
            ("factory parquet shard", lambda d: writer_for("parquet").write_shard(Path(d), 0, records, layout)),
            ("factory hdf5 shard", lambda d: writer_for("hdf5").write_shard(Path(d), 0, records, layout)),
        ):
            best = float("inf")
            for k in range(3):
                d = Path(tmp) / f"{name.split()[1]}{k}"
                d.mkdir()
                t = time.perf_counter()
                fn(d)
                best = min(best, time.perf_counter() - t)
            size = sum(p.stat().st_size for p in d.rglob("*") if p.is_file()) / 1e6
            rows.append({"writer": name, "mb_s": mb / best, "seconds": best, "file_mb": size})
    return rows, mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", type=int, nargs="+", default=[1, 64, 256])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.repeat)))
        return
    if args.run:
        print(json.dumps(whole_run(args.run, args.shards, args.runs)))
        return
    print(f"recipe: {RECIPE.relative_to(ROOT)} (3 bodies + table, 250 steps, record every 5th)\n")
    n = 256
    r = _child("--run", str(n), "--shards", str(args.shards), "--runs", str(args.runs))
    seconds = r["seconds"]
    best = {k: min(v) for k, v in seconds.items()}
    print(f"factory run: {args.shards} shards x {n} episodes, n_envs {n}, Parquet + HDF5, best of {args.runs}\n")
    print("| | env-steps/s | seconds | / bare | / bare, each repetition |")
    print("|---|---:|---:|---:|---|")
    for name, label in (("run", "`factory run`"), ("inline", "`factory run`, writes inline"),
                        ("bare", "bare stepping")):
        paired = ", ".join(f"{b / t:.0%}" for t, b in zip(seconds[name], seconds["bare"], strict=True))
        print(f"| {label} | {r['env_steps'] / best[name]:,.0f} | {best[name]:.1f} | {best['bare'] / best[name]:.0%} "
              f"| {paired} |", flush=True)
    print("\n| n_envs | factory env-steps/s | bare env-steps/s | factory / bare | simulate only / bare "
          "| transitions/s | inline writes / bare | build s | peak RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.envs:
        r = _child("--one", str(n), "--repeat", str(args.repeat))
        print(f"| {n} | {r['factory_env_steps_s']:,.0f} | {r['bare_env_steps_s']:,.0f} | "
              f"{r['factory_env_steps_s'] / r['bare_env_steps_s']:.0%} | "
              f"{r['simulate_env_steps_s'] / r['bare_env_steps_s']:.0%} | {r['factory_transitions_s']:,.0f} | "
              f"{r['with_writes_env_steps_s'] / r['bare_env_steps_s']:.0%} | "
              f"{r['build_s']:.1f} | {r['peak_rss_mb']:,.0f} |", flush=True)
    rows, mb = writes()
    print(f"\nwrites: 512 episodes x 200 transitions ({mb:.0f} MB in memory)\n")
    print("| writer | MB/s | seconds | on disk MB |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['writer']} | {r['mb_s']:,.0f} | {r['seconds']:.2f} | {r['file_mb']:.1f} |")


if __name__ == "__main__":
    main()
