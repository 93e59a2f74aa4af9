"""Give each Unity worker on a machine its own worker id (port = base_port + worker id).

Parallel workers (dask processes, threads) create their engines from the same recipe, so the
engine claims the first free id from `engine.worker_id` itself: an exclusive lock file per port,
held while the engine is open and dropped by the kernel if the process dies. ML-Agents' own port
check cannot do this alone: its gRPC server binds with SO_REUSEPORT, so two processes that check
at the same moment would both bind the port.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

LOCK_DIR = Path(tempfile.gettempdir()) / "factory-unity-ports"


class PortClaim:
    """An exclusive claim on one port of this machine, for as long as it is not released."""

    def __init__(self, port: int, fd: int):
        self.port, self._fd = port, fd

    @classmethod
    def try_claim(cls, port: int) -> PortClaim | None:
        LOCK_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(LOCK_DIR / f"{port}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return cls(port, fd)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = -1
