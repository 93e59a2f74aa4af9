"""What meshes cost: decomposing a file once (then the cache), and stepping mesh bodies on MuJoCo.

    .venv/bin/python benchmarks/bench_meshes.py [--threshold 0.1] [--episodes 64] [--steps 250]

Decomposition: CoACD on Genesis' 42k-vertex bunny into an empty cache (a fresh `$XDG_CACHE_HOME`),
then the same call in a fresh process state (the cache read). Stepping: the MuJoCo adapter's
`run_batch` on one thread, `--episodes` episodes of a body dropped from 0.2 m and pushed, as a
0.1 m box primitive, the same cube as a mesh (its hull), the bunny's hull, the decomposed bunny
and a generated mug (41 parts); env-steps per CPU second (the machine may be shared: CPU seconds
move less than wall seconds between runs).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

BUNNY = "genesis:assets/meshes/bunny.obj"


def recipe_text(shape: str, weight: str, episodes: int, steps: int) -> str:
    return f"""\
name: bench_meshes
engine: {{type: mujoco, threads: 1}}
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
  - {{type: random_push, object: body, step: 150, impulse: 0.3}}
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


def step(episodes: int, steps: int, threshold: float, folder: Path) -> None:
    import trimesh

    from engines.mujoco import MuJoCoEngine
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
    for label, (shape, weight) in cases.items():
        recipe = parse_recipe(recipe_text(shape, weight, episodes, steps), "bench", folder)
        engine = MuJoCoEngine(recipe)
        specs = [sample_episode(recipe, i) for i in range(episodes)]
        engine.run_batch(specs[:1])  # compile and warm up
        start = time.process_time()
        rollouts = engine.run_batch(specs)
        cpu = time.process_time() - start
        engine.close()
        contacts = sum(len(r.contacts) for r in rollouts) / episodes
        print(f"{label:18s} {episodes * steps / cpu:10,.0f} env-steps/CPU s   {contacts:6.0f} contacts/episode")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threshold", type=float, default=0.1, help="CoACD concavity threshold")
    parser.add_argument("--episodes", type=int, default=64)
    parser.add_argument("--steps", type=int, default=250)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = tmp  # an empty decomposition cache
        decompose(args.threshold)
        step(args.episodes, args.steps, args.threshold, Path(tmp))


if __name__ == "__main__":
    main()
