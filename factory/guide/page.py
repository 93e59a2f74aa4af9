"""The page of a `factory loop`: test error against episodes, the uniform arm beside the guided one."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

ARMS = ("uniform", "guided")


def write_page(result: dict[str, Any], out: Path) -> Path:
    """`out`/index.html and its figure `out`/loop.png."""
    figure = _figure(result, out / "loop.png")
    rows = "".join(f"<tr><td>{r['round']}</td><td>{r['episodes']}</td>"
                   + "".join(f"<td>{r[a]['rollout']:.4g}</td><td>{r[a]['one_step']:.4g}</td>" for a in ARMS)
                   + f"<td>{_change(r)}</td></tr>" for r in result["rounds"])
    plan, settings = result["plan"], result["settings"]
    budget = f"{plan['train_steps']} steps" if plan.get("train_steps") else f"{plan['train_seconds']:g} s"
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Closed loop: {escape(result['recipe'])}"
            "</title><style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:.2em .8em;"
            "border-bottom:1px solid #ddd;text-align:right}</style></head><body>"
            f"<h1>Closed loop: {escape(result['recipe'])}</h1>"
            f"<p>{plan['rounds']} rounds of {plan['episodes']} episodes; each model trained for {budget}; "
            f"scored on the same {plan['test_episodes']} uniform test episodes "
            f"({escape(result['test']['path'])}). Guided by {escape(settings['target'])} error at "
            f"{settings['horizon']} steps, strength {settings['strength']:g}, explore {settings['explore']:g}."
            f"</p><img src='{figure.name}' alt='test error against episodes'>"
            "<table><tr><th>round</th><th>episodes</th><th>uniform: rollout (m)</th><th>one-step</th>"
            "<th>guided: rollout (m)</th><th>one-step</th><th>guided vs uniform (rollout)</th></tr>"
            f"{rows}</table></body></html>")
    path = out / "index.html"
    path.write_text(page)
    return path


def _change(row: dict[str, Any]) -> str:
    return f"{100 * (row['guided']['rollout'] / row['uniform']['rollout'] - 1):+.1f}%"


def _figure(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    episodes = [r["episodes"] for r in result["rounds"]]
    for ax, key, label in ((axes[0], "rollout", f"{result['settings']['horizon']}-step position RMSE (m)"),
                           (axes[1], "one_step", "one-step normalized error")):
        for arm in ARMS:
            ax.plot(episodes, [r[arm][key] for r in result["rounds"]], "o-", label=arm)
        ax.set(xlabel="training episodes", ylabel=label)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
