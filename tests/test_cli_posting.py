"""The operator commands as an operator runs them: ``tracepost mapping check``, the worker that
refuses a bad mapping, ``tracepost attention list|show|retry|resolve``, ``tracepost sweep``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from activities.starter import start_payment_posting
from connectors.erp.standin import ERP_NAMES
from domain.activity_io import PostingOutcome
from tests.scenarios import parked
from tests.stack import running_stack
from workers.cli_ops import backfill_window

TRACEPOST = str(Path(sys.executable).parent / "tracepost")
PLAIN_PAYLOADS = {"TRACEPOST_CODEC": "off"}
"""The in-process worker (tests/stack.py) reads payloads with the dev server's plain pydantic
converter, so these commands must not encrypt theirs (tests/test_scenarios_orders.py runs a
command and a worker that both encrypt)."""


async def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``tracepost`` in a subprocess without blocking the event loop the stack runs on."""
    return await asyncio.to_thread(
        subprocess.run,
        [TRACEPOST, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "TRACEPOST_VAR_DIR": str(cwd / "var"), **PLAIN_PAYLOADS, **env},
    )


def init(tmp_path: Path, erp: str) -> str:
    url = f"sqlite:///{tmp_path}/{erp}.db"
    done = subprocess.run(
        [TRACEPOST, "erp", "init", "--erp", erp, "--url", url, "--demo", "--customers", "5"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "TRACEPOST_VAR_DIR": str(tmp_path / "var"), **PLAIN_PAYLOADS},
    )
    assert done.returncode == 0, done.stderr
    return url


@pytest.mark.parametrize("erp", ERP_NAMES)
async def test_mapping_check_explains_problems_and_the_worker_refuses_them(tmp_path, erp):
    url = init(tmp_path, erp)
    env = {"TRACEPOST_ERP": erp, "TRACEPOST_ERP_URL": url}
    good = await run(tmp_path, "mapping", "check", **env)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "usable" in good.stdout
    starter = (Path("workers/mappings") / f"{erp}.toml").resolve().read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(starter.replace('card_fees = "6100"', 'card_fees = "6199"'))
    checked = await run(tmp_path, "mapping", "check", "--file", str(bad), **env)
    assert checked.returncode == 1
    assert "error: accounts.card_fees: account '6199' does not exist" in checked.stdout
    worker = await run(tmp_path, "worker", TRACEPOST_MAPPING_FILE=str(bad), **env)
    assert worker.returncode == 2 and "accounts.card_fees" in worker.stderr
    assert "Traceback" not in worker.stderr
    typo = tmp_path / "typo.toml"
    typo.write_text(starter.replace("[matching]", "[matchng]"))
    refused = await run(tmp_path, "mapping", "check", "--file", str(typo), **env)
    assert refused.returncode == 1 and "matchng: Extra inputs are not permitted" in refused.stderr


def test_a_backfill_window_is_the_merchants_days_in_utc():
    now = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
    since, until = backfill_window(date(2026, 11, 30), date(2026, 12, 1), "America/New_York", now)
    assert since == datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    assert until == datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    assert backfill_window(date(2026, 12, 2), date(2026, 12, 9), "America/New_York", now)[1] == now
    with pytest.raises(ValueError, match="before --from"):
        backfill_window(date(2026, 12, 2), date(2026, 12, 1), "America/New_York", now)
    with pytest.raises(ValueError, match="in the future"):
        backfill_window(date(2026, 12, 5), date(2026, 12, 6), "America/New_York", now)


async def test_attention_commands_list_show_and_resolve_a_parked_payment(
    dev_env, tmp_path, erp_url
):
    async with running_stack(dev_env.client, tmp_path, erp_url) as stack:
        txn = await stack.sale("80.50", invoice="INV-77")
        await start_payment_posting(stack.client, stack.settings.task_queue, txn, "sweep")
        workflow_id = f"payment-{txn}"
        await parked(stack, workflow_id)
        target = dev_env.client.service_client.config.target_host
        env = {
            "TRACEPOST_TEMPORAL_ADDRESS": target,
            "TRACEPOST_STORE_URL": stack.settings.store_url,
            "TRACEPOST_TASK_QUEUE": stack.settings.task_queue,
        }
        listed = await run(tmp_path, "attention", "list", **env)
        assert listed.returncode == 0, listed.stderr
        assert workflow_id in listed.stdout and "[match_invoice_number]" in listed.stdout
        shown = await run(tmp_path, "attention", "show", workflow_id, **env)
        assert shown.returncode == 0, shown.stderr
        assert "(PaymentPosting)" in shown.stdout and "INV-77" in shown.stdout
        assert "possible: retry, apply_to, post_on_account" in shown.stdout
        assert f"/workflows/{workflow_id}" in shown.stdout and "needs_attention" in shown.stdout
        refused = await run(
            tmp_path, "attention", "resolve", workflow_id, "--action", "mark_handled", **env
        )
        assert refused.returncode == 1 and "needs a note" in refused.stderr
        applied = await run(
            tmp_path,
            "attention",
            "resolve",
            workflow_id,
            "--action",
            "apply_to",
            "--invoice",
            "1002=80.50",
            "--operator",
            "jane",
            **env,
        )
        assert applied.returncode == 0 and "accepted: apply_to" in applied.stdout
        result = await stack.handle(txn).result()
        assert result.outcome is PostingOutcome.POSTED and "jane" in result.reason
        gone = await run(tmp_path, "attention", "retry", workflow_id, **env)
        assert gone.returncode == 1 and "already completed" in gone.stderr


async def test_the_sweep_command_backfills_days(dev_env, tmp_path, erp_url):
    async with running_stack(dev_env.client, tmp_path, erp_url) as stack:
        txn = await stack.sale("40.00", invoice="1004")
        today = datetime.now(UTC).astimezone(stack.tz).date()
        env = {
            "TRACEPOST_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
            "TRACEPOST_TASK_QUEUE": stack.settings.task_queue,
        }
        done = await run(
            tmp_path,
            "sweep",
            "--from",
            (today - timedelta(days=1)).isoformat(),
            "--to",
            today.isoformat(),
            **env,
        )
        assert done.returncode == 0, done.stderr
        assert "1 transaction(s), 1 workflow(s) started" in done.stdout
        assert (await stack.handle(txn).result()).outcome is PostingOutcome.POSTED
