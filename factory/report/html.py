"""report/index.html: one self-describing page a data team can open, keep and show."""

from __future__ import annotations

from html import escape

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.pass{color:#0a7d28}.fail{color:#b3261e}
.banner{font-size:1.6em;font-weight:bold;padding:.4em .8em;border-radius:6px;display:inline-block}
.banner.pass{background:#e3f5e7}.banner.fail{background:#fbe4e2}img{max-width:100%;border:1px solid #eee}"""


def _table(header: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return f'<span class="{"pass" if value else "fail"}">{"pass" if value else "FAIL"}</span>'
    if isinstance(value, float):
        return f"{value:.4g}"
    return escape(str(value))


def render(summary: dict, figures: dict[str, str]) -> str:
    v = summary["verdict"]
    status = "pass" if v["passed"] else "fail"
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Quality report: "
             f"{escape(summary['dataset']['name'])}</title><style>{CSS}</style></head><body>",
             f"<h1>Quality report: {escape(summary['dataset']['name'])}</h1>",
             f"<p>{escape(summary['dataset']['path'])} — {summary['dataset']['episodes']} episodes, "
             f"{summary['dataset']['transitions']} transitions ({escape(summary['dataset']['format'])}); "
             f"report took {summary['seconds']:.1f} s.</p>",
             f"<div class='banner {status}'>Verdict: {status.upper()}</div>",
             "<p>" + ", ".join(f"{escape(a)}: {_cell(ok)}" for a, ok in v["aspects"].items()) + "</p>",
             "<h2>Criteria</h2>",
             _table(["aspect", "criterion", "value", "threshold", "result"],
                    [[c["aspect"], c["name"], c["value"],
                      ("≥ " if c["higher_is_better"] else "≤ ") + f"{c['threshold']:.4g}", c["passed"]]
                     for c in v["criteria"]])]
    if summary.get("importance_weighted"):
        parts.append("<p>A guided dataset (docs/guided.md): every error, accuracy and label rate below is weighted "
                     "by its episodes' importance weights, so it estimates the recipe's own distribution.</p>")
    if summary.get("not_computed"):
        parts += ["<h2>Not computed</h2><ul>", *[f"<li>{escape(n)}</li>" for n in summary["not_computed"]], "</ul>"]
    ev = summary.get("evaluation") or {}
    for set_name, title in (("test", "Held-out episodes (in distribution)"), ("ood", "Out of distribution")):
        if set_name not in ev:
            continue
        one = ev[set_name]["one_step"]
        fields = list(next(iter(one.values()))["rmse"])
        parts += [f"<h2>{title}: {ev[set_name]['episodes']} episodes</h2>", "<h3>One-step error</h3>",
                  _table(["predictor", "normalized MSE", *[f"RMSE {f}" for f in fields]],
                         [[n, r["nmse"], *[r["rmse"][f] for f in fields]] for n, r in one.items()])]
        parts += _label_tables(ev[set_name])
    if summary.get("generalization"):
        parts += _band_table(summary["generalization"])
    if summary.get("probes"):
        parts += _probe_table(summary["probes"])
    for key, title in (("loss", "Loss curves"), ("rollout", "Rollout error vs horizon"),
                       ("preview", "Episode preview: recorded vs model rollout"),
                       ("coverage", "Coverage of randomized parameters"), ("labels", "Label distribution")):
        if key in figures:
            parts.append(f"<h2>{title}</h2><img src='{escape(figures[key])}' alt='{escape(title)}'>")
    parts += ["<h2>Data checks</h2>", _table(["check", "value"], _check_rows(summary["checks"])),
              "<p>Full numbers: <a href='summary.json'>summary.json</a>.</p></body></html>"]
    return "\n".join(parts)


def _label_tables(result: dict) -> list[str]:
    """Rigid: yes/no label accuracy from rollouts; particles: label error from rollouts."""
    if "labels" in result:
        labels = result["labels"]
        runs = [r for r in labels if r != "positive_rate"]
        return ["<h3>Label accuracy from whole-episode rollouts</h3>",
                _table(["label", "positive rate", *runs],
                       [[n, labels["positive_rate"][n], *[labels[r][n] for r in runs]]
                        for n in labels["positive_rate"]])]
    errors = result.get("label_error") or {}
    runs = list(errors)
    if not runs:
        return []
    return ["<h3>Mean absolute label error, labels read out of whole-episode rollouts</h3>",
            _table(["label", *runs], [[n, *[errors[r][n] for r in runs]] for n in errors[runs[0]]])]


def _band_table(g: dict) -> list[str]:
    """One row per predictor: one-step error and position RMSE at each horizon, per set, side by side."""
    sets = g["sets"]
    horizons = sorted({int(h) for p in g["predictors"].values() for r in p.values() for h in r["position_rmse"]})
    header = ["predictor"] + [f"{s} ({g['episodes'][s]} ep): {m}" for s in sets
                              for m in ["one-step nMSE", *[f"pos RMSE @{h} m" for h in horizons]]]
    rows = [[name] + [v for s in sets for v in (by_set[s]["one_step_nmse"],
                                                *[by_set[s]["position_rmse"].get(
                                                    h, by_set[s]["position_rmse"].get(str(h))) for h in horizons])]
            for name, by_set in g["predictors"].items()]
    return ["<h2>In distribution vs each out-of-distribution band</h2>", _table(header, rows)]


def _probe_table(probes: dict) -> list[str]:
    """Per set and probe kind: the model's rollout answers beside the readout ceiling, majority and chance."""
    parts = ["<h2>Physical-reasoning probes answered through rollouts</h2>"]
    for set_name, kinds in probes.items():
        if not kinds:
            continue
        runs = [k for k in next(iter(kinds.values())) if k not in ("majority", "majority_answer", "chance", "items")]
        parts += [f"<h3>{escape(set_name)}</h3>",
                  _table(["probe", "items", *runs, "majority", "chance"],
                         [[k, r["items"], *[r[run] for run in runs], f"{r['majority']:.3g} ({r['majority_answer']})",
                           r["chance"]] for k, r in kinds.items()])]
    return parts


def _check_rows(c: dict) -> list[list[object]]:
    rows: list[list[object]] = [["non-finite values", c["nonfinite"]]]
    if "penetration" in c:
        rows += [["max / p99.9 / p99 penetration (m)", f"{c['penetration']['max']:.4g} / "
                  f"{c['penetration']['p999']:.4g} / {c['penetration']['p99']:.4g}"]]
    if "energy_gain" in c:
        rows += [["max / median energy gain without action", f"{c['energy_gain']['max']:.4g} / "
                  f"{c['energy_gain']['median']:.4g}"],
                 ["episodes gaining most energy", ", ".join(map(str, c["energy_gain"]["worst_episodes"]))],
                 ["push response residual (median over pushes)", c["action_residual"]["median"]]]
    for robot, t in c.get("tracking", {}).items():
        rows += [[f"{robot} tracking error median / p99 / max ({t['unit']})",
                  f"{t['median']:.4g} / {t['p99']:.4g} / {t['max']:.4g}"]]
    if "causality" in c:
        k = c["causality"]
        rows += [["resting objects moving before any touch (episodes)", ", ".join(map(str, k["episodes"])) or "none"],
                 ["largest shift before a touch (m)", k["worst"]]]
    if "points_escaped" in c:
        e = c["points_escaped"]
        rows += [["episodes losing points (fraction)", e["fraction"]],
                 ["episodes with points outside the walls", ", ".join(map(str, e["outside_walls"])) or "none"],
                 ["episodes labelled not conserved", ", ".join(map(str, e["labelled_not_conserved"])) or "none"]]
    if "compressed" in c:
        rows += [[f"liquid episodes compressed below {c['compressed']['min_volume_ratio']:g} (fraction)",
                  c["compressed"]["fraction"]]]
    rows += [["label mismatches", ", ".join(f"{k}: {n}" for k, n in c["label_mismatch"]["by_label"].items())
              or "none"],
             ["duplicate episodes (fraction)", c["duplicates"]["fraction"]]]
    return rows
