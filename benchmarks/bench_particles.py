"""Fluid and cloth throughput and write speed, side by side with bare stepping and plain pyarrow.

    .venv/bin/python benchmarks/bench_particles.py [--repeat 2] [--n-envs 2 8 32] [--threads 1 2]
        [--steps 50] [--recipes cloth/drape.yaml ...] [--fast-math 0 1]

`--steps N` shortens every episode to N steps (an action that would run past N ends there).

Per recipe, n_envs and thread count (each in its own process: `QD_NUM_THREADS` must be set before
Genesis is imported, and peak RSS is then its own): the factory path (placement, movers, point
recording, labels; a robot's policy and IK) against bare `scene.step()` of the same built scene with
the same placement and movers (a robot replaying the factory's recorded joint targets), in
env-steps/s and particle-substeps/s (particles per env × substeps × env-steps); then the Parquet /
HDF5 shard writes of the episodes it produced against a plain `pyarrow.parquet.write_table` of the
same transitions table. `--fast-math 0 1` prices the factory's
choice to compile Genesis without fast math (`FACTORY_GENESIS_FAST_MATH`, see README).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RECIPES = ["fluid/dam_break.yaml", "fluid/pour.yaml", "robot/pour.yaml", "cloth/drape.yaml", "cloth/corner_pull.yaml"]


def one(path: str, repeat: int, n_envs: int, steps: int | None) -> dict:
    import numpy as np
    import pyarrow.parquet as pq

    from engines.genesis import GenesisEngine
    from engines.genesis.engine import _restore
    from engines.genesis.particles import substeps
    from factory.contract.sampling import sample_episode, scene_draws
    from factory.labels import label_context, label_rollout
    from factory.recipe.loader import load_recipe
    from factory.recipe.scene_fields import pin_scene
    from factory.storage import writer_for
    from factory.storage.base import transitions_table

    shipped = load_recipe(ROOT / "recipes" / path)
    shipped = shipped.model_copy(update={"n_envs": n_envs} | ({"steps": steps} if steps else {}))
    if steps:  # a shortened episode ends the actions that would run past it at its last step
        shipped = shipped.model_copy(update={"actions": [
            a.model_copy(update={"start": min(a.start, steps - 1),
                                 "stop": None if a.stop is None else min(a.stop, steps)})
            for a in shipped.actions]})
    recipe = pin_scene(shipped, scene_draws(shipped, 0))  # one scene variant: what one engine runs
    engine = GenesisEngine(recipe)
    t0 = time.perf_counter()
    engine.open()
    build_s = time.perf_counter() - t0
    ctx = label_context(recipe, engine.layout)
    specs = [sample_episode(recipe, i) for i in range(recipe.n_envs)]
    scene, points = engine._built.scene, engine._points

    def factory_batch():
        return [label_rollout(r, s.params, ctx) for s, r in zip(specs, engine.run_batch(specs), strict=True)]

    def bare_batch(records) -> float:
        """The same placement and movers; a robot replays the factory's recorded joint targets (no policy or IK)."""
        _restore(scene, engine._pristine)
        engine._set_initial_state(specs)
        points.start(specs)
        robots, carry = engine._robots, engine._carry
        if robots is not None:
            robots.start(specs)
        if carry is not None:
            carry.start(specs)
        velocities = np.stack([s.velocities for s in specs])
        actions = np.stack([r.rollout.actions for r in records])  # (B, T, n_actions): joint targets, robot by robot
        every = recipe.outputs.record_every
        t = time.perf_counter()
        for step in range(recipe.steps):
            if robots is not None and step % every == 0:
                start = 0
                for part in robots.parts:
                    n = len(part.recipe.action_names)
                    robots._control(part, actions[:, step // every, start:start + len(part.actuated)],
                                    np.ones(len(specs)))
                    start += n
            points.before_step(step, velocities[:, step], carry.poses() if carry is not None else None)
            scene.step()
        return time.perf_counter() - t

    records = factory_batch()  # compiles the step kernels
    bare_batch(records)
    times = {"factory": [], "bare": []}
    for _ in range(repeat):
        t = time.perf_counter()
        records = factory_batch()
        times["factory"].append(time.perf_counter() - t)
        times["bare"].append(bare_batch(records))
    env_steps = recipe.n_envs * recipe.steps
    best = {k: min(v) for k, v in times.items()}
    table = transitions_table(records, engine.layout)
    mb = table.nbytes / 1e6
    writes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in (("plain", lambda d: pq.write_table(table, d / "plain.parquet")),
                         ("parquet", lambda d: writer_for("parquet").write_shard(d, 0, records, engine.layout)),
                         ("hdf5", lambda d: writer_for("hdf5").write_shard(d, 0, records, engine.layout))):
            d = Path(tmp) / name
            d.mkdir()
            t = time.perf_counter()
            fn(d)
            writes[name] = mb / (time.perf_counter() - t)
    per_env_step = engine._built.points.n_particles * substeps(recipe)
    return {"recipe": path, "points": engine.layout.n_points, "particles": engine._built.points.n_particles,
            "n_envs": recipe.n_envs, "build_s": build_s, "threads": os.environ.get("QD_NUM_THREADS", "1"),
            "factory": env_steps / best["factory"], "bare": env_steps / best["bare"],
            "particle_substeps": per_env_step * env_steps / best["bare"],
            "transitions_s": recipe.n_envs * recipe.recorded_steps / best["factory"], "mb": mb,
            "writes": writes, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--n-envs", type=int, nargs="+", default=[2, 8, 32])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, help="steps per episode (default: the recipe's)")
    parser.add_argument("--recipes", nargs="+", default=RECIPES)
    parser.add_argument("--fast-math", type=int, nargs="+", default=[0], choices=[0, 1])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.repeat, args.n_envs[0], args.steps)))
        return
    print("| recipe | particles/env | n_envs | threads | fast math | factory env-steps/s | bare env-steps/s "
          "| factory / bare | bare M particle-substeps/s | MB/batch | parquet MB/s | hdf5 MB/s | plain pyarrow MB/s "
          "| peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for path in args.recipes:
        for n_envs in args.n_envs:
            for threads, fast in [(t, f) for t in args.threads for f in args.fast_math]:
                cmd = [sys.executable, __file__, "--one", path, "--repeat", str(args.repeat), "--n-envs", str(n_envs)]
                env = os.environ | {"QD_NUM_THREADS": str(threads), "FACTORY_GENESIS_FAST_MATH": str(fast)}
                proc = subprocess.run(cmd + (["--steps", str(args.steps)] if args.steps else []), capture_output=True,
                                      text=True, env=env)
                if proc.returncode:
                    sys.exit(f"{path} at n_envs {n_envs}, {threads} threads failed:\n{proc.stderr[-3000:]}")
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                w = r["writes"]
                print(f"| {path} | {r['particles']} | {n_envs} | {threads} | {'on' if fast else 'off'} "
                      f"| {r['factory']:,.1f} | {r['bare']:,.1f} | {r['factory'] / r['bare']:.0%} "
                      f"| {r['particle_substeps'] / 1e6:.2f} | {r['mb']:.1f} | "
                      f"{w['parquet']:,.0f} | {w['hdf5']:,.0f} | {w['plain']:,.0f} | {r['rss']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
