"""Assemble the report: checks → split → train → evaluate → verdict → figures, HTML, JSON."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from factory.errors import FactoryError
from factory.model.baselines import ConstantVelocity, Predictor, baselines
from factory.model.evaluate import episode_rollouts, evaluate
from factory.model.particle_train import train_particles
from factory.model.particles import ParticleModel
from factory.model.pieces import iter_chunks, iter_episodes
from factory.model.relational import RelationalPredictor, StepModel
from factory.model.rigid_train import episode_statics, train_relational
from factory.model.split import (
    Split,
    episode_info,
    ood_bands,
    quality_options,
    split_episodes,
)
from factory.model.stats import load_stats, write_json
from factory.model.train import TrainConfig, TrainResult
from factory.names import IMPORTANCE_WEIGHT
from factory.report import html, plots
from factory.report.bands import side_by_side
from factory.report.data_checks import check_dataset
from factory.report.particle_build import evaluate_particle_model, particle_preview
from factory.report.particle_checks import check_particles
from factory.report.probe_build import probe_scores
from factory.report.verdict import gap_closed, verdict
from factory.storage.dataset import Dataset
from factory.storage.opener import open_dataset


def evaluate_model(ds: Dataset, model: StepModel, split: Split, stats: dict, info: dict[int, dict],
                   horizon: int = 20, bands: dict[str, list[int]] | None = None) -> dict:
    """The model beside baselines fit on the same training episodes, on the test set, all OOD
    episodes and each holdout band's episodes (PhyWorld-style, side by side); a guided dataset's
    means weighted by its importance weights (`episode_weights`)."""
    predictors = [*baselines(ds.layout, stats, iter_chunks(ds, split.train)),
                  RelationalPredictor(model, episode_statics(ds, info))]
    bands = bands or {}
    sets = {"test": split.test, "ood": split.ood} | {k: v for k, v in bands.items() if len(bands) > 1}
    out = evaluate(predictors, ds, sets, stats, info, horizon, episode_weights(ds))
    for name in bands or {}:  # a lone band is the whole OOD set: evaluated once
        if name not in out and "ood" in out:
            out[name] = out["ood"]
    return out


def make_report(path: Path, out: Path | None = None, fmt: str | None = None,
                config: TrainConfig | None = None, holdout: Mapping[str, list[float] | list[list[float]]] | None = None,
                horizon: int = 20) -> dict:
    """Write `out` (default DATASET/report)/index.html, summary.json and model.pt; return the summary.

    Collision datasets get the rigid-body model; fluid and cloth datasets the particle model."""
    config = config or TrainConfig()
    start = time.perf_counter()
    ds = open_dataset(path, fmt)
    particles = is_particle_dataset(ds)
    out = Path(out) if out else ds.root / "report"
    out.mkdir(parents=True, exist_ok=True)
    quality = quality_options(ds, holdout)
    table = ds.episodes()
    info = episode_info(table)
    checks = check_particles(ds, info) if particles else check_dataset(ds, info)
    bands = ood_bands(table, quality.holdout)
    try:
        split = split_episodes(table, quality.holdout, seed=config.seed)
    except FactoryError as exc:  # every episode held out: the checks stand, there is nothing to train on
        split = Split(train=[], val=[], test=[], ood=sorted({e for band in bands.values() for e in band}))
        not_computed = [f"model, its evaluation and probes: {exc}"]
    else:
        not_computed = [] if split.test else [
            "in-distribution evaluation (rollout error, learnability, label accuracy, probes): no held-out test "
            f"episodes, all {len(split.train)} in-distribution went to training (3 or more leave some to test)"]
    trained: TrainResult[Any] | None = None  # a particle or a relational model
    evaluation: dict[str, Any] = {}
    probes: dict[str, Any] = {}
    if split.train and particles:
        trained = train_particles(ds, split, config, out=out / "model.pt")
        evaluation = evaluate_particle_model(ds, trained.model, split, horizon, bands)
    elif split.train:
        stats = load_stats(ds)
        trained = train_relational(ds, split, info, config, out=out / "model.pt")
        evaluation = evaluate_model(ds, trained.model, split, stats, info, horizon, bands)
        predictors: list[Predictor] = [ConstantVelocity(ds.layout),
                                       RelationalPredictor(trained.model, episode_statics(ds, info))]
        probes = {name: probe_scores(ds, info, predictors, ids)
                  for name, ids in (("test", split.test), ("ood", split.ood)) if ids}
    summary: dict[str, Any] = {
        "dataset": {"name": ds.manifest["recipe"]["name"], "path": str(ds.root), "format": ds.format,
                    "episodes": ds.manifest["counts"]["episodes"], "transitions": len(ds)},
        "quality": quality.model_dump(),
        "split": {k: len(v) for k, v in split.to_dict().items()},
        "training": None if trained is None else {"steps": trained.steps, "seconds": trained.seconds,
                                                  "steps_per_second": trained.steps_per_second,
                                                  "history": trained.history},
        "checks": checks,
        "evaluation": evaluation,
        "generalization": side_by_side(evaluation),
        "probes": probes,
        "label_gap_closed": {k: gap_closed(r["labels"]) for k, r in evaluation.items() if "labels" in r},
        "verdict": verdict(checks, evaluation, quality),
        "not_computed": not_computed,
    }
    weights = episode_weights(ds)
    if weights is not None:
        summary["importance_weighted"] = True
    figures = _figures(summary, out, info, weights)
    preview = None
    if trained is not None:
        model = trained.model  # a ParticleModel exactly when the dataset is of particles
        preview = (particle_preview(ds, model, split, out / "preview.png") if isinstance(model, ParticleModel)
                   else _rigid_preview(ds, model, split, info, out / "preview.png"))
    if preview:
        figures["preview"] = preview.name
    summary["seconds"] = time.perf_counter() - start
    write_json(out / "summary.json", summary)
    (out / "index.html").write_text(html.render(summary, figures))
    return summary


def episode_weights(ds: Dataset) -> dict[int, float] | None:
    """Episode → importance weight of a guided dataset (or one merged with a guided one); None for a
    dataset drawn from its recipe as written, whose episodes all weigh the same."""
    table = ds.episodes()
    if IMPORTANCE_WEIGHT not in table.column_names:
        return None
    return dict(zip(table["episode"].to_pylist(), ds.importance_weights(table).tolist(), strict=True))


def is_particle_dataset(ds: Dataset) -> bool:
    return ds.manifest["recipe"].get("kind", "collision") in ("fluid", "cloth")


def _figures(summary: dict, out: Path, info: dict[int, dict], weights: dict[int, float] | None) -> dict[str, str]:
    figures = {}
    if summary["training"]:
        figures["loss"] = plots.loss_curves(summary["training"]["history"], out / "loss.png")
    if rollout := plots.rollout_error(summary["evaluation"], out / "rollout.png"):
        figures["rollout"] = rollout
    if summary["checks"]["coverage"]:
        figures["coverage"] = plots.coverage(summary["checks"]["coverage"], out / "coverage.png")
    w = dict.fromkeys(info, 1.0) if weights is None else weights
    total = sum(w.values())
    rates = {k: sum(w[i] for i, e in info.items() if e["labels"][k]) / total
             for k, v in next(iter(info.values()))["labels"].items() if isinstance(v, bool)}
    if rates:
        figures["labels"] = plots.label_rates(rates, out / "labels.png")
    return {k: p.name for k, p in figures.items()}


def _rigid_preview(ds: Dataset, model: StepModel, split: Split, info: dict[int, dict],
                   path: Path) -> Path | None:
    episodes = list(iter_episodes(ds, split.test[:3]))
    runs = episode_rollouts(RelationalPredictor(model, episode_statics(ds, info)), episodes)
    previews = [(e.index, e.states, run) for e, run in zip(episodes, runs, strict=True)]
    return plots.episode_preview(previews, ds.layout, path) if previews else None

