"""What meshes cost: decomposing a file once (then the cache), and stepping mesh bodies on each engine.

    .venv/bin/python benchmarks/bench_meshes.py [--quick] [--threshold 0.1] [--episodes 64] [--steps 250]
                                                [--engines mujoco,genesis]

Decomposition: CoACD on Genesis' 42k-vertex bunny into an empty cache (a fresh `$XDG_CACHE_HOME`),
then the same call in a fresh process state (the cache read). Stepping: each engine adapter's
`run_batch` (MuJoCo on one thread; Genesis one batched scene of `--episodes` envs, built and warmed
before timing), `--episodes` episodes of a body dropped from 0.2 m and pushed at 3/5 of the steps, as
a 0.1 m box primitive (the bare engine's own shape, the baseline), the same cube as a mesh (its hull), the
bunny's hull, the decomposed bunny and a generated mug (41 parts); env-steps per CPU second (the
machine may be shared: CPU seconds move less than wall seconds between runs). `--quick`: 16
episodes of 100 steps, a coarser decomposition (threshold 0.2).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

BUNNY = "genesis:assets/meshes/bunny.obj"


ENGINES = {"mujoco": "{type: mujoco, threads: 1}", "genesis": "genesis"}


def recipe_text(shape: str, weight: str, episodes: int, steps: int, engine: str) -> str:
    return f"""\
name: bench_meshes
engine: {engine}
seed: 1
episodes: {episodes}
steps: {steps}
dt: 0.004
n_envs: {episodes}
scene:
  objects:
    - name: body
      shape: {shape}
      {weight}
      pos: [0, 0, 0.2]
      euler: [{{type: uniform, low: 0, high: 360}}, {{type: uniform, low: 0, high: 360}}, 0]
actions:
  - {{type: random_push, object: body, step: {steps * 3 // 5}, impulse: 0.3}}
"""


def decompose(threshold: float) -> None:
    from factory.meshes import Decomposition, mesh_asset, resolve
    from factory.meshes import asset as asset_module

    settings = Decomposition(threshold=threshold)
    for label in ("cold", "cached"):
        asset_module._unscaled.cache_clear()
        start = time.perf_counter()
        asset = mesh_asset(resolve(BUNNY), 0.1, settings)
        print(f"decompose bunny ({label}): {time.perf_counter() - start:.2f} s, {len(asset.parts)} parts")


def step(episodes: int, steps: int, threshold: float, folder: Path, engines: list[str]) -> None:
    import trimesh

    from engines import load_engine
    from factory.contract.sampling import sample_episode
    from factory.recipe.loader import parse_recipe

    trimesh.creation.box([0.1, 0.1, 0.1]).export(folder / "cube.obj")
    cases = {
        "box primitive": ("{type: box, size: [0.1, 0.1, 0.1]}", "mass: 1"),
        "cube mesh (hull)": ("{type: mesh, file: cube.obj}", "density: 1000"),
        "bunny hull": (f"{{type: mesh, file: '{BUNNY}', scale: 0.1}}", "density: 500"),
        "bunny decomposed": (f"{{type: mesh, file: '{BUNNY}', scale: 0.1, collision: decompose, "
                             f"decompose: {{threshold: {threshold}}}}}", "density: 500"),
        "mug (generated)": ("{type: mug, radius: 0.04, height: 0.1, thickness: 0.005}", "density: 1200"),
    }
    print(f"| body | {' | '.join(f'{e} env-steps / CPU s | {e} contacts / episode' for e in engines)} |")
    print(f"|---|{'---:|---:|' * len(engines)}")
    for label, (shape, weight) in cases.items():
        cells = []
        for name in engines:
            recipe = parse_recipe(recipe_text(shape, weight, episodes, steps, ENGINES[name]), "bench", folder)
            engine = load_engine(name)(recipe)
            specs = [sample_episode(recipe, i) for i in range(episodes)]
            engine.run_batch(specs)  # build, compile and warm up
            start = time.process_time()
            rollouts = engine.run_batch(specs)
            cpu = time.process_time() - start
            engine.close()
            contacts = sum(len(r.contacts) for r in rollouts) / episodes
            cells += [f"{episodes * steps / cpu:,.0f}", f"{contacts:,.0f}"]
        print(f"| {label} | {' | '.join(cells)} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="16 episodes of 100 steps, threshold 0.2")
    parser.add_argument("--threshold", type=float, default=None, help="CoACD concavity threshold (default 0.1)")
    parser.add_argument("--episodes", type=int, default=None, help="default 64")
    parser.add_argument("--steps", type=int, default=None, help="default 250")
    parser.add_argument("--engines", default="mujoco,genesis", help="comma-separated engines to step")
    args = parser.parse_args()
    quick = {"threshold": 0.2, "episodes": 16, "steps": 100} if args.quick else {}
    threshold, episodes, steps = (getattr(args, k) or quick.get(k, full) for k, full in
                                  (("threshold", 0.1), ("episodes", 64), ("steps", 250)))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = tmp  # an empty decomposition cache
        decompose(threshold)
        step(episodes, steps, threshold, Path(tmp), args.engines.split(","))


if __name__ == "__main__":
    main()
