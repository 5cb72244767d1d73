"""PaymentPosting and TransactionSweep with real activities on a real Temporal dev server,
the PayTrace simulator and each ERP stand-in (Sage 500, Dynamics SL; SQLite and PostgreSQL)."""

import asyncio
from decimal import Decimal

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError

from activities.starter import start_payment_posting
from domain.activity_io import PostingOutcome, Resolution, ResolutionAction
from tests.stack import running_stack
from workers.attention import list_attention, parse_invoice, resolve
from workflows.registry import PaymentPosting, TransactionSweep
from workflows.transaction_sweep import SweepInput

# A workflow test: each ERP once, each database once (tests/conftest.py).
pytestmark = pytest.mark.erp_diagonal


async def wait_until(predicate, seconds=30):
    for _ in range(seconds * 10):
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def test_sale_posted_once_though_announced_three_times(dev_env, tmp_path, erp_url, erp_name):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        assert stack.balance("1001") == Decimal("125.00")
        txn_id = await stack.sale("125.00", invoice="1001")
        queue = stack.settings.task_queue
        first = await start_payment_posting(stack.client, queue, txn_id, "silent_post")
        second = await start_payment_posting(stack.client, queue, txn_id, "sweep")
        result = await stack.handle(txn_id).result()
        third = await start_payment_posting(stack.client, queue, txn_id, "silent_post")
        assert (first, second, third) == (True, False, False)
        assert result.outcome is PostingOutcome.POSTED
        assert stack.balance("1001") == Decimal("0.00")
        assert stack.receipts(txn_id) == (1, 1)
        posting = stack.store.posting(txn_id)
        assert posting is not None and posting["status"] == "posted"
        events = [e.event for e in stack.store.audit_trail(transaction_id=txn_id)]
        assert events[0] == "received" and "matched" in events and "posted" in events
        described = await stack.handle(txn_id).describe()
        assert described.typed_search_attributes  # the Web UI can filter on them
        attrs = {p.key.name: p.value for p in described.typed_search_attributes}
        assert attrs["TracepostStatus"] == "posted"
        assert attrs["PaytraceTxnId"] == str(txn_id)
        assert attrs["ErpCustomerId"] == "C0001"


async def test_declined_sale_is_recorded_and_not_posted(dev_env, tmp_path, erp_url, erp_name):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        txn_id = await stack.sale("125.02", invoice="1001")  # .02 declines in the simulator
        await start_payment_posting(stack.client, stack.settings.task_queue, txn_id, "silent_post")
        result = await stack.handle(txn_id).result()
        assert result.outcome is PostingOutcome.DECLINED
        assert "Do not honor" in result.reason
        assert stack.balance("1001") == Decimal("125.00")
        assert stack.receipts(txn_id) == (0, 0)
        assert "declined" in [e.event for e in stack.store.audit_trail(transaction_id=txn_id)]


async def test_unknown_invoice_parks_and_is_resolved_by_an_update(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        txn_id = await stack.sale("80.50", invoice="INV-77")
        await start_payment_posting(stack.client, stack.settings.task_queue, txn_id, "sweep")
        handle = stack.handle(txn_id)

        async def parked():
            return (await handle.query(PaymentPosting.status)).stage == "needs_attention"

        await wait_until(parked)
        status = await handle.query(PaymentPosting.status)
        assert status.attention is not None and "INV-77" in status.attention.reason
        assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING

        async def listed():
            query = f'TracepostStatus = "needs_attention" AND PaytraceTxnId = "{txn_id}"'
            return [w.id async for w in stack.client.list_workflows(query)] == [f"payment-{txn_id}"]

        await wait_until(listed)
        assert [d.paytrace_transaction_id for d in stack.store.dead_letters()] == [txn_id]
        assert stack.receipts(txn_id) == (0, 0)

        parked_ids = [p.workflow_id for p in await list_attention(stack.client)]
        assert f"payment-{txn_id}" in parked_ids
        with pytest.raises(
            WorkflowUpdateFailedError
        ):  # an unknown action for this stage is refused
            await resolve(
                stack.client, f"payment-{txn_id}", Resolution(action=ResolutionAction.MARK_HANDLED)
            )
        answer = await resolve(
            stack.client,
            f"payment-{txn_id}",
            Resolution(
                action=ResolutionAction.APPLY_TO,
                invoices=(parse_invoice("1002=80.50"),),
                operator="ops",
            ),
        )
        assert answer == "accepted: apply_to"
        result = await handle.result()
        assert result.outcome is PostingOutcome.POSTED and result.rule == "operator_apply_to"
        assert stack.balance("1002") == Decimal("0.00")
        assert stack.store.dead_letters() == []


async def test_sweep_finds_a_sale_nobody_announced(dev_env, tmp_path, erp_url, erp_name):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        txn_id = await stack.sale("40.00", invoice="1004")
        sweep = await stack.client.execute_workflow(
            TransactionSweep.run,
            SweepInput(cursor_name="test"),
            id=f"sweep-{stack.settings.task_queue}",
            task_queue=stack.settings.task_queue,
        )
        assert (sweep.found, sweep.started) == (1, 1)
        result = await stack.handle(txn_id).result()
        assert result.outcome is PostingOutcome.POSTED
        assert stack.balance("1004") == Decimal("0.00")
        # the next run reads the overlap again and starts nothing new
        again = await stack.client.execute_workflow(
            TransactionSweep.run,
            SweepInput(cursor_name="test"),
            id=f"sweep2-{stack.settings.task_queue}",
            task_queue=stack.settings.task_queue,
        )
        assert (again.found, again.started, again.already) == (1, 0, 1)
        assert stack.receipts(txn_id) == (1, 1)
