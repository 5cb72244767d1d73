"""`tracepost erp init` and `tracepost erp invoice` as an operator runs them, for every ERP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.erp.standin import ERP_NAMES

TRACEPOST = str(Path(sys.executable).parent / "tracepost")


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRACEPOST, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "TRACEPOST_VAR_DIR": str(tmp_path / "var"), **env},
    )


@pytest.mark.parametrize("erp", ERP_NAMES)
def test_erp_init_seeds_a_demo_company_once(tmp_path: Path, erp: str) -> None:
    url = f"sqlite:///{tmp_path}/{erp}.db"
    first = run(
        tmp_path,
        "erp",
        "init",
        "--erp",
        erp,
        "--url",
        url,
        "--demo",
        "--customers",
        "40",
        "--invoices",
        "160",
    )
    assert first.returncode == 0, first.stderr
    assert "demo data seeded: 40 customers, 160 invoices" in first.stdout
    again = run(tmp_path, "erp", "init", "--erp", erp, "--url", url, "--demo")
    assert again.returncode == 0 and "already present; nothing seeded" in again.stdout
    shown = run(tmp_path, "erp", "invoice", "1004", TRACEPOST_ERP=erp, TRACEPOST_ERP_URL=url)
    assert shown.returncode == 0, shown.stderr
    assert "customer C0002" in shown.stdout and "balance 40.00" in shown.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--erp", "sage500", "--demo", "--customers", "1"), "customers >= 2"),
        (("--erp", "dynamics_sl", "--demo", "--invoices", "-3"), "must not be negative"),
        (
            (
                "--erp",
                "oracle",
            ),
            "invalid choice: 'oracle'",
        ),
    ],
)
def test_erp_init_explains_bad_input(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    done = run(tmp_path, "erp", "init", "--url", f"sqlite:///{tmp_path}/x.db", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
