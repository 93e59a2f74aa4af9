"""Collect the live contacts of an MjData at each recorded step, and turn them into `Contacts` once.

Forces come from `efc_force`: with the elliptic cone and condim 3 a contact's three constraint
rows are its force in the contact frame (normal, tangent 1, tangent 2), which is what
`mujoco.mj_contactForce` copies out, one contact at a time (the tests check they agree). The
frame's first row is the normal, from geom1 to geom2, and `frame.T @ f` is the force geom1
exerts on geom2. Reading is split in two because per-read numpy work cost as much as the
stepping: `grab` only copies MuJoCo's arrays, `build` converts an episode's worth at once.
"""

from __future__ import annotations

import numpy as np

from factory.rollout import Contacts

_ROWS = np.arange(3)


class ContactLog:
    """Raw contact arrays of one episode, step by step."""

    def __init__(self, body_of_geom: np.ndarray):
        self.body_of_geom = body_of_geom
        self.parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def grab(self, data, step: int) -> None:
        """Keep the contacts live after the last `mj_step`, tagged with recorded step `step`."""
        if data.ncon == 0 or data.nefc == 0:  # no contact given a constraint exerts anything
            return
        con = data.contact
        address = con.efc_address.copy()  # MuJoCo's arrays are views of buffers the next step overwrites
        force = data.efc_force[np.maximum(address, 0)[:, None] + _ROWS]
        self.parts.append((step, address, con.geom.copy(), con.pos.copy(), con.frame.copy(), con.dist.copy(), force))

    def build(self) -> Contacts:
        if not self.parts:
            return Contacts.empty()
        steps, address, geom, pos, frame, dist, local = (
            np.concatenate(col) if i else np.repeat([p[0] for p in self.parts], [len(p[1]) for p in self.parts])
            for i, col in enumerate(zip(*self.parts)))
        live = address >= 0  # a contact found at zero distance but given no constraint exerts nothing
        frame = frame[live].reshape(-1, 3, 3)
        on_b = np.einsum("nij,ni->nj", frame, local[live])
        geom = geom[live]
        return Contacts(
            step=steps[live].astype(np.int32),
            body_a=self.body_of_geom[geom[:, 0]],
            body_b=self.body_of_geom[geom[:, 1]],
            position=pos[live].astype(np.float32),
            normal=frame[:, 0].astype(np.float32),
            force_on_a=(-on_b).astype(np.float32),
            penetration=np.maximum(-dist[live], 0.0).astype(np.float32),
        )
