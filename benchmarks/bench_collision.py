"""Collision throughput and write speed, side by side with the bare alternatives.

    .venv/bin/python benchmarks/bench_collision.py [--envs 1 64 256] [--repeat 5]

1. `factory` against `bare`, per n_envs, on the very same built scene and batch size in the same
   process (each n_envs runs in its own process so its peak RSS is its own). `factory` is the
   runner's `simulate_shard` on one batch: per-episode sampling, the batched Genesis run with the
   checkpoint restore, initial states and state + contact reads, the quarantine screen and the
   labels; everything `factory run` does per shard except writing, which part 2 measures. `bare` is
   `scene.step()` with the same pushes from the same initial states, timed around the steps only
   (restoring the checkpoint and setting the initial states are left out of it, so the ratio errs
   against the factory). Best of `--repeat` interleaved batches each, after one warm-up batch each
   (kernel compilation); scene build (kernel cache warm) is reported apart. `with writes` adds
   the best time of writing that batch as a shard in the recipe's formats (Parquet + HDF5, with
   checksums), which `factory run` does after simulating, in the same process.
2. Parquet / HDF5 shard writes against a plain `pyarrow.parquet.write_table` of the same table.
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


def one(n_envs: int, repeat: int) -> dict:
    """Runs in a child process: factory vs bare stepping at one batch size."""
    from factory.engine_cache import cached_engine
    from factory.plan import Shard
    from factory.recipe import Recipe
    from factory.recipe_loader import load_recipe
    from factory.runner import simulate_shard, write_shard
    from factory.sampling import sample_episode

    recipe = load_recipe(RECIPE)
    recipe = Recipe.model_validate(recipe.model_dump() | {"n_envs": n_envs})
    t0 = time.perf_counter()
    engine, _ = cached_engine(recipe)  # built and opened: the engine `simulate_shard` runs on
    build_s = time.perf_counter() - t0

    shard = Shard(0, 0, n_envs)

    def factory_batch() -> list:
        records, _, used = simulate_shard(recipe, shard)
        assert used is engine and len(records) == n_envs
        return records

    scene = engine._built.scene
    solver = scene.sim.rigid_solver

    def bare_batch() -> None:
        """The same physics from the same initial states and pushes, with nothing read or labelled."""
        specs = [sample_episode(recipe, i) for i in range(n_envs)]
        scene.__setstate__(engine._pristine)
        engine._set_initial_state(specs)
        pushes = engine._push_schedule(specs)
        t = time.perf_counter()
        for step in range(recipe.steps):
            if step in pushes:
                solver.apply_links_external_wrench(force=pushes[step], links_idx=engine._movable_links)
            scene.step()
        return time.perf_counter() - t

    factory_batch()  # first call compiles the step kernels
    bare_batch()
    times = {"factory": [], "bare": [], "write": []}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(repeat):
            t = time.perf_counter()
            records = factory_batch()
            times["factory"].append(time.perf_counter() - t)
            t = time.perf_counter()
            write_shard(Path(tmp) / str(k), shard, records, engine.layout, recipe.outputs.formats)
            times["write"].append(time.perf_counter() - t)
            times["bare"].append(bare_batch())  # stepping only: setup is not the engine's stepping
    env_steps = n_envs * recipe.steps
    best = {k: min(v) for k, v in times.items()}
    return {
        "n_envs": n_envs, "build_s": build_s,
        "factory_env_steps_s": env_steps / best["factory"], "bare_env_steps_s": env_steps / best["bare"],
        "with_writes_env_steps_s": env_steps / (best["factory"] + best["write"]),
        "factory_transitions_s": n_envs * recipe.recorded_steps / best["factory"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def writes(episodes: int = 512, transitions: int = 200) -> list[dict]:
    import numpy as np
    import pyarrow.parquet as pq

    from factory.rollout import Contacts, EpisodeRecord, Layout, Rollout
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
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.repeat)))
        return
    print(f"recipe: {RECIPE.relative_to(ROOT)} (3 bodies + table, 250 steps, record every 5th)\n")
    print("| n_envs | factory env-steps/s | bare env-steps/s | factory / bare | transitions/s "
          "| with writes / bare | build s | peak RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.envs:
        proc = subprocess.run([sys.executable, __file__, "--one", str(n), "--repeat", str(args.repeat)],
                              capture_output=True, text=True, check=True)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"| {n} | {r['factory_env_steps_s']:,.0f} | {r['bare_env_steps_s']:,.0f} | "
              f"{r['factory_env_steps_s'] / r['bare_env_steps_s']:.0%} | {r['factory_transitions_s']:,.0f} | "
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
