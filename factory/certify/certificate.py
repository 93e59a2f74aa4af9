"""`validity.json`: the physics certificate of a dataset, measured from its stored data in one
streaming pass over its episodes (storage order, one episode in memory at a time).

Per kind: non-finite values for every kind; for rigid bodies (meshes and robots' scenes included)
penetration at rest and the compliance time of impacts (`factory.certify.impacts`), energy gained
without an action and the momentum residual across free contacts, restitution at isolated bounces
against the recipe's and sliding deceleration against μ·g (`factory.certify.laws`); each robot's
joint tracking; the liquid's volume ratio; the cloth's edge strain. Each figure carries its threshold
(the recipe's `quality` options where it has one) and a pass or fail. The same pass hashes every
episode's states, so one episode can be checked (and replayed, `factory.generate.replay`) on its own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from factory import checks
from factory.certify.figures import figure, percentiles
from factory.certify.impacts import compliance_times, contact_runs, impact_mask
from factory.certify.laws import restitutions, sliding_decelerations
from factory.certify.rigid import momentum_residuals
from factory.certify.robots import MAX_TRACKING, tracking_ratios
from factory.contract.rollout import EpisodeRecord, Layout
from factory.errors import FactoryError
from factory.labels import ClothContext, FluidContext, LabelContext, RobotLabelContext, episode_context
from factory.labels.cloth import edge_strain, neighbour_edges
from factory.labels.fluid import liquid_volume_ratio
from factory.recipe.distributions import nominal
from factory.recipe.schema import Recipe
from factory.storage.dataset import Dataset

VALIDITY = "validity.json"
CERTIFICATE_VERSION = 1
MAX_MOMENTUM_RESIDUAL = 0.1  # median share of the momentum exchanged in an impact (along the contact normal)
# that the pair does not conserve beyond what the ground's friction can take over the transition
MAX_CLOTH_STRAIN = 0.5  # PBD cloth stretched by half its rest length is no longer cloth
# thresholds above what the shipped recipes measure on every engine (docs/card.md gives the figures)
MAX_COMPLIANCE = 0.02  # s: an impact's deepest overlap over its approach speed
MAX_RESTITUTION_ERROR = 0.1  # median |e measured − e of the recipe|
MAX_SLIDING_ERROR = 0.1  # median |deceleration / (μ·g) − 1| of sliding bodies
PAIR_FRICTION = {"unity": "mean"}  # how an engine combines a contact's two frictions; others take the larger
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
    tally = Tally()
    for record in ds.records():
        roll, i = record.rollout, record.index
        tally.hashes[i] = state_sha256(record, ds.layout)
        tally.nonfinite += checks.nonfinite(roll.states, roll.actions, *roll.points.values())
        states = np.nan_to_num(roll.states)
        ctx = context_of(record.params)
        if isinstance(ctx, RobotLabelContext):
            for name, ratio in tracking_ratios(ds.layout, ctx.robots, states, roll.actions).items():
                tally.pool(f"tracking:{name}", ratio)
            tally.not_measured["energy and momentum"] = "a robot's motors do work on the scene"
            measure_rigid(tally, record, states, recipe, ds.manifest["recipe"], ctx.base, robots=True)
        elif isinstance(ctx, LabelContext):
            measure_rigid(tally, record, states, recipe, ds.manifest["recipe"], ctx, robots=False)
        elif isinstance(ctx, FluidContext):
            pos = np.nan_to_num(roll.points["particle_pos"])
            tally.episode("volume_ratio", i, float(liquid_volume_ratio(pos[[0, -1]], ctx, states[[0, -1]])[-1]))
        elif isinstance(ctx, ClothContext):
            pos = np.nan_to_num(roll.points["vertex_pos"])
            tally.episode("edge_strain", i, float(edge_strain(pos, *neighbour_edges(pos[0])).max()))
    return tally


def measure_rigid(tally: Tally, record: EpisodeRecord, states: np.ndarray, recipe: Recipe, resolved: dict[str, Any],
                  ctx: LabelContext, robots: bool) -> None:
    """Contacts, energy, momentum, restitution and sliding of one rigid episode (`resolved`: the recipe as
    the manifest holds it, which the body checks read)."""
    roll, layout, params = record.rollout, ctx.layout, record.params
    runs = contact_runs(states, roll.contacts, layout)
    impact = impact_mask(roll.contacts, runs, layout.record_dt)
    resting = roll.contacts.penetration[~impact]
    tally.pool("penetration", resting)
    tally.episode("rest_depth", record.index, float(resting.max()) if len(resting) else 0.0)
    tally.pool("compliance", compliance_times(roll.contacts, runs, layout.record_dt))
    tally.pool("impact_depth", roll.contacts.penetration[impact])
    try:
        bodies = checks.bodies_for(resolved, params)
    except FactoryError as exc:  # a mesh file no longer where the recipe says
        tally.not_measured["energy, momentum, restitution and sliding"] = str(exc)
        return
    gravity = np.asarray(recipe.scene.gravity)
    g = float(np.linalg.norm(gravity))
    if not robots:
        tally.episode("energy_gain", record.index, checks.energy_gain(states, roll.actions, layout, bodies, gravity))
        tally.pool("momentum_residual", momentum_residuals(states, roll.actions, roll.contacts, layout, bodies,
                                                           ctx.fixed, ground_friction(recipe, params), g))
    bounces = restitutions(states, roll.actions, runs, layout, bodies, ctx.fixed,
                           lambda a, b: pair_restitution(recipe, params, a, b), g, ctx.ground_height)
    if bounces:
        tally.pool("restitution", np.subtract(*np.asarray(bounces).T))
    slides = sliding_decelerations(states, roll.actions, runs, layout, bodies, ctx.fixed,
                                   pair_friction(recipe, params), g)
    if slides:
        tally.pool("sliding", np.divide(*np.asarray(slides).T) - 1)


def restitution_of(recipe: Recipe, params: dict[str, float], body: str) -> float | None:
    """A body's restitution as drawn for the episode; None where the recipe sets none."""
    if body == "ground":
        value = recipe.scene.ground.restitution if recipe.scene.ground else None
    else:
        value = next(o.restitution for o in recipe.scene.objects if o.name == body)
    return None if value is None else params.get(f"{body}.restitution", nominal(value))


