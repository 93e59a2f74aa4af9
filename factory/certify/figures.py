"""One certificate figure: a number measured from the data, the threshold it is held to and whether
it holds, so a reader of `validity.json` needs no code to judge it."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np


def figure(name: str, value: float, threshold: float, holds: Literal["below", "above"], unit: str = "",
           **detail: Any) -> dict[str, Any]:
    """A figure that passes when `value` is at most (`below`) or at least (`above`) `threshold`."""
    passed = value <= threshold if holds == "below" else value >= threshold
    return {"name": name, "value": float(value), "threshold": float(threshold), "holds": holds,
            "unit": unit, "passed": bool(passed), **detail}


def percentiles(values: np.ndarray, qs: tuple[float, ...] = (50, 99, 99.9)) -> dict[str, float]:
    """Named percentiles ('p50', 'p99', 'p99.9') and the max of `values`; zeros when there are none."""
    if not len(values):
        return {**{f"p{q:g}": 0.0 for q in qs}, "max": 0.0}
    return {**{f"p{q:g}": float(np.percentile(values, q)) for q in qs}, "max": float(np.max(values))}
