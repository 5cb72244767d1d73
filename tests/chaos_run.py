"""The short chaos run as a background process (tests/test_chaos.py; started by tests/conftest.py).

Its output goes to a file, not a pipe, so a long report can never block it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--payments", "60", "--voids", "8", "--refunds", "8", "--memo-refunds", "8"]
ARGS += ["--kills", "4", "--restart-after", "4", "--timeout", "600", "--seed", "11"]
"""60 payments, 8 voids, 8 PayTrace refunds, 8 ERP memo refunds; at most 4 worker kills."""


@dataclass
class ChaosRun:
    """A running ``bench.chaos`` process and the file its output goes to."""

    KEY: ClassVar[pytest.StashKey[ChaosRun]] = pytest.StashKey()
    TIMEOUT: ClassVar[float] = 900
    """Seconds the test waits for the run to end; its own phases time out at 600 s."""

    process: subprocess.Popen[bytes]
    output: Path

    def report(self) -> str:
        """The run's output so far (its last 6,000 characters).

        Returns:
            The text.
        """
        return self.output.read_text("utf-8", "replace")[-6000:]

    def stop(self) -> None:
        """End the run if it is still going.

        SIGINT first, so the harness stops its stack (Temporal, simulator, workers, schemas);
        after 60 s its whole process group is killed.
        """
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)


def start_chaos_run() -> ChaosRun:
    """Start ``python -m bench.chaos`` with the short version's arguments.

    Returns:
        The running process and its output file.
    """
    handle, name = tempfile.mkstemp(prefix="tracepost-chaos-", suffix=".out")
    with os.fdopen(handle, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.chaos", *ARGS],
            cwd=ROOT,
            env={**os.environ, "TRACEPOST_LOG_LEVEL": "WARNING"},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stop() can kill it all, ^C reaches pytest
        )
    return ChaosRun(process, Path(name))
