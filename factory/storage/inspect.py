"""`factory inspect`: what a dataset holds, at a glance."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from factory.names import EPISODE_COLUMNS, TRANSITION_COLUMNS, is_param_column
from factory.storage.location import Location
from factory.storage.opener import open_dataset


def summarize(path: str | Path | Location, fmt: str | None = None, storage_options: dict[str, Any] | None = None
              ) -> dict[str, Any]:
    ds = open_dataset(path, fmt, storage_options)
    m = ds.manifest
    episodes = ds.episodes()
    labels: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for name in episodes.column_names:
        if name in EPISODE_COLUMNS or pa.types.is_list(episodes.schema.field(name).type):
            continue
        values = np.asarray(episodes[name].to_numpy(zero_copy_only=False))
        target = params if is_param_column(name) else labels
        target[name] = _describe(values)
    transitions = ds.transitions()
    step_labels = [c for c in transitions.column_names
                   if c not in TRANSITION_COLUMNS and not pa.types.is_fixed_size_list(transitions.schema.field(c).type)]
    return {
        "name": m["recipe"]["name"],
        "path": str(ds.location),
        "format": ds.format,
        "formats": m["formats"],
        "engine": m["engine"],
        "recipe_hash": m["recipe_hash"],
        "seed": m["seed"],
        "counts": m["counts"] | {"shards": len(m["shards"])},
        "bytes": sum(f["bytes"] for s in m["shards"] for f in s["files"]),
        "state": {"size": m["features"]["state"]["shape"][0], "objects": m["layout"]["objects"]},
        "action": {"size": m["features"]["action"]["shape"][0], "unit": m["features"]["action"]["unit"]},
        "step_labels": {c: _describe(np.asarray(transitions[c].to_numpy(zero_copy_only=False)))
                        for c in step_labels},
        "episode_labels": labels,
        "params": params,
        "quarantined": m.get("quarantined", []),
        "merged_from": [src["location"] for src in m["merge"]["sources"]] if "merge" in m else None,
    }


def _describe(values: np.ndarray) -> dict[str, float]:
    if values.dtype == bool:
        return {"true": float(values.mean()) if len(values) else math.nan}
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    if len(finite) == 0:
        return {"n": 0}
    return {"mean": float(finite.mean()), "min": float(finite.min()), "max": float(finite.max()),
            "n": len(finite)}


def render(s: dict[str, Any]) -> str:
    c = s["counts"]
    lines = [
        f"{s['name']}  ({s['path']}, reading {s['format']} of {', '.join(s['formats'])})",
        f"  engine      {s['engine']['name']} {s['engine']['version']} ({s['engine']['backend']})",
        f"  recipe      sha256 {s['recipe_hash'][:16]}…  seed {s['seed']}" if s["recipe_hash"] else
        f"  merged from {', '.join(s['merged_from'] or [])}",
        f"  counts      {c['episodes']} episodes, {c['transitions']} transitions, {c['contacts']} contacts, "
        f"{c['shards']} shards, {s['bytes'] / 1e6:.2f} MB",
        f"  state       {s['state']['size']} float32 ({', '.join(s['state']['objects'])}: pos, quat, vel, ang_vel)",
        f"  action      {s['action']['size']} float32 ({s['action']['unit']})",
        "  step labels",
        *(f"    {k:<40} {_fmt(v)}" for k, v in s["step_labels"].items()),
        "  episode labels",
        *(f"    {k:<40} {_fmt(v)}" for k, v in s["episode_labels"].items()),
        "  randomized parameters",
        *(f"    {k:<40} {_fmt(v)}" for k, v in s["params"].items() if v.get("min") != v.get("max")),
    ]
    if s["quarantined"]:  # blown-up episodes kept out of the data; the manifest says why
        lines.append(f"  quarantined {len(s['quarantined'])} episodes (not in the data)")
        lines += [f"    episode {q['episode']:<8} seed {q['seed']:<6} {q['reason']}" for q in s["quarantined"]]
    return "\n".join(lines)


def _fmt(d: dict[str, float]) -> str:
    if "true" in d:
        return f"{100 * d['true']:.1f}% true"
    if d.get("n", 0) == 0:
        return "no finite values"
    return f"mean {d['mean']:.4g}  min {d['min']:.4g}  max {d['max']:.4g}  (n={d['n']})"
