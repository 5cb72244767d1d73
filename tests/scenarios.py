"""Helpers of the scenario tests: the whole posting stack on the dev server, per ERP stand-in."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowHandle

from domain.activity_io import AttentionInfo, Resolution, ResolutionAction
from tests.stack import Stack
from workflows.transaction_sweep import SweepInput, SweepResult, TransactionSweep


async def posted(stack: Stack, amount: str, invoice: str) -> int:
    """A card sale, announced and posted; its transaction id."""
    from activities.starter import start_payment_posting
    from domain.activity_io import PostingOutcome

    txn = await stack.sale(amount, invoice=invoice)
    await start_payment_posting(stack.client, stack.settings.task_queue, txn, "test")
    assert (await stack.handle(txn).result()).outcome is PostingOutcome.POSTED
    return txn


async def sweep(stack: Stack, workflow_id: str = "", **request: Any) -> SweepResult:
    """Run one TransactionSweep and return what it found and started."""
    result: SweepResult = await stack.client.execute_workflow(
        TransactionSweep.run,
        SweepInput(**{"cursor_name": f"test-{uuid.uuid4().hex[:6]}", **request}),
        id=workflow_id or f"sweep-{uuid.uuid4().hex[:10]}",
        task_queue=stack.settings.task_queue,
    )
    return result


async def result_of(stack: Stack, run: Any, workflow_id: str) -> Any:
    """The typed result of a workflow (``run`` is its class's run method), waiting for it."""
    return await stack.client.get_workflow_handle_for(run, workflow_id).result()


async def parked(stack: Stack, workflow_id: str, seconds: float = 30) -> AttentionInfo:
    """Wait until a workflow waits for an operator; what it waits for."""
    handle: WorkflowHandle[Any, Any] = stack.client.get_workflow_handle(workflow_id)
    for _ in range(int(seconds * 10)):
        info: AttentionInfo | None = await handle.query("attention", result_type=AttentionInfo)
        if info is not None:
            return info
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} did not park")


async def resolve(stack: Stack, workflow_id: str, action: ResolutionAction, **kw: Any) -> str:
    handle = stack.client.get_workflow_handle(workflow_id)
    answer = await handle.execute_update(
        "resolve", Resolution(action=action, operator="test", **kw), result_type=str
    )
    return str(answer)


def today_for(stack: Stack) -> date:
    """Today in the merchant's time zone (what 'post today' means)."""
    return datetime.now(UTC).astimezone(ZoneInfo(stack.settings.paytrace_timezone)).date()


def company(stack: Stack) -> str:
    assert stack.standin is not None
    return str(stack.standin.default_company)
