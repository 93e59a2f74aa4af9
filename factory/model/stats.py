"""Per-feature normalization statistics, computed once in one streaming pass, kept as stats.json.

Stored beside the data (LeRobot keeps its stats.json the same way) so every loader, model and
report normalizes identically; a fingerprint of the manifest tells when the file is stale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from factory.contract.rollout import Layout
from factory.model.pieces import iter_chunks
from factory.storage.dataset import Dataset
from factory.storage.location import atomic_path

STATS = "stats.json"
STATS_VERSION = 2  # bump when FEATURES change, so older files are recomputed
FEATURES = ("state", "action", "delta", "residual")
# delta = next_state - state (scales one-step errors); residual = next_state - constant-velocity
# prediction (what the rigid model learns)


@dataclass
class RunningStats:
    """Mean and variance merged chunk by chunk (Chan et al.), plus min and max; float64 inside."""

    count: int = 0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64)
        n = len(x)
        if n == 0:
            return
        mean, m2 = x.mean(0), ((x - x.mean(0)) ** 2).sum(0)
        if self.count == 0:
            self.count, self.mean, self.m2, self.low, self.high = n, mean, m2, x.min(0), x.max(0)
            return
        total = self.count + n
        assert self.mean is not None and self.m2 is not None and self.low is not None and self.high is not None
        d = mean - self.mean
        self.mean = self.mean + d * n / total
        self.m2 = self.m2 + m2 + d ** 2 * self.count * n / total
        self.low, self.high = np.minimum(self.low, x.min(0)), np.maximum(self.high, x.max(0))
        self.count = total

    def to_dict(self, names: list[str]) -> dict:
        assert self.mean is not None and self.m2 is not None and self.low is not None and self.high is not None
        std = np.sqrt(self.m2 / max(self.count, 1))
        return {"names": names, "count": self.count, "mean": self.mean.tolist(), "std": std.tolist(),
                "min": self.low.tolist(), "max": self.high.tolist()}


def fingerprint(ds: Dataset) -> str:
    m = ds.manifest
    return f"v{STATS_VERSION}:{m['recipe_hash']}:{m['counts']['transitions']}:{m['created']}"


def compute_stats(ds: Dataset) -> dict:
    running = {f: RunningStats() for f in FEATURES}
    for chunk in iter_chunks(ds):
        running["state"].add(chunk.state)
        running["action"].add(chunk.action)
        running["delta"].add(chunk.next_state - chunk.state)
        running["residual"].add(chunk.next_state - _constant_velocity(chunk.state, ds.layout))
    names = {"state": ds.layout.state_names, "action": ds.layout.action_names,
             "delta": ds.layout.state_names, "residual": ds.layout.state_names}
    return {"fingerprint": fingerprint(ds)} | {f: running[f].to_dict(names[f]) for f in FEATURES}


def _constant_velocity(state: np.ndarray, layout: Layout) -> np.ndarray:
    import torch  # only here: stats of the plain features need no torch

    from factory.model.kinematics import constant_velocity_of

    with torch.no_grad():
        return constant_velocity_of(torch.from_numpy(np.array(state, np.float32)), layout).numpy()


def load_stats(ds: Dataset, refresh: bool = False) -> dict:
    """stats.json of the dataset, computed and written first if missing or stale."""
    path = ds.root / STATS
    if path.is_file() and not refresh:
        stats = json.loads(path.read_text())
        if stats.get("fingerprint") == fingerprint(ds):
            return stats
    stats = compute_stats(ds)
    write_json(path, stats)
    return stats


def scale(stats: dict, feature: str, floor: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) as float32 arrays; a constant feature gets std 1 so it normalizes to 0."""
    mean = np.asarray(stats[feature]["mean"], np.float32)
    std = np.asarray(stats[feature]["std"], np.float32)
    return mean, np.where(std > floor, std, 1.0).astype(np.float32)


def write_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, default=float) + "\n")
