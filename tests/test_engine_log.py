"""Engine output written to the descriptors themselves (C++ compilers, child processes) goes to the log."""

from __future__ import annotations

import os
import subprocess

from factory.generate.engine_log import LOG_FILE, engine_output_to_log
from factory.storage.location import location


def _noise() -> None:
    os.write(2, b"[W frontend_ir.cpp] compiler noise\n")
    print("[Genesis] logger line")
    subprocess.run(["sh", "-c", "echo child noise >&2"], check=True)


def test_engine_noise_goes_to_the_run_log_and_the_terminal_stays_clean(tmp_path, capfd):
    out = tmp_path / "ds"
    (out / ".factory").mkdir(parents=True)
    (out / ".factory" / "run.json").write_text("{}")
    with engine_output_to_log(location(out)) as terminal:
        _noise()
        print("progress", file=terminal.err, flush=True)
    captured = capfd.readouterr()
    assert "noise" not in captured.err + captured.out and "[Genesis]" not in captured.out
    assert "progress" in captured.err
    log = (out / LOG_FILE).read_text()
    assert "compiler noise" in log and "logger line" in log and "child noise" in log
    assert terminal.log is None


def test_a_run_that_never_started_writes_nothing_into_its_output(tmp_path, capfd):
    out = tmp_path / "ds"
    with engine_output_to_log(location(out)) as terminal:
        _noise()
    assert not out.exists()
    assert terminal.log is not None and "compiler noise" in terminal.log.read_text()
    terminal.log.unlink()


def test_verbose_shows_everything(tmp_path, capfd):
    with engine_output_to_log(location(tmp_path / "ds"), verbose=True):
        _noise()
    captured = capfd.readouterr()
    assert "compiler noise" in captured.err and "child noise" in captured.err and "[Genesis]" in captured.out
