"""`validity.json`: the physics certificate of a dataset, measured from its stored data in one
streaming pass over its episodes (storage order, one episode in memory at a time).

Per kind: non-finite values for every kind; energy gained without an action, the momentum residual
across free contacts and penetration percentiles for rigid bodies; the liquid's volume ratio; the
cloth's edge strain. Each figure carries its threshold (the recipe's `quality` options where it has
one) and a pass or fail. The same pass hashes every episode's states, so one episode can be checked
(and replayed, `factory.generate.replay`) on its own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from factory import checks
from factory.certify.figures import figure, percentiles
from factory.certify.rigid import momentum_residuals
from factory.contract.rollout import EpisodeRecord, Layout
from factory.errors import FactoryError
from factory.labels import ClothContext, FluidContext, LabelContext, episode_context
from factory.labels.cloth import edge_strain, neighbour_edges
from factory.labels.fluid import liquid_volume_ratio
from factory.recipe.schema import Recipe
from factory.storage.dataset import Dataset

VALIDITY = "validity.json"
CERTIFICATE_VERSION = 1
MAX_MOMENTUM_RESIDUAL = 0.1  # median share of the momentum exchanged in an impact (along the contact normal)
# that the pair does not conserve beyond what the ground's friction can take over the transition
MAX_CLOTH_STRAIN = 0.5  # PBD cloth stretched by half its rest length is no longer cloth
WORST = 5  # episodes named beside a figure


def state_sha256(record: EpisodeRecord, layout: Layout) -> str:
    """sha256 of an episode's float32 states, then of each recorded point field in layout order: what
    the engine produced, whatever the format or shard it is stored in."""
    h = hashlib.sha256(np.ascontiguousarray(record.rollout.states, np.float32).tobytes())
    for name in layout.points:
        h.update(np.ascontiguousarray(record.rollout.points[name], np.float32).tobytes())
    return h.hexdigest()


@dataclass
class Tally:
    """What the pass collects: per-episode values by figure, and every state hash."""

    nonfinite: int = 0
    per_episode: dict[str, dict[int, float]] = field(default_factory=dict)
    pooled: dict[str, list[np.ndarray]] = field(default_factory=dict)
    hashes: dict[int, str] = field(default_factory=dict)
    not_measured: dict[str, str] = field(default_factory=dict)  # figure → why the data cannot give it

    def episode(self, name: str, index: int, value: float) -> None:
        self.per_episode.setdefault(name, {})[index] = value

    def pool(self, name: str, values: np.ndarray) -> None:
        self.pooled.setdefault(name, []).append(np.asarray(values, np.float64))

    def pooled_values(self, name: str) -> np.ndarray:
        return np.concatenate([np.zeros(0), *self.pooled.get(name, [])])

    def worst(self, name: str, highest: bool = True) -> tuple[float, list[int]]:
        """The worst value of a per-episode figure, and the worst episodes (not those at 0 for a gain)."""
        values = self.per_episode.get(name, {})
        ranked = sorted(values, key=values.__getitem__, reverse=highest)
        named = [i for i in ranked if values[i] > 0] if highest else ranked
        return (values[ranked[0]] if ranked else 0.0), named[:WORST]


def measure(ds: Dataset) -> Tally:
    """One pass over the dataset's episodes: every per-kind measurement and state hash."""
    recipe = Recipe.model_validate(ds.manifest["recipe"])
    context_of = episode_context(recipe, ds.layout)
    gravity = np.asarray(recipe.scene.gravity)
    tally = Tally()
    for record in ds.records():
        roll, i = record.rollout, record.index
        tally.hashes[i] = state_sha256(record, ds.layout)
        tally.nonfinite += checks.nonfinite(roll.states, roll.actions, *roll.points.values())
        states = np.nan_to_num(roll.states)
        ctx = context_of(record.params)
        if isinstance(ctx, LabelContext):
            tally.pool("penetration", roll.contacts.penetration)
            try:
                bodies = checks.bodies_for(ds.manifest["recipe"], record.params)
            except FactoryError as exc:  # a mesh body: no closed-form inertia to weigh its energy by
                tally.not_measured["energy and momentum"] = str(exc)
                continue
            tally.episode("energy_gain", i, checks.energy_gain(states, roll.actions, ds.layout, bodies, gravity))
            friction = {n: max(record.params.get("ground.friction", 0.0), record.params.get(f"{n}.friction", 0.0))
                        for n in ds.layout.objects}
            tally.pool("momentum_residual", momentum_residuals(states, roll.actions, roll.contacts, ds.layout, bodies,
                                                               ctx.fixed, friction, float(np.linalg.norm(gravity))))
        elif isinstance(ctx, FluidContext):
            pos = np.nan_to_num(roll.points["particle_pos"])
            tally.episode("volume_ratio", i, float(liquid_volume_ratio(pos[[0, -1]], ctx, states[[0, -1]])[-1]))
        elif isinstance(ctx, ClothContext):
            pos = np.nan_to_num(roll.points["vertex_pos"])
            tally.episode("edge_strain", i, float(edge_strain(pos, *neighbour_edges(pos[0])).max()))
    return tally


