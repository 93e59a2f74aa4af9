"""How much a shipped pour recipe's cup (or mug) pours at a few tilts, and whether anything leaks.

    .venv/bin/python benchmarks/pour_tilts.py [--steps 400] [--recipe pour|pour_mug]

One batch of the recipe's scene (its first scene variant, for drawn mug sizes) with one env per tilt
(angular velocity, largest angle), each env's velocities set by hand instead of drawn; prints the pour
labels, the cup's angle at the first outflow, particles first seen out of the cavity below the rim
(leaks), and the batch's wall time.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engines.genesis.engine import GenesisEngine  # noqa: E402
from factory.contract.sampling import sample_episode  # noqa: E402
from factory.labels import label_context, label_rollout  # noqa: E402
from factory.recipe.containers import (  # noqa: E402
    LIP_AXES,
    CupShape,
    Tilt,
    container_cavity,
    in_cavity_frame,
    rotation_matrices,
    tilt_schedule,
)
from factory.recipe.generated import MugShape  # noqa: E402
from factory.recipe.loader import load_recipe  # noqa: E402
from factory.recipe.scene_fields import episode_scene  # noqa: E402
from factory.recipe.schema import Recipe  # noqa: E402

TILTS = [(0.0, 180.0), (1.0, 30.0), (1.0, 60.0), (2.0, 90.0), (2.0, 110.0), (4.0, 135.0)]


def leaks(rollout, layout, name: str, cup) -> int:
    """Particles first seen out of the cavity (with half a spacing of slack) below 2 cm under its rim."""
    cavity = container_cavity(cup)
    upper = cavity[1]
    pos, states = rollout.points["particle_pos"].astype(float), rollout.states.astype(float)
    centre, quat = layout.field(states, name, "pos"), layout.field(states, name, "quat")
    local = np.einsum("tnj,tji->tni", pos - centre[:, None], rotation_matrices(quat))
    out = ~in_cavity_frame(local, cavity, 0.01)
    firsts = [(np.argmax(out[:, j]), j) for j in np.flatnonzero(out.any(axis=0))]
    return sum(local[t, j, 2] <= upper[2] - 0.02 for t, j in firsts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--recipe", choices=["pour", "pour_mug"], default="pour")
    args = parser.parse_args()
    base = load_recipe(ROOT / "recipes" / "fluid" / f"{args.recipe}.yaml")
    tilt = base.actions[0]
    assert isinstance(tilt, Tilt)  # the pour recipes' one action
    stop = min(tilt.stop or args.steps, args.steps)
    recipe = Recipe.model_validate(base.model_dump() | {
        "n_envs": len(TILTS), "steps": args.steps, "actions": [tilt.model_dump() | {"stop": stop}]})
    variants = recipe.scene_variants or 1
    specs = []
    for i, (omega, limit) in enumerate(TILTS):
        spec = sample_episode(recipe, i * variants)  # every env in the first scene variant
        velocities = np.zeros_like(spec.velocities)
        velocities[:, 0] = np.outer(tilt_schedule(omega, limit, 0, stop, recipe.dt, args.steps), LIP_AXES[tilt.lip])
        specs.append(dataclasses.replace(spec, velocities=velocities))
    recipe = episode_scene(recipe, specs[0].params)
    engine = GenesisEngine(recipe)
    start = time.perf_counter()
    rollouts = engine.run_batch(specs)
    seconds = time.perf_counter() - start
    ctx = label_context(recipe, engine.layout)
    cup = recipe.scene.objects[0].shape
    assert isinstance(cup, (CupShape, MugShape))
    sizes = ", ".join(f"{k} {v:.4g}" for k, v in specs[0].params.items() if k.split(".")[1] in ("radius", "height"))
    print(f"{args.recipe}{f' ({sizes})' if sizes else ''}: "
          f"{len(TILTS)} envs x {args.steps} steps, {engine._points.entity.n_particles} particles per env: "
          f"{seconds:.1f} s ({len(TILTS) * args.steps / seconds:.1f} env-steps/s)")
    print("| tilt: ω (rad/s), largest angle | poured | in basin | spilled | first outflow (state, cup angle) | leaks |")
    print("|---|---:|---:|---:|---|---:|")
    for (omega, limit), rollout, spec in zip(TILTS, rollouts, specs, strict=True):
        e = label_rollout(rollout, spec.params, ctx).episode_labels
        first = e["first_outflow_step"]
        angle = math.degrees(min(omega * first * ctx.record_dt, math.radians(limit)))
        outflow = f"{first} ({angle:.0f}°)" if first >= 0 else "none"
        print(f"| {omega:g}, {limit:g}° | {e['poured_fraction']:.2f} | {e['in_target_fraction']:.2f} | "
              f"{e['spilled_fraction']:.2f} | {outflow} | {leaks(rollout, engine.layout, tilt.object, cup)} |")
    engine.close()


if __name__ == "__main__":
    main()
