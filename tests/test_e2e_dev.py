"""End to end, once per ERP: `tracepost dev` as a subprocess on free ports; sales made over the
simulator's HTTP API like any PayTrace client; the ERP's invoice balances drop."""

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from connectors.erp.standin import ERP_NAMES, ConnectorOptions, stand_in

pytestmark = pytest.mark.e2e
ENCRYPTED_BASE64 = base64.b64encode(b"binary/encrypted").decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, sa.exc.OperationalError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def balance(erp: str, db: Path, number: str) -> Decimal:
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        connector = stand_in(erp).build_connector(engine, ConnectorOptions())
        invoice = connector.invoice_by_number(number)
        assert invoice is not None
        return invoice.balance
    finally:
        engine.dispose()


@pytest.mark.parametrize("erp", ERP_NAMES)
def test_dev_stack_posts_sales_end_to_end(tmp_path, erp):
    ports = {name: free_port() for name in ("temporal", "ui", "api", "sim")}
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("TRACEPOST_CODEC")}
    env = {
        **inherited,
        "TRACEPOST_CODEC": "on",  # payload encryption, with the key file the dev stack makes
        "TRACEPOST_VAR_DIR": str(tmp_path / "var"),
        "TRACEPOST_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "TRACEPOST_API_PORT": str(ports["api"]),
        "TRACEPOST_PAYTRACE_BASE_URL": f"http://127.0.0.1:{ports['sim']}",
        "TRACEPOST_SWEEP_INTERVAL_SECONDS": "2",
        "TRACEPOST_ERP": erp,
    }
    log = (tmp_path / "dev.log").open("w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "tracepost"), "dev", "--ui-port", str(ports["ui"])],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{ports['api']}"
    sim = f"http://127.0.0.1:{ports['sim']}"
    erp_db = tmp_path / "var" / f"{erp}.db"
    try:
        wait_for(lambda: httpx.get(f"{api}/readyz").status_code == 200, 120, "the api to be ready")
        assert httpx.get(f"http://127.0.0.1:{ports['ui']}/").status_code == 200  # the Web UI
        keys = tmp_path / "var" / "codec-keys"
        assert keys.stat().st_mode & 0o777 == 0o600
        server = " ".join(cmdline(pid) for pid in processes_mentioning(str(keys.parent)))
        assert f"--ui-codec-endpoint {api}/codec" in server
        assert balance(erp, erp_db, "1001") == Decimal("125.00")

        # A PayTrace API client: OAuth password grant, then a keyed sale (found by the sweep).
        token = httpx.post(
            f"{sim}/oauth/token",
            data={"grant_type": "password", "username": "demo", "password": "demo"},
        ).json()["access_token"]
        sale = httpx.post(
            f"{sim}/v1/transactions/sale/keyed",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "amount": "125.00",
                "credit_card": {
                    "number": "4012000098765439",
                    "expiration_month": "12",
                    "expiration_year": "2030",
                },
                "invoice_id": "1001",
            },
        )
        assert sale.status_code == 200 and sale.json()["response_code"] == 101
        wait_for(
            lambda: balance(erp, erp_db, "1001") == Decimal("0.00"), 90, "invoice 1001 to be paid"
        )
        shown = subprocess.run(
            [
                str(Path(sys.executable).parent / "temporal"),
                "workflow",
                "show",
                "--workflow-id",
                f"payment-{sale.json()['transaction_id']}",
                "--address",
                env["TRACEPOST_TEMPORAL_ADDRESS"],
                "--output",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
        assert ENCRYPTED_BASE64 in shown.stdout and "4012000098765439" not in shown.stdout

        # The hosted checkout: the simulator sends the Silent Post to the api.
        paid = httpx.post(
            f"{sim}/checkout/pay",
            data={"ORDERID": "1002", "AMOUNT": "80.50"},
            headers={"Accept": "application/json"},
        )
        assert paid.status_code == 200 and paid.json()["approved"] is True
        wait_for(
            lambda: balance(erp, erp_db, "1002") == Decimal("0.00"), 90, "invoice 1002 to be paid"
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        log.close()
    output = (tmp_path / "dev.log").read_text()
    assert code == 0, output[-3000:]
    assert "tracepost dev stack is running" in output and "tracepost dev stopped" in output
    assert "4012000098765439" not in output
    assert not processes_mentioning(str(tmp_path / "var" / "temporal.db")), (
        "Temporal outlived tracepost dev"
    )


def cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found
