"""The label side channel, Python side: contact reports from Unity become `Contacts` rows."""

from __future__ import annotations

import numpy as np
from mlagents_envs.side_channel import IncomingMessage, SideChannel

from engines.unity.protocol import LABELS_CHANNEL_ID, ContactReport, decode_contacts
from factory.contract.rollout import Contacts, Layout
from factory.errors import SimulationError


class LabelsChannel(SideChannel):
    """Collects the reports Unity sends with each step until the adapter drains them."""

    def __init__(self) -> None:
        super().__init__(LABELS_CHANNEL_ID)
        self._reports: list[ContactReport] = []

    def on_message_received(self, msg: IncomingMessage) -> None:
        self._reports.append(decode_contacts(msg.get_raw_bytes()))

    def drain(self) -> list[ContactReport]:
        reports, self._reports = self._reports, []
        return reports


def contacts_by_slot(reports: list[ContactReport], layout: Layout, slots: int, record_every: int
                     ) -> list[Contacts]:
    """One `Contacts` per slot, with body indices into `layout.bodies` and recorded-step numbers.

    Like the Genesis adapter, only contacts live at a recorded step are kept.
    """
    index = {name: i for i, name in enumerate(layout.bodies)}
    parts: list[list[Contacts]] = [[] for _ in range(slots)]
    for r in reports:
        if r.step % record_every or not r.pairs or r.slot >= slots:
            continue
        unknown = sorted({n for pair in r.pairs for n in pair} - index.keys())
        if unknown:
            raise SimulationError(f"Unity reported contacts of unknown bodies {unknown}; the scene's "
                                  f"bodies are {list(layout.bodies)}")
        n, v = len(r.pairs), r.values
        parts[r.slot].append(Contacts(
            step=np.full(n, r.step // record_every, np.int32),
            body_a=np.array([index[a] for a, _ in r.pairs], np.int16),
            body_b=np.array([index[b] for _, b in r.pairs], np.int16),
            position=v[:, 0:3], normal=v[:, 3:6], force_on_a=v[:, 6:9], penetration=v[:, 9]))
    return [Contacts.concat(p) for p in parts]
