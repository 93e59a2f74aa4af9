"""Read the live contacts of one MjData as the layout's `Contacts` rows.

Forces come from `efc_force`: with the elliptic cone and condim 3 a contact's three constraint
rows are its force in the contact frame (normal, tangent 1, tangent 2), which is what
`mujoco.mj_contactForce` copies out, one contact at a time (the tests check they agree). The
frame's first row is the normal, from geom1 to geom2, and `frame.T @ f` is the force geom1
exerts on geom2.
"""

from __future__ import annotations

import numpy as np

from factory.rollout import Contacts

_ROWS = np.arange(3)


def read_contacts(data, body_of_geom: np.ndarray, step: int) -> Contacts | None:
    """Contacts live after the last `mj_step`, tagged with recorded step `step`; None if there are none."""
    if data.ncon == 0:
        return None
    con = data.contact
    address = con.efc_address
    live = np.flatnonzero(address >= 0)  # a contact found at zero distance but given no constraint exerts nothing
    if len(live) == 0:
        return None
    geom = con.geom[live]
    frame = con.frame[live].reshape(-1, 3, 3)
    local = data.efc_force[address[live, None] + _ROWS]  # (n, 3) in the contact frame
    on_b = np.einsum("nij,ni->nj", frame, local)
    return Contacts(
        step=np.full(len(live), step, np.int32),
        body_a=body_of_geom[geom[:, 0]],
        body_b=body_of_geom[geom[:, 1]],
        position=con.pos[live].astype(np.float32),
        normal=frame[:, 0].astype(np.float32),
        force_on_a=(-on_b).astype(np.float32),
        penetration=np.maximum(-con.dist[live], 0.0).astype(np.float32),
    )
