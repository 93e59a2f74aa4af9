"""Pass/fail against the recipe's quality thresholds: each criterion names its number and bound."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from factory.recipe.schema import QualityOptions

BASELINES = ("zero-motion", "constant-velocity", "linear")


@dataclass(frozen=True)
class Criterion:
    aspect: str  # learnable, consistent, diverse, generalizes
    name: str
    value: float
    threshold: float
    higher_is_better: bool = False

    @property
    def passed(self) -> bool:
        return self.value >= self.threshold if self.higher_is_better else self.value <= self.threshold

    def to_dict(self) -> dict:
        return asdict(self) | {"passed": self.passed}


def criteria(checks: dict, evaluation: dict | None, q: QualityOptions) -> list[Criterion]:
    out = [Criterion("consistent", "non-finite values", checks["nonfinite"], q.max_nonfinite)]
    if "penetration" in checks:  # rigid bodies
        out.append(Criterion("consistent", "99.9th percentile penetration (m)", checks["penetration"]["p999"],
                             q.max_penetration))
    if "energy_gain" in checks:  # objects pushed by impulses (a robot's arm does work on them all along)
        out += [
            Criterion("consistent", "energy gain without action (fraction)", checks["energy_gain"]["max"],
                      q.max_energy_gain),
            Criterion("consistent", "push response residual (median)", checks["action_residual"]["median"],
                      q.max_action_residual)]
    if "tracking" in checks:  # robots follow their commands
        for robot, t in checks["tracking"].items():
            out.append(Criterion("consistent", f"{robot} tracking error, median ({t['unit']})", t["median"],
                                 q.max_tracking_error if t["unit"] == "rad" else q.max_tool_tracking_error))
    if "causality" in checks:  # resting objects move only once touched: no tolerance
        out.append(Criterion("consistent", "resting objects moving before any touch (fraction of episodes)",
                             checks["causality"]["fraction"], 0.0))
    if "points_escaped" in checks:  # particles / vertices: conservation has no tolerance
        out.append(Criterion("consistent", "episodes losing points through the walls (fraction)",
                             checks["points_escaped"]["fraction"], 0.0))
    if "mover_residual" in checks:  # scripted movers follow their actions: shuffled actions do not
        out.append(Criterion("consistent", "mover velocity residual (median)", checks["mover_residual"]["median"],
                             q.max_mover_residual))
    if "compressed" in checks:  # a liquid is incompressible: no episode may lose volume
        out.append(Criterion("consistent", "liquid episodes compressed below min_volume_ratio (fraction)",
                             checks["compressed"]["fraction"], 0.0))
    out += [
        Criterion("consistent", "episodes with labels contradicting states", checks["label_mismatch"]["fraction"],
                  q.max_label_mismatch),
        Criterion("diverse", "duplicate episodes (fraction)", checks["duplicates"]["fraction"], q.max_duplicates),
    ]
    if checks["coverage"]:
        worst = min(c["filled"] for c in checks["coverage"].values())
        out.append(Criterion("diverse", "least-covered parameter (bins filled)", worst, q.min_coverage, True))
    if evaluation and "test" in evaluation:
        one = evaluation["test"]["one_step"]
        best = min(one[b]["nmse"] for b in BASELINES if b in one)
        out.append(Criterion("learnable", "model / best baseline one-step error", one["model"]["nmse"] / best,
                             1 - q.min_improvement))
        roll = evaluation["test"]["rollout"]
        if roll.get("model"):  # the gauge must not fail where errors compound
            h = len(roll["model"])
            best_roll = min(roll[b][-1] for b in BASELINES if b in roll)
            out.append(Criterion("learnable", f"model / best baseline position error after {h} steps",
                                 roll["model"][-1] / max(best_roll, 1e-12), 1 - q.min_improvement))
        if "ood" in evaluation:
            ratio = evaluation["ood"]["one_step"]["model"]["nmse"] / max(one["model"]["nmse"], 1e-12)
            out.append(Criterion("generalizes", "OOD / in-distribution one-step error", ratio, q.max_ood_ratio))
    return out


def verdict(checks: dict, evaluation: dict | None, q: QualityOptions) -> dict:
    found = criteria(checks, evaluation, q)
    aspects = {c.aspect for c in found}
    return {
        "passed": all(c.passed for c in found),
        "aspects": {a: all(c.passed for c in found if c.aspect == a) for a in sorted(aspects)},
        "criteria": [c.to_dict() for c in found],
    }


def gap_closed(labels: dict, run: str = "model") -> float:
    """How much of the gap between always answering the majority and the truth readout `run`'s
    yes/no labels close, pooled over the labels where the readout beats the majority: 1 is the
    ceiling, 0 no better than the majority, negative worse. NaN when no label leaves a gap."""
    names = [n for n in labels.get("majority", {}) if labels["truth-readout"][n] > labels["majority"][n]]
    gap = sum(labels["truth-readout"][n] - labels["majority"][n] for n in names)
    if not names or gap <= 0:
        return float("nan")
    return sum(labels[run][n] - labels["majority"][n] for n in names) / gap
