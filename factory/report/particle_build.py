"""The fluid / cloth half of `factory report`: the particle model, its evaluation and its preview."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from factory.model.particle_data import iter_point_episodes
from factory.model.particle_evaluate import (
    ConstantVelocity,
    PointPredictor,
    ZeroMotion,
    evaluate_particles,
    rollout,
)
from factory.model.particles import ParticleModel, ParticlePredictor
from factory.model.split import Split
from factory.report import plots
from factory.storage.dataset import Dataset


def evaluate_particle_model(ds: Dataset, model: ParticleModel, split: Split, horizon: int = 20,
                            bands: dict[str, list[int]] | None = None) -> dict:
    """The model beside zero motion and constant velocity on the test, OOD and each band's episodes;
    one-step errors are scaled by the training displacement variance the model normalizes with."""
    predictors: list[PointPredictor] = [ZeroMotion(), ConstantVelocity(), ParticlePredictor(model)]
    bands = bands or {}
    sets = {"test": split.test, "ood": split.ood} | {k: v for k, v in bands.items() if len(bands) > 1}
    out = evaluate_particles(predictors, ds, sets, model.history, float(model.vel_std) ** 2, horizon)
    for name in bands or {}:  # a lone band is the whole OOD set
        if name not in out and "ood" in out:
            out[name] = out["ood"]
    return out


def particle_preview(ds: Dataset, model: ParticleModel, split: Split, out: Path) -> Path | None:
    """Side view of up to three test episodes' last state: recorded against the whole-episode rollout."""
    shown = []
    for e in iter_point_episodes(ds, split.test[:3]):
        padded = e.padded(model.history, ds.layout.record_dt)
        pred = rollout(ParticlePredictor(model), e, padded, np.zeros(1, int), len(e.actions), model.history)
        shown.append((e.index, e.pos[-1], pred[0, -1]))
    return plots.point_preview(shown, out) if shown else None
