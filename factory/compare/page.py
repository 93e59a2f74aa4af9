"""summary.json and index.html of `factory compare`, with its figures (matplotlib, Agg)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from factory.report.html import CSS, _table


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path.name


def figures(summary: dict, outcomes: dict[str, dict[str, np.ndarray]], out: Path) -> dict[str, str]:
    figs = {}
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for other, div in summary["divergence"].items():
        ax.plot(div["t"], div["median"], label=f"{other}: median")
        ax.fill_between(div["t"], 0, div["p90"], alpha=0.2, label=f"{other}: 90th percentile")
    ax.set(xlabel="time (s)", ylabel=f"position gap to {summary['reference']} (m)", title="Trajectory divergence")
    ax.legend()
    figs["divergence"] = _save(fig, out / "divergence.png")

    fig, ax = plt.subplots(figsize=(6, 3.2))
    for k, (other, agree) in enumerate(summary["labels"].items()):
        names = list(agree)
        ax.bar(np.arange(len(names)) + 0.4 * k, [agree[n]["agreement"] for n in names], width=0.4, label=other)
        ax.set_xticks(np.arange(len(names)), names, rotation=20)
    ax.set(ylim=(0, 1.05), ylabel=f"episodes agreeing with {summary['reference']}", title="Label agreement")
    ax.legend()
    figs["labels"] = _save(fig, out / "labels.png")

    names = list(next(iter(outcomes.values())))[:9]
    cols = 3
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(11, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        samples = {engine: _finite(values[name]) for engine, values in outcomes.items()}
        edges = _bins(list(samples.values()))
        note = ""
        if edges is None:
            note = " (no finite values)"
        elif len(edges) == 2:
            note = f" (constant, {edges.mean():.4g})"
        for engine, values in samples.items():
            if edges is not None:
                ax.hist(values, bins=edges, alpha=0.5, label=engine)
        ax.set_title(name + note, fontsize=9)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend()
    figs["outcomes"] = _save(fig, out / "outcomes.png")

    laws = [law for law in next(iter(summary["laws"].values()))
            if any(summary["laws"][e][law]["n"] for e in summary["laws"])]
    if laws:
        fig, axes = plt.subplots(1, len(laws), figsize=(4 * len(laws), 3.2), squeeze=False)
        for ax, law in zip(axes[0], laws, strict=False):
            data = [summary["laws"][e][law]["values"] or [np.nan] for e in summary["laws"]]
            ax.boxplot(data, tick_labels=list(summary["laws"]))
            ax.axhline(0, color="k", lw=0.5)
            ax.set_title(f"{law} residual", fontsize=10)
        figs["laws"] = _save(fig, out / "laws.png")
    return figs


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, float)
    return values[np.isfinite(values)]


def _bins(samples: list[np.ndarray], n: int = 20) -> np.ndarray | None:
    """Bin edges shared by every engine's sample of one measure (so their bars line up), or None without a
    value. A measure constant up to rounding (a resting ball's height) gets one bin around it: numpy cannot
    split a range of 1e-17 into 20 finite bins ("Too many bins for data range")."""
    values = np.concatenate(samples)
    if not len(values):
        return None
    low, high = float(values.min()), float(values.max())
    if high - low <= 1e-9 * max(1.0, abs(low), abs(high)):
        half = max(abs(low) * 1e-3, 1e-6)
        return np.array([low - half, high + half])
    return np.linspace(low, high, n + 1)


def _robot_tables(summary: dict) -> list[str]:
    """The robots' joint and tool gaps between engines, and their labels side by side."""
    if "robots" not in summary:
        return []
    ref, parts = summary["reference"], ["<h2>Robots</h2>"]
    for other, comparison in summary["robots"].items():
        gaps = comparison["robots"]
        parts.append(_table([f"robot ({other} vs {ref})", "joint gap, mean (rad)", "joint gap, max (rad)",
                             "tool gap, mean (m)", "tool gap, max (m)"],
                            [[name, g["joint_gap_rad"]["mean"], g["joint_gap_rad"]["max"], g["tool_gap_m"]["mean"],
                              g["tool_gap_m"]["max"]] for name, g in gaps.items()]))
        rows = []
        for name, values in comparison["labels"].items():
            kind = "rate" if f"rate_{ref}" in values else "mean"
            side = [values.get(f"{kind}_{ref}", "-"), values.get(f"{kind}_{other}", "-")]
            rows.append([name, *side, values.get("agreement", "-"), _or_dash(values.get("mean_abs_difference"))])
        parts.append(_table([f"label ({other} vs {ref})", ref, other, "agreement", "mean |difference|"], rows))
    return parts


def _or_dash(value) -> object:
    return "-" if value is None else value


def write(summary: dict, outcomes: dict[str, dict[str, np.ndarray]], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    figs = figures(summary, outcomes, out)
    slim = json.loads(json.dumps(summary))
    for laws in slim["laws"].values():
        for law in laws.values():
            law.pop("values")
    (out / "summary.json").write_text(json.dumps(slim, indent=2, allow_nan=True))
    ref = summary["reference"]
    parts = [f"<h1>{escape(summary['recipe'])}: {escape(', '.join(summary['engines']))}</h1>",
             f"<p>{summary['episodes']} episodes, the same sampled parameters and actions on every engine; "
             f"differences are against {escape(ref)}.</p>",
             _table(["engine", "version"], [[e, v] for e, v in summary["versions"].items()]),
             "<h2>Trajectories</h2>",
             _table(["engine", "median gap at the end (m)", "seconds within 1 cm", "seconds within 5 cm"],
                    [[o, d["median"][-1], summary["horizon"][o]["1cm"], summary["horizon"][o]["5cm"]]
                     for o, d in summary["divergence"].items()]),
             f'<img src="{figs["divergence"]}">', "<h2>Labels</h2>"]
    for other, agree in summary["labels"].items():
        parts.append(_table([f"label ({other} vs {ref})", "agreement", "compared", "mean |difference|"],
                            [[n, a["agreement"], a["compared"], a["mean_abs_difference"] if a["mean_abs_difference"]
                              is not None else "-"] for n, a in agree.items()]))
    parts.append(f'<img src="{figs["labels"]}">')
    parts += _robot_tables(summary)
    parts.append("<h2>Outcome distributions</h2>")
    for other, dist in summary["distributions"].items():
        parts.append(_table(["measure", "Wasserstein-1", "KS", f"mean {ref}", f"mean {other}"],
                            [[n, d["wasserstein"], d["ks"], d[f"mean_{ref}"], d[f"mean_{other}"]]
                             for n, d in dist.items()]))
    parts += [f'<img src="{figs["outcomes"]}">', "<h2>Analytic laws</h2>",
              _table(["engine", "law", "cases", "median residual", "median |residual|"],
                     [[e, law, r["n"], r["median"] if r["median"] is not None else "-",
                       r["median_abs"] if r["median_abs"] is not None else "-"]
                      for e, laws in summary["laws"].items() for law, r in laws.items()])]
    if "laws" in figs:
        parts.append(f'<img src="{figs["laws"]}">')
    html = f"<!doctype html><meta charset=utf-8><title>compare {escape(summary['recipe'])}</title><style>{CSS}</style>"
    (out / "index.html").write_text(html + "\n".join(parts))
    return out / "index.html"
