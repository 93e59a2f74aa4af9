"""Turn the contact sensors' readings of an episode into the layout's `Contacts` rows.

The model has one contact sensor per collision pair (`mjcf.scene_model`), so `mujoco.rollout`
records every step's contacts in C with the states. Each reported contact is `found, force(3),
dist, pos(3), normal(3), tangent(3)`: the force in the contact frame (normal, tangent, normal ×
tangent), with the frame turned so the normal points from the sensor's geom1 to its geom2 and the
force is the one geom1 exerts on geom2, as `mujoco.mj_contactForce` gives it for the contact
(the tests check they agree). These are the contacts of the step's collision detection, recorded
with the state the step ends in. A contact found at zero distance and given no constraint (no
force) is left out: it exerts nothing.
"""

from __future__ import annotations

import itertools

import numpy as np

from engines.mujoco.mjcf import SENSOR_FIELDS, SceneModel
from factory.contract.rollout import Contacts


def sensor_contacts(readings: np.ndarray, scene: SceneModel) -> Contacts:
    """`readings` (n_rec, sensor_width): the sensors at each recorded step 1..n_rec."""
    return batch_contacts(readings[None], scene)[0]


def batch_contacts(readings: np.ndarray, scene: SceneModel) -> list[Contacts]:
    """`readings` (B, n_rec, sensor_width): each episode's sensors at its recorded steps 1..n_rec;
    found for the whole batch at once, then cut per episode (views)."""
    batch, n_rec = readings.shape[:2]
    if not scene.pairs:  # one body and no floor (a thrown ball): no sensor, no contact
        return [Contacts.empty() for _ in range(batch)]
    slots = readings.reshape(batch, n_rec, sum(scene.slots), SENSOR_FIELDS)
    pair_of_slot = np.repeat(np.arange(len(scene.pairs)), scene.slots)
    rank = np.concatenate([np.arange(n) for n in scene.slots])  # a slot's place within its pair's sensor
    found = slots[..., 0]
    force, dist = slots[..., 1:4], slots[..., 4]
    live = (rank < found) & ((dist < 0) | (force[..., 0] > 0))  # found: the pair's count this step
    episode, step, slot = np.nonzero(live)
    if len(step) == 0:
        return [Contacts.empty() for _ in range(batch)]
    c = slots[episode, step, slot]
    normal, tangent = c[:, 8:11], c[:, 11:14]
    on_b = c[:, 1:2] * normal + c[:, 2:3] * tangent + c[:, 3:4] * np.cross(normal, tangent)
    pairs = np.array(scene.pairs, np.int16)[pair_of_slot[slot]]
    every = Contacts(
        step=(step + 1).astype(np.int32),
        body_a=pairs[:, 0],
        body_b=pairs[:, 1],
        position=c[:, 5:8].astype(np.float32),
        normal=normal.astype(np.float32),
        force_on_a=(-on_b).astype(np.float32),
        penetration=np.maximum(-c[:, 4], 0.0).astype(np.float32),
    )
    bounds = np.searchsorted(episode, np.arange(batch + 1))
    return [Contacts(*(getattr(every, k)[a:b] for k in Contacts.COLUMNS)) for a, b in itertools.pairwise(bounds)]
