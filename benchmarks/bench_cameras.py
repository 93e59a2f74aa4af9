"""Cameras on MuJoCo or Genesis: frames per second per stream and resolution, and a whole run's slowdown.

    .venv/bin/python benchmarks/bench_cameras.py [--engine mujoco|genesis] [--episodes 8] [--runs 2] [--quick]

`frames/s`: one episode's recorded states rendered by one camera of each stream alone at 64², 128² and
256², timed around the engine's own rendering pass only (its recorded states set into the engine,
render, read back), best of `--runs`: push_cube's Panda scene (151 states) on MuJoCo, push_target's
table (51 states) on Genesis, which films rigid scenes without robots. `run`: `factory.run` of the
first `--episodes` episodes into a fresh folder, without cameras and with one 128² camera of all three
streams every recorded state (both formats), best of `--runs`; the ratio is the slowdown (on Genesis
each run builds its scene, with cameras also the rasterizer's). The GL backend is the one the engine
picks without a GPU: OSMesa for MuJoCo, EGL on Mesa's llvmpipe (or OSMesa) for Genesis. `--quick`:
2 episodes, one run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RECIPES = {"mujoco": ROOT / "recipes" / "robot" / "push_cube.yaml",
           "genesis": ROOT / "recipes" / "collision" / "push_target.yaml"}
SIDE = {"name": "side", "position": [0.4, -1.2, 0.8], "look_at": [-0.1, 0.0, 0.2]}
SIDES, STREAMS = (64, 128, 256), ("rgb", "depth", "segmentation")


def _recipe(engine: str, episodes: int, cameras: list[dict]):
    from factory.recipe.cameras import Camera
    from factory.recipe.loader import load_recipe

    recipe = load_recipe(RECIPES[engine])
    return recipe.model_copy(update={"episodes": episodes, "n_envs": min(recipe.n_envs, episodes),
                                     "cameras": [Camera(**c) for c in cameras],
                                     "outputs": recipe.outputs.model_copy(update={"shard_size": episodes})})


def mujoco_rates(runs: int) -> dict[tuple[str, int], float]:
    """frames/s of each (stream, side), one engine per camera."""
    from engines.mujoco import MuJoCoEngine
    from factory.contract.sampling import sample_episodes

    rates = {}
    for stream in STREAMS:
        for side in SIDES:
            recipe = _recipe("mujoco", 1, [SIDE | {"resolution": [side, side], "streams": [stream]}])
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
            rates[stream, side] = len(rollout.states) / best
    return rates


def genesis_rates(runs: int) -> dict[tuple[str, int], float]:
    """frames/s of each (stream, side): one scene holds every camera (a Genesis build takes long), each
    timed alone over the episode's states (the objects set into env 0, then its shot)."""
    from engines.genesis import GenesisEngine
    from factory.contract.cameras import world_pose
    from factory.contract.sampling import sample_episodes

    cameras = [SIDE | {"name": f"{stream}_{side}", "resolution": [side, side], "streams": [stream]}
               for stream in STREAMS for side in SIDES]
    recipe = _recipe("genesis", 1, cameras)
    engine = GenesisEngine(recipe)
    try:
        spec = sample_episodes(recipe, [0])[0]
        rollout = engine.run_batch([spec])[0]  # also warms the renderer (OSMesa compiles its shaders)
        film, layout = engine._film, engine.layout
        assert film is not None
        pos = {o: layout.field(rollout.states, o, "pos") for o in layout.objects}
        quat = {o: layout.field(rollout.states, o, "quat") for o in layout.objects}
        rates = {}
        for k, camera in enumerate(cameras):
            best = float("inf")
            for _ in range(runs):
                t0 = time.perf_counter()
                for t in range(len(rollout.states)):
                    film._place(pos, quat, t)
                    film._shoot(k, world_pose(spec.cameras[k]))
                best = min(best, time.perf_counter() - t0)
            rates[camera["streams"][0], camera["resolution"][0]] = len(rollout.states) / best
    finally:
        engine.close()
    return rates


def whole_run(engine: str, episodes: int, cameras: list[dict], runs: int) -> float:
    from factory.generate.plain import PlainExecutor
    from factory.generate.runner import run

    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        run(_recipe(engine, episodes, cameras), tempfile.mkdtemp(prefix="bench_cameras_"), episodes=episodes,
            executor=PlainExecutor(lambda _: None))
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=sorted(RECIPES), default="mujoco")
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2 episodes, one run")
    args = parser.parse_args()
    if args.quick:
        args.episodes, args.runs = 2, 1
    rates = (genesis_rates if args.engine == "genesis" else mujoco_rates)(args.runs)
    if args.engine == "mujoco":
        from engines.gl import loaded_backend

        backend = loaded_backend()
    else:
        from engines.genesis.cameras import renderer

        backend = renderer()
    print(f"engine: {args.engine}, backend: {backend}")
    print(f"{'stream':<14}" + "".join(f"{f'{s}²':>10}" for s in SIDES) + "   frames/s")
    for stream in STREAMS:
        print(f"{stream:<14}" + "".join(f"{rates[stream, side]:>10.1f}" for side in SIDES))
    plain = whole_run(args.engine, args.episodes, [], args.runs)
    filmed = whole_run(args.engine, args.episodes, [SIDE | {"resolution": [128, 128], "streams": list(STREAMS)}],
                       args.runs)
    print(f"run of {args.episodes} episodes: {plain:.1f} s without cameras, {filmed:.1f} s with one 128² camera "
          f"of three streams every recorded state ({filmed / plain:.1f}×)")


if __name__ == "__main__":
    main()
