"""Decide, per episode, whether a rollout is data or a blown-up simulation.

Engines return every rollout as simulated; this screen keeps non-finite ones and ones past the
recipe's `quarantine` bounds out of the dataset, and says why, so the manifest can record them.
"""

from __future__ import annotations

import numpy as np

from factory.contract.rollout import Layout, Rollout
from factory.recipe.schema import Quarantine


def screen(rollout: Rollout, layout: Layout, bounds: Quarantine) -> str | None:
    """The reason `rollout` must not be written as data, or None when it is fine."""
    arrays = {"state": rollout.states, **rollout.points}
    for name, values in arrays.items():
        finite = np.isfinite(values).reshape(len(values), -1).all(axis=1)
        if not finite.all():
            return f"non-finite {name} at recorded step {int(np.flatnonzero(~finite)[0])}"
    contacts = rollout.contacts
    if not all(np.isfinite(a).all() for a in (contacts.force_on_a, contacts.penetration, contacts.position)):
        return "non-finite contact"
    if bounds.max_speed is not None:
        speeds = {f"'{obj}'": layout.field(rollout.states, obj, "vel") for obj in layout.objects}
        speeds |= {name: values for name, values in rollout.points.items() if name.endswith("_vel")}
        for what, vel in speeds.items():
            fastest = float(np.linalg.norm(vel, axis=-1).max(initial=0.0))
            if fastest > bounds.max_speed:
                return f"speed {fastest:.4g} m/s of {what} exceeds quarantine.max_speed {bounds.max_speed:g}"
    if bounds.max_penetration is not None and len(contacts):
        deepest = float(contacts.penetration.max())
        if deepest > bounds.max_penetration:
            return f"penetration {deepest:.4g} m exceeds quarantine.max_penetration {bounds.max_penetration:g}"
    return None
