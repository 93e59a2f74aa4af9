"""In distribution against each out-of-distribution band, side by side (PhyWorld, Kang et al. 2024):
the same predictors' one-step and rollout errors on the test set and on every holdout band."""

from __future__ import annotations

HORIZONS = (1, 10, 20)


def band_sets(evaluation: dict) -> list[str]:
    """'test', then each holdout band ('ood PARAM LOW–HIGH'); the pooled 'ood' set when there are no bands."""
    bands = [k for k in evaluation if k.startswith("ood ")]
    return ["test", *(bands or (["ood"] if "ood" in evaluation else []))]


def side_by_side(evaluation: dict) -> dict:
    """{'sets': [...], 'episodes': {set: n}, 'predictors': {name: {set: {'one_step_nmse', 'position_rmse':
    {h: m}, 'rollout': [...]}}}}: every number the report's band table and horizon curves show."""
    sets = [s for s in band_sets(evaluation) if s in evaluation]
    out: dict = {"sets": sets, "episodes": {s: evaluation[s]["episodes"] for s in sets}, "predictors": {}}
    for s in sets:
        r = evaluation[s]
        for name, one in r["one_step"].items():
            curve = r["rollout"].get(name, [])
            out["predictors"].setdefault(name, {})[s] = {
                "one_step_nmse": one["nmse"],
                "position_rmse": {h: curve[h - 1] for h in HORIZONS if h <= len(curve)},
                "rollout": curve}
    return out
