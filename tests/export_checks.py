"""What every export test compares: a dataset's transitions and episodes as plain arrays, and the
same arrays as a training library's loader returns them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from factory import open_dataset
from factory.export.source import Source


def source_arrays(root: Path) -> tuple[dict[str, np.ndarray], dict[int, dict]]:
    """Every transition column as an array in (episode, step) order, and each episode's row."""
    source = Source(open_dataset(root))
    cols: dict[str, list[np.ndarray]] = {}
    rows: dict[int, dict] = {}
    for block in source.blocks():
        arrays = {"episode": block.column("episode"), "step": block.column("step"),
                  **{k: block.matrix(k) for k in ("state", "action", "next_state")},
                  **{k: block.points(k) for p in source.layout.points for k in (p, f"next_{p}")},
                  **{k: block.column(k) for k in source.step_labels}}
        for k, v in arrays.items():
            cols.setdefault(k, []).append(v)
        rows.update({ep.index: {"params": ep.params, "labels": ep.labels} for ep in block.slices()})
    return {k: np.concatenate(v) for k, v in cols.items()}, rows


def assert_same_transitions(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    """Every source column present in `got`, row for row, equal at float32 (labels exactly)."""
    order = np.lexsort((got["step"], got["episode"]))
    assert len(order) == len(want["episode"]), f"{len(order)} transitions, source has {len(want['episode'])}"
    for name, values in want.items():
        assert name in got, f"{name} missing"
        have = np.asarray(got[name])[order]
        if values.dtype.kind == "f":
            np.testing.assert_array_equal(have.astype(np.float32), values.astype(np.float32), err_msg=name)
        else:
            np.testing.assert_array_equal(have, values, err_msg=name)


def assert_same_episode(got_params: dict, got_labels: dict, want: dict) -> None:
    assert got_params.keys() == want["params"].keys()
    np.testing.assert_allclose([float(got_params[k]) for k in want["params"]],
                               [float(v) for v in want["params"].values()], rtol=0, atol=0)
    assert got_labels.keys() >= want["labels"].keys() - {k for k, v in want["labels"].items() if v is None}
    for k, v in want["labels"].items():
        if v is not None and not (isinstance(v, float) and np.isnan(v)):
            assert got_labels[k] == v, k


def manifest_sha256(root: Path) -> str:
    return hashlib.sha256((root / "manifest.json").read_bytes()).hexdigest()
