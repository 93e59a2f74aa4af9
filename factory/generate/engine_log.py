"""Engine noise (kernel compiler warnings, Genesis' logger) goes to a log file, not the terminal.

Quadrants' compiler writes its warnings straight to file descriptor 2 from C++, so redirecting
`sys.stderr` is not enough: the descriptors 1 and 2 themselves point at the log while a run is
in progress, for this process and the helper and worker processes it starts (and `sys.stdout` and
`sys.stderr` with them, wherever they pointed). What the factory
itself says (progress bar, messages) goes to a copy of the terminal's descriptors taken first.
The log is written to a temporary file and moved under the output's `.factory/` at the end, so
a run refused before it starts writes nothing into its output.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from factory.generate.resume import RUN_FILE, STATE_DIR
from factory.storage.location import Location

LOG_FILE = f"{STATE_DIR}/engine.log"


@dataclass
class Terminal:
    """Where the factory talks to the user while engine output is diverted."""

    out: IO[str]
    err: IO[str]
    log: Path | None  # the diverted engine output, until it is kept under the output


@contextlib.contextmanager
def engine_output_to_log(out: Location, verbose: bool = False) -> Iterator[Terminal]:
    """Divert descriptors 1 and 2 to a log for the block; on leaving, keep the log as `OUT/.factory/engine.log`
    if the run wrote its record there, else leave it in the temporary folder (its path is in `Terminal.log`)."""
    if verbose:
        yield Terminal(sys.stdout, sys.stderr, None)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd, name = tempfile.mkstemp(prefix="factory-engine-", suffix=".log")
    terminal = Terminal(os.fdopen(os.dup(saved[0]), "w", buffering=1),
                        os.fdopen(os.dup(saved[1]), "w", buffering=1), Path(name))
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    streams = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = open(os.dup(1), "w", buffering=1)  # noqa: SIM115 - closed below
    try:
        yield terminal
    finally:
        sys.stdout.close()
        sys.stdout, sys.stderr = streams
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for d in saved:
            os.close(d)
        terminal.out.close()
        terminal.err.close()
        log, terminal.log = terminal.log, None
        assert log is not None
        if out.is_file(RUN_FILE):
            out.write_bytes(LOG_FILE, log.read_bytes())
        elif log.stat().st_size:
            terminal.log = log  # the run did not get going: the log stays where it is for the user to read
        if terminal.log is None:
            log.unlink()
