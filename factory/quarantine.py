"""Decide, per episode, whether a rollout is data or a blown-up simulation.

Engines return every rollout as simulated; this screen keeps non-finite ones and ones past the
recipe's `quarantine` bounds out of the dataset, and says why, so the manifest can record them.
"""

from __future__ import annotations

import numpy as np

from factory.recipe import Quarantine
from factory.rollout import Layout, Rollout


def screen(rollout: Rollout, layout: Layout, bounds: Quarantine) -> str | None:
    """The reason `rollout` must not be written as data, or None when it is fine."""
    states, contacts = rollout.states, rollout.contacts
    if not np.isfinite(states).all():
        first = int(np.flatnonzero(~np.isfinite(states).all(axis=1))[0])
        return f"non-finite state at recorded step {first}"
    if not (np.isfinite(contacts.force_on_a).all() and np.isfinite(contacts.penetration).all()
            and np.isfinite(contacts.position).all()):
        return "non-finite contact"
    if bounds.max_speed is not None:
        speeds = [np.linalg.norm(layout.field(states, obj, "vel"), axis=-1).max() for obj in layout.objects]
        worst = int(np.argmax(speeds))
        if speeds[worst] > bounds.max_speed:
            return (f"speed {speeds[worst]:.4g} m/s of '{layout.objects[worst]}' exceeds "
                    f"quarantine.max_speed {bounds.max_speed:g}")
    if bounds.max_penetration is not None and len(contacts):
        deepest = float(contacts.penetration.max())
        if deepest > bounds.max_penetration:
            return f"penetration {deepest:.4g} m exceeds quarantine.max_penetration {bounds.max_penetration:g}"
    return None
