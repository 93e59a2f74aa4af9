"""Cameras on MuJoCo: frames per second per stream and resolution, and a whole run's slowdown.

    .venv/bin/python benchmarks/bench_cameras.py [--episodes 8] [--runs 2] [--quick]

`frames/s`: push_cube's first episode (the Panda scene, 101 recorded states) rendered by one camera
of each stream alone at 64², 128² and 256², timed around the engine's rendering pass only (its
recorded states set into a data, kinematics, render, read back), best of `--runs`. `run`: `factory.run`
of the first `--episodes` episodes into a fresh folder, without cameras and with one 128² camera of all
three streams every recorded state (both formats), best of `--runs`; the ratio is the slowdown.
`--quick`: 2 episodes, one run.
The GL backend is the one the engine picks (`engines.mujoco.gl`): OSMesa on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RECIPE = ROOT / "recipes" / "robot" / "push_cube.yaml"
SIDE = {"name": "side", "position": [0.4, -1.2, 0.8], "look_at": [-0.1, 0.0, 0.2]}


def _recipe(episodes: int, cameras: list[dict]):
    from factory.recipe.cameras import Camera
    from factory.recipe.loader import load_recipe

    recipe = load_recipe(RECIPE)
    return recipe.model_copy(update={"episodes": episodes, "cameras": [Camera(**c) for c in cameras],
                                     "outputs": recipe.outputs.model_copy(update={"shard_size": episodes})})


def frames_per_second(side: int, stream: str, runs: int) -> float:
    from engines.mujoco import MuJoCoEngine
    from factory.contract.sampling import sample_episodes

    recipe = _recipe(1, [SIDE | {"resolution": [side, side], "streams": [stream]}])
    engine = MuJoCoEngine(recipe)
    try:
        spec = sample_episodes(recipe, [0])[0]
        rollout = engine.run_batch([spec])[0]
        best = float("inf")
        for _ in range(runs):
            t = time.perf_counter()
            engine._rig.film(engine._models[0], rollout, spec)
            best = min(best, time.perf_counter() - t)
    finally:
        engine.close()
    return len(rollout.states) / best


def whole_run(episodes: int, cameras: list[dict], runs: int) -> float:
    from factory.generate.plain import PlainExecutor
    from factory.generate.runner import run

    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        run(_recipe(episodes, cameras), tempfile.mkdtemp(prefix="bench_cameras_"), episodes=episodes,
            executor=PlainExecutor(lambda _: None))
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2 episodes, one run")
    args = parser.parse_args()
    if args.quick:
        args.episodes, args.runs = 2, 1
    from engines.mujoco.gl import loaded_backend

    print(f"backend: {loaded_backend()}")
    print(f"{'stream':<14}" + "".join(f"{f'{s}²':>10}" for s in (64, 128, 256)) + "   frames/s")
    for stream in ("rgb", "depth", "segmentation"):
        rates = [frames_per_second(side, stream, args.runs) for side in (64, 128, 256)]
        print(f"{stream:<14}" + "".join(f"{r:>10.1f}" for r in rates))
    plain = whole_run(args.episodes, [], args.runs)
    filmed = whole_run(args.episodes, [SIDE | {"resolution": [128, 128],
                                               "streams": ["rgb", "depth", "segmentation"]}], args.runs)
    print(f"run of {args.episodes} episodes: {plain:.1f} s without cameras, {filmed:.1f} s with one 128² camera "
          f"of three streams every recorded state ({filmed / plain:.1f}×)")


if __name__ == "__main__":
    main()
