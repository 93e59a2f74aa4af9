"""The report's figures, one PNG per function, drawn with matplotlib's Agg backend (no display)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from factory.contract.rollout import Layout
from factory.report.bands import band_sets

COLORS = {"model": "C3", "linear": "C2", "constant-velocity": "C1", "zero-motion": "C7"}


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def loss_curves(history: dict[str, list[float]], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(history["epoch"], history["train_loss"], label="train")
    ax.plot(history["epoch"], history["val_loss"], label="validation")
    ax.set(xlabel="epoch", ylabel="normalized MSE (training target)", yscale="log", title="Training loss")
    ax.legend()
    return _save(fig, path)


def rollout_error(evaluation: dict, path: Path) -> Path | None:
    """One panel per set: in distribution, then each holdout band (factory.report.bands); None without any set
    (a dataset too small to hold episodes out), where a figure would have no panel."""
    sets = [s for s in band_sets(evaluation) if s in evaluation]
    if not sets:
        return None
    fig, axes = plt.subplots(1, len(sets), figsize=(4.6 * len(sets), 3.8), squeeze=False)
    for ax, name in zip(axes[0], sets, strict=False):
        for predictor, errors in evaluation[name]["rollout"].items():
            ax.plot(np.arange(1, len(errors) + 1), errors, label=predictor, color=COLORS.get(predictor),
                    lw=2.5 if predictor == "model" else 1.5)
        title = "in distribution" if name == "test" else name
        ax.set(xlabel="horizon (recorded steps)", ylabel="position RMSE (m)", title=f"Rollout error, {title}")
        ax.legend(fontsize=8)
    return _save(fig, path)


def coverage(coverage: dict[str, dict], path: Path) -> Path:
    names = list(coverage)
    cols = min(4, max(len(names), 1))
    rows = max(1, -(-len(names) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names, strict=False):
        c = coverage[name]
        edges = np.asarray(c["edges"])
        ax.bar(edges[:-1], c["counts"], width=np.diff(edges), align="edge", edgecolor="white",
               color="C0" if c["filled"] >= 0.999 else "C1")
        ax.set_title(f"{name} ({100 * c['filled']:.0f}% bins)", fontsize=8)
        ax.tick_params(labelsize=7)
    return _save(fig, path)


def label_rates(labels: dict[str, float], path: Path) -> Path:
    names = sorted(labels)
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(names) + 1.2))
    ax.barh(names, [labels[n] for n in names], color="C0")
    ax.set(xlim=(0, 1), xlabel="fraction of episodes true", title="Episode labels")
    ax.tick_params(labelsize=8)
    return _save(fig, path)


def episode_preview(previews: list[tuple[int, np.ndarray, np.ndarray]], layout: Layout, path: Path) -> Path:
    """Top-down paths of every object: recorded (solid) against the model's rollout (dashed)."""
    fig, axes = plt.subplots(1, len(previews), figsize=(3.6 * len(previews), 3.6), squeeze=False)
    for ax, (index, true, pred) in zip(axes[0], previews, strict=False):
        object_paths(ax, layout, true, legend=True)
        object_paths(ax, layout, pred, ls="--")
        for k, obj in enumerate(layout.objects):
            ax.plot(*layout.field(true, obj, "pos")[0, :2], "o", color=f"C{k}", ms=4)
        ax.set(title=f"episode {index}", xlabel="x (m)", ylabel="y (m)")
        ax.set_aspect("equal", adjustable="datalim")
    axes[0][0].legend(fontsize=7)
    return _save(fig, path)


def point_preview(shown: list[tuple[int, np.ndarray, np.ndarray]], path: Path) -> Path:
    """Side views (x, z) of particles or vertices (N, 3): recorded against predicted, per episode."""
    fig, axes = plt.subplots(1, len(shown), figsize=(3.6 * len(shown), 3.2), squeeze=False)
    for ax, (index, true, pred) in zip(axes[0], shown, strict=False):
        ax.scatter(true[:, 0], true[:, 2], s=2, color="C0", label="recorded")
        ax.scatter(pred[:, 0], pred[:, 2], s=2, color=COLORS["model"], alpha=0.6, label="model")
        ax.set(title=f"episode {index}, last state", xlabel="x (m)", ylabel="z (m)")
        ax.set_aspect("equal", adjustable="datalim")
    axes[0][0].legend(fontsize=7, markerscale=4)
    return _save(fig, path)


def object_paths(ax, layout: Layout, states: np.ndarray, dims: tuple[int, int] = (0, 1), legend: bool = False,
                 **style) -> None:
    """Each object's path projected on two axes (x, y by default), in its colour C0, C1, … of layout order;
    shared by the report's preview and `factory preview` so an object keeps one colour everywhere."""
    for k, obj in enumerate(layout.objects):
        p = layout.field(states, obj, "pos")
        ax.plot(p[:, dims[0]], p[:, dims[1]], color=f"C{k}", label=obj if legend else None, **style)
