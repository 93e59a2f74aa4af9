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
    assert main(["report", str(push_target_32), "--out", str(out), "--epochs", "15"]) == 0
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


def test_train_then_evaluate_a_checkpoint(push_target_32, tmp_path, capsys):
    ckpt = tmp_path / "m.pt"
    assert main(["train", str(push_target_32), "--format", "hdf5", "--epochs", "3", "--out", str(ckpt),
                 "--holdout", "ball.mass=0.2:0.3"]) == 0
    assert ckpt.is_file() and "steps/s" in capsys.readouterr().out
    assert main(["evaluate", str(push_target_32), "--model", str(ckpt), "--horizon", "5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"test", "ood"} and len(result["test"]["rollout"]["model"]) == 5


def test_bad_holdout_is_a_clear_error(push_target_32, capsys):
    assert main(["train", str(push_target_32), "--holdout", "ball.mass"]) == 1
    assert "PARAM=LOW:HIGH" in capsys.readouterr().err
