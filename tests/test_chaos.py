"""The chaos harness's short version: a few faults of every kind, every invariant checked.

``bench/chaos.py`` runs as its own process against a stack of real processes (Temporal dev
server, simulator, two workers, PostgreSQL); it exits 1 on any violation or secret-scan finding.
The long version's figures are in docs/benchmarks.md.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dbs import require_pg

pytestmark = pytest.mark.chaos  # deselected unless TRACEPOST_CHAOS=1 (tests/conftest.py)
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(900)
def test_the_short_chaos_run_keeps_every_invariant():
    require_pg()
    args = ["--payments", "60", "--voids", "8", "--refunds", "8", "--memo-refunds", "8"]
    args += ["--kills", "4", "--restart-after", "4", "--timeout", "600", "--seed", "11"]
    done = subprocess.run(
        [sys.executable, "-m", "bench.chaos", *args],
        cwd=ROOT,
        env={**os.environ, "TRACEPOST_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=880,
        check=False,
    )
    report = done.stdout + done.stderr[-3000:]
    assert done.returncode == 0, report
    assert "violations: 0" in done.stdout and "secret scan: 0 findings" in done.stdout, report
    kills = re.search(r"(\d+) worker SIGKILLs, 1 Temporal restart", done.stdout)
    assert kills is not None and int(kills.group(1)) >= 1, report
