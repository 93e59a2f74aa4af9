"""push_cube on MuJoCo and Genesis: whole `factory run`s against bare stepping of the same model with the same controls.

    .venv/bin/python benchmarks/bench_robot.py [--episodes 32] [--runs 3] [--quick]

`run`: `factory.run` of push_cube's first N episodes (one shard, Parquet + HDF5, the plain executor
`factory run` uses) into a fresh folder, timed from the call to the manifest: sampling, the closed
loop (policy, IK, noise) and stepping, labels, both formats, checksums and manifest. `simulate`: the
engine's `run_batch` alone over the same episodes. `bare`: the joint targets that run recorded,
replayed on the same configured models from the same initial states with `mj_step` for `record_every`
steps per target and nothing else (no policy, IK, state reads, contacts, labels or writes), timed
around the steps, on one thread. Best of `--runs` interleaved repetitions, with the engine's episodes on
1 and 2 threads (`engine.threads`). Then the same `run` and `simulate` on Genesis (CPU backend, the
recipe's n_envs as one batched scene; its run includes building that scene, as MuJoCo's includes
compiling its model, but not importing and initialising Genesis, a fixed cost per process), and the
ratio of the two whole runs (issue 29's target: MuJoCo ≥ 3× Genesis).
`--quick`: 8 episodes, one run.
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


def _recipe(episodes: int, engine: dict):
    from factory.recipe.loader import load_recipe
    from factory.recipe.schema import Recipe

    recipe = load_recipe(RECIPE)
    data = recipe.model_dump(mode="json") | {"engine": engine}
    data["outputs"]["shard_size"] = episodes
    return Recipe.model_validate(data)


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
    parser.add_argument("--quick", action="store_true", help="8 episodes, one run")
    args = parser.parse_args()
    if args.quick:
        args.episodes, args.runs = 8, 1

    import factory
    from engines.mujoco.engine import MuJoCoEngine
    from factory.contract.sampling import sample_episodes

    rows = []
    for threads in (1, 2):
        recipe = _recipe(args.episodes, {"type": "mujoco", "threads": threads})
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
        rows += [(f"mujoco {threads}", name, seconds) for name, seconds in best.items()]
    rows += genesis_rows(args.episodes, args.runs)
    steps = args.episodes * recipe.steps
    print(f"push_cube on MuJoCo {mujoco.__version__} and Genesis {_genesis_version()} (CPU), {args.episodes} episodes "
          f"x {recipe.steps} steps, best of {args.runs}; bare is MuJoCo on one thread")
    print(f"{'engine':>10} {'':10} {'seconds':>8} {'env-steps/s':>12} {'vs bare':>8}")
    bare_s = {e: s for e, name, s in rows if name == "bare"}
    for label, name, seconds in rows:
        ratio = f"{bare_s[label] / seconds:8.2f}" if label in bare_s else f"{'-':>8}"
        print(f"{label:>10} {name:10} {seconds:8.2f} {steps / seconds:12,.0f} {ratio}")
    runs = {e: s for e, name, s in rows if name == "run"}
    for label in ("mujoco 1", "mujoco 2"):
        print(f"whole run, Genesis / {label}: {runs['genesis'] / runs[label]:.1f}x (target >= 3)")


def genesis_rows(episodes: int, runs: int) -> list[tuple[str, str, float]]:
    """The whole run and the simulation alone on Genesis' CPU backend."""
    from engines.genesis.engine import GenesisEngine
    from factory.contract.sampling import sample_episodes

    recipe = _recipe(episodes, {"type": "genesis", "backend": "cpu"})
    best = {"run": np.inf, "simulate": np.inf}
    for _ in range(runs):  # simulate first: `import genesis` and `gs.init` (once a process) stay out of the run
        engine = GenesisEngine(recipe)
        engine.open()
        best["simulate"] = min(best["simulate"], simulate(engine, sample_episodes(recipe, list(range(episodes)))))
        engine.close()
        best["run"] = min(best["run"], whole_run(recipe, episodes)[0])
    return [("genesis", name, seconds) for name, seconds in best.items()]


def _genesis_version() -> str:
    import genesis

    return genesis.__version__


if __name__ == "__main__":
    main()
