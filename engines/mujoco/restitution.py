"""A pair's coefficient of restitution → MuJoCo contact softness (`solref`), from a measured table.

MuJoCo contacts are spring-dampers in acceleration units. With direct parameters
`solref = (-k, -b)`, k = ω² and b = 2ζω, the contact is a damped oscillator that lasts about
π/ω; ω = π / (CONTACT_STEPS · dt) keeps it `CONTACT_STEPS` steps long at any dt, and ζ sets how
much normal velocity comes back. The ζ → e table was measured (`python -m
engines.mujoco.calibrate_restitution`: a sphere hitting a plane without gravity, dt 2-5 ms,
0.5-3 m/s; e varied by < 0.01 across those). It follows the oscillator's exp(-πζ/√(1-ζ²)) within
0.01 for e ≥ 0.4 and flattens at e ≈ 0.17 for ζ ≥ 0.7, so pairs asking less than `DIRECT_MIN`
keep MuJoCo's default contact (solref 0.02, 1), which bounces back e ≈ 0.11-0.13 (measured): the
floor of what MuJoCo's soft contacts give without deeper penetration.
"""

from __future__ import annotations

import math

import numpy as np

CONTACT_STEPS = 6  # steps a bouncing contact lasts; fewer is unstable at ζ → 0, more penetrates deeper
DEFAULT_SOLREF = (0.02, 1.0)  # MuJoCo's own (timeconst, dampratio)
# measured ζ (damping ratio) → e, at dt 4 ms and 3 m/s
ZETA = np.array([0.7, 0.5, 0.4, 0.3, 0.2, 0.15, 0.1, 0.05, 0.02, 0.0])
MEASURED_E = np.array([0.172, 0.261, 0.338, 0.415, 0.561, 0.641, 0.723, 0.845, 0.936, 0.999])
DIRECT_MIN = 0.2  # below this e the default contact is closer than the direct one's 0.17 floor
MAX_RESTITUTION = 0.95
MIN_ZETA = 1e-4


def pair_restitution(e_a: float | None, e_b: float | None) -> float:
    """The recipe's pair rule, agreed across engines: the mean of both bodies' e, unset counting as 0."""
    return ((e_a or 0.0) + (e_b or 0.0)) / 2


def solref_for(e: float, dt: float) -> tuple[float, float]:
    """`solref` giving a contact restitution `e` at time step `dt`."""
    if e < DIRECT_MIN:
        return DEFAULT_SOLREF
    return direct_solref(float(np.interp(e, MEASURED_E, ZETA)), dt)  # MEASURED_E rises, as np.interp needs


def direct_solref(zeta: float, dt: float) -> tuple[float, float]:
    """(-k, -b) of a contact lasting about `CONTACT_STEPS` steps with damping ratio `zeta`.

    b must stay negative: MuJoCo replaces a solref whose two signs differ (b = -0.0) by its default.
    """
    omega = math.pi / (CONTACT_STEPS * dt)
    return (-omega * omega, -2.0 * max(zeta, MIN_ZETA) * omega)