def pair_restitution(recipe: Recipe, params: dict[str, float], a: str, b: str) -> float | None:
    """The pair's e by the recipes' rule, the mean of both (unset counting 0); None where neither body
    sets one: the engine's default contact, which the recipe does not specify."""
    ea, eb = restitution_of(recipe, params, a), restitution_of(recipe, params, b)
    return None if ea is None and eb is None else ((ea or 0.0) + (eb or 0.0)) / 2


def ground_friction(recipe: Recipe, params: dict[str, float]) -> dict[str, float]:
    """Each object's μ against the ground, the larger of the two (what the momentum budget allows)."""
    ground = params.get("ground.friction", nominal(recipe.scene.ground.friction) if recipe.scene.ground else 0.0)
    return {o.name: max(ground, params.get(f"{o.name}.friction", nominal(o.friction))) for o in recipe.scene.objects}


def pair_friction(recipe: Recipe, params: dict[str, float]) -> dict[str, float]:
    """Each object's μ against the ground by its engine's pair rule."""
    if PAIR_FRICTION.get(recipe.engine.type) != "mean":
        return ground_friction(recipe, params)
    ground = params.get("ground.friction", nominal(recipe.scene.ground.friction) if recipe.scene.ground else 0.0)
    return {o.name: (ground + params.get(f"{o.name}.friction", nominal(o.friction))) / 2 for o in recipe.scene.objects}


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
        "not_measured": tally.not_measured | unmeasured(tally, recipe),
        "replay": {"engine": m.get("engine"), "platform": m.get("platform"), "python": m.get("python"),
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
        out.append(figure("penetration at rest (99.9th percentile)", percentiles(depth)["p99.9"], q.max_penetration,
                          "below", "m", contacts=len(depth), **percentiles(depth),
                          worst_episodes=tally.worst("rest_depth")[1]))
    compliance = tally.pooled_values("compliance")
    if len(compliance):
        out.append(figure("impact compliance time (median)", percentiles(compliance)["p50"], MAX_COMPLIANCE,
                          "below", "s: an impact's deepest overlap / its approach speed", impacts=len(compliance),
                          deepest_impact_m=float(tally.pooled_values("impact_depth").max()), **percentiles(compliance)))
    if "restitution" in tally.pooled:
        error = tally.pooled_values("restitution")
        out.append(figure("restitution against the recipe's (median |Δe|)", float(np.median(np.abs(error))),
                          MAX_RESTITUTION_ERROR, "below", "measured e − the pair's e", bounces=len(error),
                          median_signed=float(np.median(error)), **percentiles(np.abs(error))))
    if "sliding" in tally.pooled:
        error = tally.pooled_values("sliding")
        out.append(figure("sliding deceleration against μ·g (median)", float(np.median(np.abs(error))),
                          MAX_SLIDING_ERROR, "below", "|deceleration / (μ·g) − 1|", slides=len(error),
                          median_signed=float(np.median(error)), **percentiles(np.abs(error))))
    for robot in recipe.robots:
        left = tally.pooled_values(f"tracking:{robot.name}")
        out.append(figure(f"joint tracking of {robot.name} (median)", percentiles(left)["p50"], MAX_TRACKING,
                          "below", "share of each command's way left at the next state (0 exact, 1 not moved)",
                          transitions=len(left), **percentiles(left)))
    if "volume_ratio" in tally.per_episode:
        ratio, worst = tally.worst("volume_ratio", highest=False)
        out.append(figure("liquid volume ratio (lowest episode)", ratio, q.min_volume_ratio, "above",
                          "final volume / step-0 volume", worst_episodes=worst))
    if "edge_strain" in tally.per_episode:
        strain, worst = tally.worst("edge_strain")
        out.append(figure("cloth edge strain (highest)", strain, MAX_CLOTH_STRAIN, "below",
                          "relative stretch of a mesh edge", worst_episodes=worst))
    return out


def unmeasured(tally: Tally, recipe: Recipe) -> dict[str, str]:
    """The rigid laws a dataset gave no event for, and why."""
    if "penetration" not in tally.pooled:
        return {}
    out = {}
    if "restitution" not in tally.pooled:
        sets = any(o.restitution is not None for o in recipe.scene.objects) or \
            (recipe.scene.ground is not None and recipe.scene.ground.restitution is not None)
        out["restitution"] = ("no free sphere bounced in isolation off a body with a restitution" if sets else
                              "the recipe sets no restitution (each engine's default contact)")
    if "sliding" not in tally.pooled:
        out["sliding deceleration"] = "no box or cylinder slid on the ground alone, unpushed, for 5 recorded steps"
    return out
