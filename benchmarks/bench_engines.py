"""Genesis (CPU) against MuJoCo: a whole `factory run` per recipe and core count, side by side, and bare MuJoCo.

    .venv/bin/python benchmarks/bench_engines.py [--recipes push_target head_on sliding_box]
        [--cores 1 2] [--episodes 256 2048] [--genesis-envs 256] [--skip-genesis]
        [--against OTHER_CHECKOUT] [--repeat N] [--formats parquet hdf5 parquet,hdf5]

Each (engine, recipe, cores) runs in its own child process pinned to that many cores
(`os.sched_setaffinity`; Genesis also gets `QD_NUM_THREADS`, MuJoCo one thread per core). A
child first runs one warm-up batch (Genesis: import, scene build, kernel compilation; MuJoCo: a
model compile), then times a whole `factory run` of `--episodes` episodes into a fresh folder with
the CLI's executor (`run_write_behind`: sampling, simulation, labels, quarantine screen, Parquet +
HDF5, checksums, receipts, manifest), once per `--episodes` count (a run of a few hundred
episodes lasts a second or two, so per-run costs weigh on it; thousands show the per-episode
rate). Both engines write the same shards: the recipe's `shard_size`, at least `--genesis-envs`
(one whole Genesis batch). Genesis runs at n_envs `--genesis-envs` (its best CPU
batch); MuJoCo at the recipe's n_envs (one `mujoco.rollout` call per batch). `bare` is
`mujoco.rollout` alone stepping the same episodes (same models, initial states and pushes) on the
same pinned cores and threads, timed around the call: the ceiling a factory run of MuJoCo is
measured against. `in engine` is the share of the whole run spent inside the engine's
`run_batch`, `engine vs bare` how close that comes to bare stepping (what the adapter costs;
the rest of a run is sampling, labels and writes, the same for every engine), and `CPU vs bare`
bare stepping's CPU seconds over the whole run's (every thread's): on a machine shared with other
jobs, wall-clock seconds of a one-second run move by tens of percent between runs, CPU seconds
much less. `--against` also runs the same MuJoCo child on another checkout's code (say `git
worktree add ../before main`), alternating with this one's, for before/after rows side by side;
`--repeat` runs every child N times and shows the fastest. env-steps/s = episodes × steps / s;
transitions/s = episodes × recorded steps / s. `--formats` runs each row once per list of formats
given (comma-separated: `parquet`, `hdf5`, `parquet,hdf5`) in place of the recipe's
`outputs.formats` (both), so one run prices one format alone; the files are the same as ever.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RECIPES = ROOT / "recipes" / "collision"


def _recipe(name: str, engine: str, episodes: int, genesis_envs: int, formats: list[str] | None = None):
    from factory.recipe.loader import load_recipe
    from factory.recipe.schema import Recipe

    recipe = load_recipe(RECIPES / f"{name}.yaml")
    n_envs = genesis_envs if engine == "genesis" else recipe.n_envs
    # both engines write the same shards: the recipe's, grown to hold one whole Genesis batch
    outputs = recipe.outputs.model_dump() | {"shard_size": max(recipe.outputs.shard_size, genesis_envs)}
    if formats:
        outputs["formats"] = formats
    return Recipe.model_validate(recipe.model_dump() | {"engine": {"type": engine}, "episodes": episodes,
                                                        "n_envs": n_envs, "outputs": outputs})


def child(engine: str, name: str, cores: int, episodes: int, genesis_envs: int, formats: list[str] | None = None
          ) -> dict:
    """Runs in a pinned child process: seconds of a whole run (and of bare MuJoCo stepping)."""
    from engines import load_engine
    from factory.generate.runner import run, run_write_behind

    recipe = _recipe(name, engine, episodes, genesis_envs, formats)
    cls = load_engine(engine)
    in_engine = [0.0]
    plain = cls.run_batch

    def timed_batch(self, specs):  # seconds inside the engine, of the whole run
        t = time.perf_counter()
        try:
            return plain(self, specs)
        finally:
            in_engine[0] += time.perf_counter() - t

    cls.run_batch = timed_batch
    with tempfile.TemporaryDirectory() as tmp:
        run(recipe, Path(tmp) / "warm", episodes=recipe.n_envs, executor=run_write_behind)
        in_engine[0] = 0.0
        t, cpu = time.perf_counter(), time.process_time()
        run(recipe, Path(tmp) / "timed", executor=run_write_behind)
        seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    out = {"seconds": seconds, "cpu_seconds": cpu, "engine_seconds": in_engine[0], "env_steps": episodes * recipe.steps,
           "transitions": episodes * recipe.recorded_steps}
    if engine == "mujoco":
        out["bare_seconds"], out["bare_cpu_seconds"] = bare_mujoco(recipe, cores)
    return out


def bare_mujoco(recipe, threads: int) -> tuple[float, float]:
    """Seconds and CPU seconds of `mujoco.rollout` alone stepping every episode (same models, initial
    states and pushes, `threads` threads, batches of n_envs), setting them up and reading nothing left out."""
    import mujoco

    from engines.mujoco.engine import MuJoCoEngine
    from factory.contract.sampling import sample_episode

    recipe = recipe.model_copy(update={"engine": recipe.engine.model_copy(update={"threads": threads})})
    engine = MuJoCoEngine(recipe)
    engine.open()
    setup, seconds, cpu = engine._setup, 0.0, 0.0
    for start in range(0, recipe.episodes, recipe.n_envs):
        specs = [sample_episode(recipe, i) for i in range(start, min(start + recipe.n_envs, recipe.episodes))]
        models = engine._models[:len(specs)]
        initial = setup.initial_states(models, specs)
        control = setup.controls(specs)
        t, c = time.perf_counter(), time.process_time()
        engine._pool.rollout(models, engine._datas, initial, control, nstep=recipe.steps,
                             control_spec=mujoco.mjtState.mjSTATE_XFRC_APPLIED)
        seconds, cpu = seconds + time.perf_counter() - t, cpu + time.process_time() - c
    engine.close()
    return seconds, cpu


def _spawn(engine: str, name: str, cores: int, episodes: int, formats: list[str] | None, args, code: Path = ROOT
           ) -> dict:
    """One child; `code`: the checkout whose factory and engines it runs (this benchmark's own child)."""
    env = os.environ | {"QD_NUM_THREADS": str(cores)}
    code = (f"import os, json, sys; os.sched_setaffinity(0, set(range({cores}))); sys.path.insert(0, {str(ROOT)!r}); "
            f"from benchmarks.bench_engines import child; sys.path.insert(0, {str(code)!r}); "
            f"print('RESULT', json.dumps(child({engine!r}, {name!r}, {cores}, {episodes}, {args.genesis_envs}, "
            f"{formats!r})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"{engine} {name} x{cores} failed:\n{proc.stderr[-3000:]}")
    return json.loads(line[7:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=["push_target", "head_on", "sliding_box"])
    parser.add_argument("--cores", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--episodes", nargs="+", type=int, default=[256, 2048])
    parser.add_argument("--genesis-envs", type=int, default=256)
    parser.add_argument("--skip-genesis", action="store_true")
    parser.add_argument("--against", type=Path, help="another checkout (say, a worktree of main): its MuJoCo "
                        "runs too, alternating with this one's, for before/after figures side by side")
    parser.add_argument("--repeat", type=int, default=1, help="runs per child; the fastest is shown")
    parser.add_argument("--formats", nargs="+", type=lambda s: s.split(","), default=[None],
                        help="formats to write instead of the recipe's, one row each: parquet hdf5 parquet,hdf5")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args()
    engines = ["mujoco"] + ([] if args.skip_genesis else ["genesis"])
    results = {}
    print(f"{'recipe':<12} {'episodes':>8} {'cores':>5} {'formats':<12} {'engine':<8} {'seconds':>8} "
          f"{'env-steps/s':>12} {'transitions/s':>14} {'vs genesis':>10} {'vs bare':>8} {'in engine':>9} "
          f"{'engine vs bare':>14} {'CPU vs bare':>11}")
    for episodes, name, cores, formats in itertools.product(args.episodes, args.recipes, args.cores, args.formats):
        runs: dict[str, list[dict]] = {}
        for _ in range(args.repeat):
            for e in engines + (["against"] if args.against else []):
                runs.setdefault(e, []).append(_spawn("mujoco" if e == "against" else e, name, cores, episodes, formats,
                                                     args, args.against if e == "against" else ROOT))
        row = {e: min(rs, key=lambda r: r["seconds"]) for e, rs in runs.items()}
        label = ",".join(formats) if formats else "recipe's"
        results[f"{name}/{episodes}/{cores}" + (f"/{label}" if formats else "")] = row
        g = row.get("genesis")
        for e in row:
            r = row[e]
            rate = r["env_steps"] / r["seconds"]
            vs_g = f"{g['seconds'] / r['seconds']:.2f}x" if g and e != "genesis" else ""
            vs_bare = f"{r['bare_seconds'] / r['seconds']:.2f}x" if "bare_seconds" in r else ""
            share = f"{r['engine_seconds'] / r['seconds']:.0%}" if "engine_seconds" in r else ""
            engine_bare = (f"{r['bare_seconds'] / r['engine_seconds']:.2f}x"
                           if "bare_seconds" in r and r.get("engine_seconds") else "")
            cpu_bare = f"{r['bare_cpu_seconds'] / r['cpu_seconds']:.2f}x" if "bare_cpu_seconds" in r else ""
            print(f"{name:<12} {episodes:>8} {cores:>5} {label:<12} {e:<8} {r['seconds']:>8.2f} {rate:>12,.0f} "
                  f"{r['transitions'] / r['seconds']:>14,.0f} {vs_g:>10} {vs_bare:>8} {share:>9} {engine_bare:>14} "
                  f"{cpu_bare:>11}")
        if "bare_seconds" in row["mujoco"]:
            r = row["mujoco"]
            print(f"{name:<12} {episodes:>8} {cores:>5} {label:<12} {'bare mj':<8} {r['bare_seconds']:>8.2f} "
                  f"{r['env_steps'] / r['bare_seconds']:>12,.0f}")
        sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
