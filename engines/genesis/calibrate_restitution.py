"""Measure Genesis' coefficient of restitution as a function of the contact damping ratio ζ.

    python -m engines.genesis.calibrate_restitution [--out engines/genesis/restitution_table.json]

One scene, built by the adapter itself (same solver options, substeps and contact parameters
as a factory run), without gravity, holds three impact tests side by side, one env per impact
speed: a sphere driven into the ground, two spheres meeting head-on (equal masses, opposite
velocities), and a box driven flat into the ground. For each ζ every geom gets the adapter's
`sol_params(ζ)`; e is read from the normal velocities long after the impact (no gravity, so no
extrapolation). The table holds the middle of the range over tests and speeds (the value that
minimises the worst error), that range, and each test's own values.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from engines.genesis import restitution
from factory.recipe.schema import Recipe

SPEEDS = (0.5, 1.0, 2.0, 5.0)  # m/s, impact speed of each body (each env one)
DAMPRATIOS = (0.002, 0.004, 0.008, 0.012, 0.016, 0.02, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.125, 0.15, 0.2,
              0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.85, 1.0, 1.5, 2.0, 3.0, 5.0)
DT, GAP, RADIUS, BOX = 0.004, 0.01, 0.05, 0.1  # s, m: recipe step, initial gap, sphere radius, box edge
STEPS = 40  # 0.16 s: the slowest body crosses its gap and leaves the contact long before


def calibration_recipe() -> Recipe:
    """The three tests as one factory recipe (restitution set so the adapter resolves impacts)."""
    def sphere(name: str, x: float, z: float) -> dict:
        return {"name": name, "shape": {"type": "sphere", "radius": RADIUS}, "pos": [x, 0, z],
                "friction": 0.01, "restitution": 0.5}
    return Recipe.model_validate({
        "name": "calibrate_restitution", "engine": "genesis", "seed": 0, "episodes": 1, "steps": STEPS,
        "dt": DT, "n_envs": len(SPEEDS),
        "scene": {"gravity": [0.0, 0.0, 0.0], "ground": {"friction": 0.01, "restitution": 0.5}, "objects": [
            sphere("drop", 0.0, RADIUS + GAP),
            sphere("left", 1.0 - RADIUS - GAP / 2, 1.0), sphere("right", 1.0 + RADIUS + GAP / 2, 1.0),
            {"name": "box", "shape": {"type": "box", "size": [BOX, BOX, BOX]}, "pos": [3.0, 0, BOX / 2 + GAP],
             "friction": 0.01, "restitution": 0.5}]}})


def measure(built, recipe: Recipe, dampratios=DAMPRATIOS, speeds=SPEEDS) -> list[dict]:
    """One row per ζ: e of each test at each speed, and the middle and width of their range."""
    import torch

    scene, solver = built.scene, built.scene.sim.rigid_solver
    sub_dt = scene.sim.substep_dt
    pristine = scene.__getstate__()
    drop, left, right, box = built.objects
    v = torch.tensor(speeds, dtype=torch.float32)[:, None]
    zeros = torch.zeros(len(speeds), 5)
    rows = []
    for zeta in dampratios:
        scene.__setstate__(pristine)
        params = torch.tensor([restitution.sol_params(zeta, sub_dt)] * solver.n_geoms, dtype=torch.float32)
        solver.set_sol_params(params, geoms_idx=list(range(solver.n_geoms)))
        for obj, entity, vel in zip(recipe.scene.objects, built.objects,
                                    (_vz(-v, zeros), _vx(v, zeros), _vx(-v, zeros), _vz(-v, zeros)), strict=True):
            entity.set_pos(torch.tensor([obj.pos] * len(speeds), dtype=torch.float32), zero_velocity=True)
            entity.set_dofs_velocity(vel)
        for _ in range(STEPS * built.reads):  # each recipe step is `reads` Genesis steps
            scene.step()
        out = {name: entity.get_vel().cpu().numpy() for name, entity in
               (("drop", drop), ("left", left), ("right", right), ("box", box))}
        s = np.asarray(speeds)
        tests = {"sphere_ground": out["drop"][:, 2] / s, "box_ground": out["box"][:, 2] / s,
                 "sphere_sphere": (out["right"][:, 0] - out["left"][:, 0]) / (2 * s)}
        every = np.concatenate(list(tests.values()))
        rows.append({"dampratio": zeta, "e": float((every.min() + every.max()) / 2),
                     "spread": float(every.max() - every.min()),
                     "by_test": {k: [round(float(x), 5) for x in t] for k, t in tests.items()}})
    return rows


def _vz(v, zeros):
    import torch

    return torch.cat([zeros[:, :2], v, zeros[:, 2:]], 1)


def _vx(v, zeros):
    import torch

    return torch.cat([v, zeros], 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=restitution.TABLE_PATH)
    args = parser.parse_args(argv)
    from engines.genesis.engine import _genesis
    from engines.genesis.scene import build_scene

    recipe = calibration_recipe()
    built = build_scene(_genesis("cpu"), recipe, recipe.n_envs)
    rows = measure(built, recipe)
    sub = built.scene.sim.substeps
    table = {"about": "Genesis contact damping ratio -> measured coefficient of restitution; written by "
                      "`python -m engines.genesis.calibrate_restitution`",
             "dt": DT, "substeps": sub, "substeps_per_contact": restitution.SUBSTEPS_PER_CONTACT,
             "impedance": restitution.IMPEDANCE, "speeds": list(SPEEDS), "rows": rows}
    args.out.write_text(json.dumps(table, indent=1) + "\n")
    print(f"{'dampratio':>9}  {'e':>6}  {'spread':>6}  " + "  ".join(f"{k:>29}" for k in rows[0]["by_test"]))
    for r in rows:
        print(f"{r['dampratio']:9.3f}  {r['e']:6.3f}  {r['spread']:6.3f}  " + "  ".join(
            f"{min(v):6.3f}..{max(v):6.3f} (mean {np.mean(v):.3f})" for v in r["by_test"].values()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
