"""push_cube on MuJoCo: a whole `factory run` against bare stepping of the same model with the same controls.

    .venv/bin/python benchmarks/bench_robot.py [--episodes 32] [--runs 3]

`run`: `factory.run` of push_cube's first N episodes (one shard, Parquet + HDF5, the plain executor
`factory run` uses) into a fresh folder, timed from the call to the manifest: sampling, the closed
loop (policy, IK, noise) and stepping, labels, both formats, checksums and manifest. `simulate`: the
engine's `run_batch` alone over the same episodes. `bare`: the joint targets that run recorded,
replayed on the same configured models from the same initial states with `mj_step` for `record_every`
steps per target and nothing else (no policy, IK, state reads, contacts, labels or writes), timed
around the steps, on one thread. Best of `--runs` interleaved repetitions, with the engine's episodes on
1 and 2 threads (`engine.threads`). Genesis refuses robot recipes for now: no Genesis column yet.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import mujoco
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RECIPE = ROOT / "recipes" / "robot" / "push_cube.yaml"


def _recipe(episodes: int, threads: int):
    from factory.recipe.loader import load_recipe

    recipe = load_recipe(RECIPE)
    return recipe.model_copy(update={"outputs": recipe.outputs.model_copy(update={"shard_size": episodes}),
                                     "engine": recipe.engine.model_copy(update={"threads": threads})})


def whole_run(recipe, episodes: int) -> tuple[float, str]:
    from factory.generate.plain import PlainExecutor
    from factory.generate.runner import run

    out = tempfile.mkdtemp(prefix="bench_robot_")
    t = time.perf_counter()
    run(recipe, out, episodes=episodes, executor=PlainExecutor(lambda _: None))
    return time.perf_counter() - t, out


def simulate(engine, specs) -> float:
    t = time.perf_counter()
    for k in range(0, len(specs), engine.recipe.n_envs):
        engine.run_batch(specs[k:k + engine.recipe.n_envs])
    return time.perf_counter() - t


def bare(engine, specs, actions: list[np.ndarray]) -> float:
    """The recorded joint targets replayed on the configured models: seconds of `mj_step` only."""
    setup, part, every = engine._setup, engine._robots.robots[0], engine.recipe.outputs.record_every
    model = engine._models[0]
    data = mujoco.MjData(model)
    seconds = 0.0
    for spec, acts in zip(specs, actions, strict=True):
        state = setup.initial_states([model], [spec])[0]
        mujoco.mj_setState(model, data, state, mujoco.mjtState.mjSTATE_FULLPHYSICS)
        data.qpos[part.qadr] = [spec.robots[0].initial.get(j, 0.0) for j in part.block.joints]
        t = time.perf_counter()
        for a in acts:
            data.ctrl[part.actuators] = a[:len(part.actuators)]
            mujoco.mj_step(model, data, nstep=every)
        seconds += time.perf_counter() - t
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import factory
    from engines.mujoco.engine import MuJoCoEngine
    from factory.contract.sampling import sample_episodes

    rows = []
    for threads in (1, 2):
        recipe = _recipe(args.episodes, threads)
        engine = MuJoCoEngine(recipe)
        engine.open()
        specs = sample_episodes(recipe, list(range(args.episodes)))
        best = {"run": np.inf, "simulate": np.inf, "bare": np.inf}
        for _ in range(args.runs):
            seconds, out = whole_run(recipe, args.episodes)
            best["run"] = min(best["run"], seconds)
            ds = factory.open_dataset(out)
            actions = [ds.episode(i).actions for i in range(args.episodes)]
            best["simulate"] = min(best["simulate"], simulate(engine, specs))
            best["bare"] = min(best["bare"], bare(engine, specs, actions))
        engine.close()
        rows += [(threads, name, seconds) for name, seconds in best.items()]
    steps = args.episodes * recipe.steps
    print(f"push_cube on MuJoCo {mujoco.__version__}, {args.episodes} episodes x {recipe.steps} steps, "
          f"best of {args.runs}; bare is one thread")
    print(f"{'threads':>7} {'':10} {'seconds':>8} {'env-steps/s':>12} {'vs bare':>8}")
    bare_s = {t: s for t, name, s in rows if name == "bare"}
    for threads, name, seconds in rows:
        print(f"{threads:7} {name:10} {seconds:8.2f} {steps / seconds:12,.0f} {bare_s[threads] / seconds:8.2f}")


if __name__ == "__main__":
    main()
