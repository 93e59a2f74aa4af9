"""Coefficients of restitution as Genesis contact parameters (per-geom `sol_params`).

Genesis contacts are MuJoCo-style spring-dampers: a contact's reference acceleration is
`-b·v - k·imp·x` with `b = 2/(dmax·tc)` and `k = 1/(dmax²·tc²·ζ²)`, applied with impedance `imp`.
With `dmin = dmax` the impedance is constant, the contact a linear damped oscillator of damping
ratio ζ and angular frequency 1/(tc·ζ), and its restitution a function of ζ alone, whatever the
impact speed. That function is measured (`calibrate_restitution.py`) and shipped as a table.

A contact averages its two geoms' parameters; its e is then e(mean ζ), not the mean of the two e
the factory's pair rule asks for. So the adapter solves, for each built scene, the per-body ζ whose
pairwise means give every pair that can meet (at least one of them movable) ζ_pair = ζ(mean e):
exact when the scene has one value per role (all balls one e, cushions another, the ground a
third) or at most three movable bodies, least squares otherwise, and refused past `PAIR_TOLERANCE`.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from itertools import combinations
from pathlib import Path

import numpy as np

TABLE_PATH = Path(__file__).with_name("restitution_table.json")
SUBSTEPS_PER_CONTACT = 30  # substeps an impact lasts at least (duration π·tc·ζ/√(1-ζ²))
CONTACT_TIME = 3e-3  # s: how long an impact lasts; penetration ≈ impact speed × CONTACT_TIME / π
IMPEDANCE = 0.95  # dmin = dmax: a constant impedance, so e does not depend on the penetration
READ_EVERY = 10  # substeps between contact reads: an impact (30 substeps) is seen at least twice
PAIR_TOLERANCE = 0.01  # largest |e_pair - mean e| the per-body solve may leave


@lru_cache(maxsize=1)
def table() -> tuple[np.ndarray, np.ndarray]:
    """(ζ ascending, measured e descending) of the shipped calibration.

    Without the file (only while the calibration first runs, which sets every geom's ζ itself) the
    damped-oscillator estimate e = exp(-πζ/√(1-ζ²)) stands in.
    """
    if not TABLE_PATH.exists():
        zeta = np.linspace(0.004, 0.99, 64)
        return zeta, np.exp(-np.pi * zeta / np.sqrt(1 - zeta ** 2))
    data = json.loads(TABLE_PATH.read_text())
    rows = sorted(data["rows"], key=lambda r: r["dampratio"])
    zeta, e = np.array([r["dampratio"] for r in rows]), np.array([r["e"] for r in rows])
    falling = np.concatenate([[True], np.minimum.accumulate(e)[1:] < np.minimum.accumulate(e)[:-1]])
    return zeta[falling], e[falling]  # the monotone part: e → ζ must be a function


def dampratio_for(e: float | list[float] | np.ndarray) -> np.ndarray:
    """ζ whose contact bounces with restitution e (clamped to the calibrated range)."""
    zeta, es = table()
    return np.interp(np.asarray(e, float), es[::-1], zeta[::-1])


def restitution_of(zeta: float | np.ndarray) -> np.ndarray:
    """The calibrated e of a contact with damping ratio ζ."""
    z, es = table()
    return np.interp(np.asarray(zeta, float), z, es)


def substep_dt(dt: float) -> tuple[int, float]:
    """(substeps, substep dt) that resolve an impact of CONTACT_TIME in SUBSTEPS_PER_CONTACT substeps."""
    n = max(1, math.ceil(dt * SUBSTEPS_PER_CONTACT / CONTACT_TIME - 1e-9))
    return n, dt / n


def contact_reads(dt: float) -> tuple[int, int]:
    """(Genesis steps per recipe step, substeps per Genesis step): an elastic impact is over within
    one recipe step, so the adapter splits each into Genesis steps of at most READ_EVERY substeps
    and reads contacts after each, or an impact between two recorded states would go unseen."""
    n, _ = substep_dt(dt)
    k = next(k for k in range(1, n + 1) if n % k == 0 and n // k <= READ_EVERY)
    return k, n // k


def body_dampratios(values: dict[str, float], movable: set[str]) -> tuple[dict[str, float], float]:
    """Per-body ζ such that every pair that can meet gets ζ(mean of its two e), by least squares
    (exact for up to three bodies or values per role); and the worst pair's |e - mean e| left.

    `values` maps every body (the ground included) to its e; a pair can meet when at least one
    of its bodies is movable (fixed bodies never touch each other).
    """
    names = sorted(values)
    pairs = [(a, b) for a, b in combinations(names, 2) if a in movable or b in movable]
    col = {n: i for i, n in enumerate(names)}
    rows = np.zeros((len(pairs), len(names)))
    target = np.empty(len(pairs))
    for k, (a, b) in enumerate(pairs):
        rows[k, col[a]] += 0.5
        rows[k, col[b]] += 0.5
        target[k] = dampratio_for((values[a] + values[b]) / 2)
    from scipy.optimize import lsq_linear

    zeta = table()[0]
    solved = lsq_linear(rows, target, bounds=(zeta[0], zeta[-1])).x if pairs else np.zeros(len(names))
    untouched = ~rows.any(axis=0)  # a body no pair involves keeps its own value
    solved[untouched] = dampratio_for([values[n] for n in np.array(names)[untouched]])
    worst = 0.0
    for a, b in pairs:
        got = restitution_of((solved[col[a]] + solved[col[b]]) / 2)
        worst = max(worst, abs(float(got) - (values[a] + values[b]) / 2))
    return {n: float(solved[col[n]]) for n in names}, worst


def sol_params(zeta: float, sub_dt: float) -> list[float]:
    """Genesis `sol_params` of a geom with damping ratio ζ: a contact with these parameters lasts
    SUBSTEPS_PER_CONTACT substeps (a pair of different ζ averages their time constants too; e hardly
    depends on how many substeps a contact lasts)."""
    timeconst = SUBSTEPS_PER_CONTACT * sub_dt * math.sqrt(max(1 - zeta * zeta, 0.0)) / (math.pi * zeta) \
        if zeta < 1 else SUBSTEPS_PER_CONTACT * sub_dt / math.pi
    return [max(timeconst, 2 * sub_dt), zeta, IMPEDANCE, IMPEDANCE, 0.001, 0.5, 2.0]
