"""The chaos harness's short version: a few faults of every kind, every invariant checked.

``bench/chaos.py`` runs as its own process against a stack of real processes (Temporal dev
server, simulator, two workers, PostgreSQL); it exits 1 on any violation or secret-scan finding.
Most of its time is spent waiting for activity timeouts after a worker is killed, so when the
whole suite runs it is started in the background as soon as collection ends
(tests/conftest.py) and this test, moved to the end, waits for it and reads its report. Run
alone, the test starts it itself. The long version's figures are in docs/benchmarks.md.
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from tests.chaos_run import ChaosRun, start_chaos_run
from tests.dbs import require_pg

pytestmark = pytest.mark.chaos


@pytest.mark.timeout(1000)
def test_the_short_chaos_run_keeps_every_invariant(request: pytest.FixtureRequest) -> None:
    require_pg()
    run: ChaosRun | None = request.config.stash.get(ChaosRun.KEY, None)
    if run is None:
        run = start_chaos_run()
        request.config.stash[ChaosRun.KEY] = run
    started = time.monotonic()
    try:
        returncode = run.process.wait(timeout=ChaosRun.TIMEOUT)
    except subprocess.TimeoutExpired:
        run.stop()
        pytest.fail(f"the chaos run did not end in {ChaosRun.TIMEOUT} s:\n{run.report()}")
    print(f"waited {time.monotonic() - started:.0f} s for the chaos run")
    report = run.report()
    assert returncode == 0, report
    assert "violations: 0" in report and "secret scan: 0 findings" in report, report
    kills = re.search(r"(\d+) worker SIGKILLs, 1 Temporal restart", report)
    assert kills is not None and int(kills.group(1)) >= 1, report
    run.output.unlink()  # kept only when the run failed, for its report
