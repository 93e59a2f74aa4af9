"""`factory report`, `train` and `evaluate` from the command line: files, figures and a verdict."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("torch")
image = pytest.importorskip("matplotlib.image")

from factory.cli import main  # noqa: E402


def test_report_renders_html_figures_and_a_verdict(push_target_32, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", str(push_target_32), "--out", str(out), "--epochs", "6",
                 "--holdout", "ball.mass=0.2:0.3", "--holdout", "ball.mass=0.85:1.0"]) == 0
    printed = capsys.readouterr().out
    assert "verdict" in printed and str(out / "index.html") in printed
    page = (out / "index.html").read_text()
    assert "Verdict:" in page and "constant-velocity" in page
    sources = re.findall(r"<img src='([^']+)'", page)
    assert {"loss.png", "rollout.png", "coverage.png", "labels.png", "preview.png"} <= set(sources)
    for src in sources:
        pixels = image.imread(out / src)
        assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.std() > 0.01  # drawn, not blank
    summary = json.loads((out / "summary.json").read_text())
    assert isinstance(summary["verdict"]["passed"], bool)
    names = {c["name"] for c in summary["verdict"]["criteria"]}
    assert {"model / best baseline one-step error", "OOD / in-distribution one-step error"} <= names
    assert summary["split"]["ood"] > 0 and summary["checks"]["coverage"]["ball.mass"]["filled"] > 0
    assert summary["verdict"]["aspects"]["consistent"]
    bands = ["ood ball.mass 0.2–0.3", "ood ball.mass 0.85–1"]
    g = summary["generalization"]
    assert g["sets"] == ["test", *bands] and all(b in page for b in bands)
    for predictor in ("model", "linear", "constant-velocity", "zero-motion"):
        assert set(g["predictors"][predictor]) == set(g["sets"])
        assert len(g["predictors"][predictor]["test"]["rollout"]) == 20
    assert sum(g["episodes"][b] for b in bands) == summary["split"]["ood"]
    probes = summary["probes"]["test"]
    assert {"touch", "comes_to_rest"} <= set(probes) and 0 <= probes["touch"]["model"] <= 1
    assert probes["touch"]["items"] == 3 * summary["split"]["test"]  # ball-target, ball-blocker, target-blocker


def test_train_then_evaluate_a_checkpoint(push_target_32, tmp_path, capsys):
    ckpt = tmp_path / "m.pt"
    assert main(["train", str(push_target_32), "--format", "hdf5", "--epochs", "3", "--out", str(ckpt),
                 "--holdout", "ball.mass=0.2:0.3"]) == 0
    assert ckpt.is_file() and "steps/s" in capsys.readouterr().out
    assert main(["evaluate", str(push_target_32), "--model", str(ckpt), "--horizon", "5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"test", "ood"} <= set(result) and len(result["test"]["rollout"]["model"]) == 5


def test_bad_holdout_is_a_clear_error(push_target_32, capsys):
    assert main(["train", str(push_target_32), "--holdout", "ball.mass"]) == 1
    assert "PARAM=LOW:HIGH" in capsys.readouterr().err
