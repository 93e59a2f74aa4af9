"""Read Genesis contacts for every env at once and hand them out per episode.

Genesis reports contacts per geom pair with the force on geom A as `-force`; the reader maps
links to the layout's body indices and keeps only the live contacts of each env. A robot's links
are bodies named `robot/link`; as on MuJoCo, its self-contacts and its root on the ground it stands
on are not recorded.
"""

from __future__ import annotations

import numpy as np

from factory.contract.rollout import Contacts, Layout


class ContactReader:
    def __init__(self, built, layout: Layout):
        solver = built.scene.sim.rigid_solver
        self._collider = solver.collider
        entities = ([built.ground] if built.ground is not None else []) + list(built.objects)
        self._body_of_link = np.full(solver.n_links, -1, np.int16)
        for body, entity in enumerate(entities):
            for link in entity.links:
                self._body_of_link[link.idx] = body
        self._skip = self._robot_links(built, layout) if built.robots else None

    def _robot_links(self, built, layout: Layout) -> np.ndarray:
        """Map the robots' colliding links to their bodies; the body pairs not recorded (the last row and
        column stand for links of no body)."""
        robots = dict(zip((r.name for r in layout.robots), built.robots, strict=True))
        n = len(layout.bodies)
        skip = np.zeros((n + 1, n + 1), bool)
        skip[-1, :] = skip[:, -1] = True
        links = []
        for body, name in enumerate(layout.bodies):
            owner, _, link = name.partition("/")
            if owner in robots:
                entity = robots[owner]
                self._body_of_link[next(li.idx for li in entity.links if li.name == link)] = body
                links.append(body)
                if link == entity.base_link.name and layout.bodies[0] == "ground":
                    skip[body, 0] = skip[0, body] = True
        skip[np.ix_(links, links)] = True
        return skip

    def read(self, step: int) -> tuple[np.ndarray, Contacts]:
        """Contacts live after the last `scene.step()`, tagged with recorded step `step`.

        Returns (env index per row, contacts).
        """
        data = self._collider.get_contacts(as_tensor=True, to_torch=True, is_padded=True)
        n = data["n_contacts"].cpu().numpy().reshape(-1)
        capacity = data["link_a"].shape[-1]
        live = np.arange(capacity)[None, :] < n[:, None]
        if self._skip is not None:
            live &= ~self._skip[self._body_of_link[data["link_a"].cpu().numpy()],
                                self._body_of_link[data["link_b"].cpu().numpy()]]
        env, slot = np.nonzero(live)
        if len(env) == 0:
            return env, Contacts.empty()

        def take(key: str) -> np.ndarray:
            return data[key].cpu().numpy()[env, slot]

        return env, Contacts(
            step=np.full(len(env), step, np.int32),
            body_a=self._body_of_link[take("link_a")],
            body_b=self._body_of_link[take("link_b")],
            position=take("position").astype(np.float32),
            normal=take("normal").astype(np.float32),
            force_on_a=-take("force").astype(np.float32),
            penetration=take("penetration").astype(np.float32),
        )

    @staticmethod
    def latest(reads: list[tuple[np.ndarray, Contacts]], step: int) -> tuple[np.ndarray, Contacts]:
        """One recorded step's contacts from several reads since the last one: each (env, body pair)
        as last seen, so an impact that began and ended between two recorded states is kept."""
        envs = np.concatenate([e for e, _ in reads]) if reads else np.zeros(0, int)
        merged = Contacts.concat([c for _, c in reads])
        if not len(envs):
            return envs, Contacts.empty()
        read = np.repeat(np.arange(len(reads)), [len(e) for e, _ in reads])
        lo, hi = np.minimum(merged.body_a, merged.body_b), np.maximum(merged.body_a, merged.body_b)
        key = (envs.astype(np.int64) * 65536 + lo) * 65536 + hi
        last = {}
        for k, r in zip(key.tolist(), read.tolist(), strict=True):
            last[k] = r
        keep = np.flatnonzero(read == np.array([last[k] for k in key.tolist()]))
        picked = Contacts(*(getattr(merged, col)[keep] for col in Contacts.COLUMNS))
        picked.step[:] = step
        return envs[keep], picked

    @staticmethod
    def split(parts: list[tuple[np.ndarray, Contacts]], n_envs: int) -> list[Contacts]:
        """Regroup per-step contact reads into one `Contacts` per env, in step order."""
        envs = np.concatenate([e for e, _ in parts]) if parts else np.zeros(0, int)
        merged = Contacts.concat([c for _, c in parts])
        order = np.argsort(envs, kind="stable")
        bounds = np.searchsorted(envs[order], np.arange(n_envs + 1))
        return [Contacts(*(getattr(merged, col)[order[bounds[b]:bounds[b + 1]]] for col in Contacts.COLUMNS))
                for b in range(n_envs)]