def certificate(ds: Dataset) -> dict[str, Any]:
    """The certificate of `ds`: its figures, an overall pass, what replay holds on, the state hashes."""
    recipe = Recipe.model_validate(ds.manifest["recipe"])
    tally = measure(ds)
    figures = judge(tally, recipe)
    m = ds.manifest
    return {
        "certificate_version": CERTIFICATE_VERSION,
        "kind": recipe.kind,
        "episodes": len(tally.hashes),
        "passed": all(f["passed"] for f in figures),
        "figures": figures,
        "not_measured": tally.not_measured,
        "replay": {"engine": m["engine"], "platform": m.get("platform"), "python": m.get("python"),
                   "holds_on": "none: a merged dataset's episodes are replayed from their sources" if "merge" in m
                   else "the same engine, engine version and platform: `factory verify DATASET --replay K` "
                        "re-simulates episodes from the manifest and compares them bit for bit"},
        "episode_states_sha256": {str(i): h for i, h in sorted(tally.hashes.items())},
    }


def judge(tally: Tally, recipe: Recipe) -> list[dict[str, Any]]:
    """Each measured quantity as a figure against its threshold."""
    q = recipe.quality
    out = [figure("non-finite values", tally.nonfinite, q.max_nonfinite, "below", "values")]
    if "energy_gain" in tally.per_episode:
        gain, worst = tally.worst("energy_gain")
        out.append(figure("energy gained without an action", gain, q.max_energy_gain, "below",
                          "fraction of the episode's peak kinetic energy", worst_episodes=worst))
        residual = tally.pooled_values("momentum_residual")
        out.append(figure("momentum residual across free contacts", percentiles(residual)["p50"],
                          MAX_MOMENTUM_RESIDUAL, "below", "fraction of the momentum exchanged (median)",
                          contacts=len(residual), **percentiles(residual)))
    if "penetration" in tally.pooled:
        depth = tally.pooled_values("penetration")
        out.append(figure("penetration (99.9th percentile)", percentiles(depth)["p99.9"], q.max_penetration,
                          "below", "m", contacts=len(depth), **percentiles(depth)))
    if "volume_ratio" in tally.per_episode:
        ratio, worst = tally.worst("volume_ratio", highest=False)
        out.append(figure("liquid volume ratio (lowest episode)", ratio, q.min_volume_ratio, "above",
                          "final volume / step-0 volume", worst_episodes=worst))
    if "edge_strain" in tally.per_episode:
        strain, worst = tally.worst("edge_strain")
        out.append(figure("cloth edge strain (highest)", strain, MAX_CLOTH_STRAIN, "below",
                          "relative stretch of a mesh edge", worst_episodes=worst))
    return out
