"""Refund scenarios on both ERP stand-ins: PayTrace refunds become credit memos, and ERP credit
memos flagged for a card refund are refunded in PayTrace exactly once."""

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.activity_io import ResolutionAction
from domain.erp_documents import DocumentKind
from domain.matching import normalize_invoice_number
from domain.refund_io import MemoRefundInput, MemoRefundOutcome, RefundOutcome
from domain.start_io import StartKind
from tests.scenarios import company, parked, posted, resolve, result_of, sweep, today_for
from tests.stack import running_stack
from workflows.erp_refund_sweep import ErpRefundSweepInput
from workflows.registry import CreditMemoRefund, ErpRefundSweep, RefundToCreditMemo

pytestmark = pytest.mark.erp_diagonal  # each ERP once, each database once (conftest)

ERP_REFUNDS = {"refunds": {"from_erp": True}}


def refunds_in_paytrace(records, sale_invoice):
    return [r for r in records if r.transaction_type == "REFUND" and r.invoice_id == sale_invoice]


async def test_a_refund_becomes_a_credit_memo_applied_to_its_open_invoice(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        sale = await posted(stack, "100.00", "1001")  # 25.00 of 1001 stays open
        assert await stack.settle() is not None
        refund = await stack.refund(sale, "40.00")
        swept = await sweep(stack)
        assert swept.found == 2 and swept.started == 1  # the refund (the sale was posted)
        result = await result_of(stack, RefundToCreditMemo.run, f"refund-{refund}")
        assert result.outcome is RefundOutcome.POSTED
        assert normalize_invoice_number(result.applied_to) == "1001"
        assert result.customer_id == "C0001"
        assert stack.balance("1001") == Decimal("0.00")  # the memo closed the open 25.00
        memo = stack.erp.find_document(DocumentKind.CREDIT_MEMO, str(refund))
        assert memo is not None and memo.amount == Decimal("40.00")
        assert (stack.store.posting(refund, kind="credit_memo") or {})["status"] == "posted"
        again = await sweep(stack)
        assert again.started == 0  # the same refund is not written twice
        docs = stack.erp.documents_for_transaction(refund)
        assert [d.kind for d in docs] == [DocumentKind.CREDIT_MEMO]


async def test_a_refund_of_a_paid_invoice_is_left_open_on_account(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        sale = await posted(stack, "40.00", "1004")
        await stack.settle()
        refund = await stack.refund(sale)
        handle = await stack.start(StartKind.REFUND, refund)
        result = await handle.result()
        assert result["outcome"] == "posted" and result["applied_to"] == ""
        assert result["customer_id"] == "C0002"
        assert stack.balance("1004") == Decimal("0.00")


async def test_a_refund_dated_in_a_closed_period_parks_then_posts_today(
    dev_env, tmp_path, erp_url, erp_name
):
    """The refund happened on the last day of a month that finance has closed since."""
    clock = [datetime.now(UTC).replace(day=1, hour=15) - timedelta(days=1)]
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, clock=clock
    ) as stack:
        sale = await stack.sale("125.00", invoice="1001")
        await stack.settle()
        clock[0] += timedelta(hours=1)
        refund = await stack.refund(sale, "25.00")
        month_end = clock[0].astimezone(stack.tz).date()
        stack.standin.set_period_open(
            stack.erp_engine, company_id=company(stack), day=month_end, is_open=False
        )
        workflow_id = f"refund-{refund}"
        await stack.start(StartKind.REFUND, refund)
        info = await parked(stack, workflow_id)
        assert info.reason_kind == "erp_closed_period"
        assert ResolutionAction.POST_TODAY in info.allowed
        await resolve(stack, workflow_id, ResolutionAction.POST_TODAY)
        result = await result_of(stack, RefundToCreditMemo.run, workflow_id)
        assert result.outcome is RefundOutcome.POSTED
        assert result.memo_date == today_for(stack) != month_end
        events = [e.event for e in stack.store.audit_trail(workflow_id=workflow_id)]
        assert "needs_attention" in events and "redated" in events


async def test_with_the_current_period_policy_a_late_refund_is_dated_today(
    dev_env, tmp_path, erp_url, erp_name
):
    clock = [datetime.now(UTC).replace(day=1, hour=15) - timedelta(days=1)]
    mapping = {"periods": {"closed": "current"}}
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, clock=clock, mapping=mapping
    ) as stack:
        sale = await stack.sale("125.00", invoice="1001")
        await stack.settle()
        refund = await stack.refund(sale, "25.00")
        month_end = clock[0].astimezone(stack.tz).date()
        stack.standin.set_period_open(
            stack.erp_engine, company_id=company(stack), day=month_end, is_open=False
        )
        handle = await stack.start(StartKind.REFUND, refund)
        result = await handle.result()
        assert result["outcome"] == "posted" and result["memo_date"] == today_for(stack).isoformat()
        assert stack.store.dead_letters() == []


def flagged_memos(stack):
    return stack.erp.flagged_refund_memos("REFUND PT", today_for(stack) - timedelta(days=1))


async def flag_memo(stack, txn, amount):
    """An AR clerk's credit memo flagged for a card refund, found by one ERP sweep run.

    Memo numbers are unique per test run: memo workflow ids are global on the shared dev server.
    """
    before = {m.erp_document for m in flagged_memos(stack)}
    stack.standin.add_credit_memo(
        stack.erp_engine,
        company_id=company(stack),
        customer_id="C0001",
        number=f"CM{random.randrange(10**6, 10**7)}",
        amount=Decimal(amount),
        memo_date=today_for(stack),
        comment=f"REFUND PT {txn}",
    )
    swept = await erp_sweep(stack)
    assert swept.started == 1
    (memo,) = [m for m in flagged_memos(stack) if m.erp_document not in before]
    return memo


async def erp_sweep(stack):
    return await stack.client.execute_workflow(
        ErpRefundSweep.run,
        ErpRefundSweepInput(flag="REFUND PT", lookback_days=5),
        id=f"erp-sweep-{uuid.uuid4().hex[:8]}",
        task_queue=stack.settings.task_queue,
    )


async def paytrace_refunds(stack, invoice):
    today = today_for(stack)
    records = await stack.paytrace.export_by_date_range(
        today - timedelta(days=1), today, transaction_type="REFUND"
    )
    return refunds_in_paytrace(records, invoice)


async def test_an_erp_memo_flagged_for_refund_is_refunded_in_paytrace_once(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=ERP_REFUNDS
    ) as stack:
        sale = await posted(stack, "125.00", "1001")
        await stack.settle()
        memo = await flag_memo(stack, sale, "25.00")
        workflow_id = f"memo-refund-{memo.erp_document}"
        result = await result_of(stack, CreditMemoRefund.run, workflow_id)
        assert result.outcome is MemoRefundOutcome.REFUNDED
        assert result.original_transaction_id == sale and result.amount == Decimal("25.00")
        (refund,) = await paytrace_refunds(stack, "1001")
        assert refund.transaction_id == result.refund_transaction_id
        assert refund.amount == Decimal("25.00")

        again = await erp_sweep(stack)
        assert (again.found, again.started) == (1, 0)
        # a new run for the same memo (Temporal forgot the first) refunds nothing more
        rerun = await stack.client.execute_workflow(
            CreditMemoRefund.run,
            MemoRefundInput(memo=memo),
            id=f"{workflow_id}-rerun",
            task_queue=stack.settings.task_queue,
        )
        assert rerun.outcome is MemoRefundOutcome.ALREADY_DONE
        assert len(await paytrace_refunds(stack, "1001")) == 1

        # the PayTrace sweep sees the refund tracepost made: the ERP memo is its document
        await sweep(stack)
        seen = await result_of(stack, RefundToCreditMemo.run, f"refund-{refund.transaction_id}")
        assert seen.outcome is RefundOutcome.ERP_INITIATED
        assert stack.erp.find_document(DocumentKind.CREDIT_MEMO, str(refund.transaction_id)) is None


async def test_a_full_refund_asked_before_settlement_becomes_a_void(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=ERP_REFUNDS
    ) as stack:
        sale = await posted(stack, "125.00", "1001")
        memo = await flag_memo(stack, sale, "125.00")
        result = await result_of(stack, CreditMemoRefund.run, f"memo-refund-{memo.erp_document}")
        assert result.outcome is MemoRefundOutcome.VOIDED and result.refund_transaction_id is None
        record = await stack.paytrace.export_by_id(sale)
        assert record is not None and record.transaction_type == "VOID"
        assert await paytrace_refunds(stack, "1001") == []


async def test_a_memo_asking_more_than_is_left_parks_and_refunds_nothing(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=ERP_REFUNDS
    ) as stack:
        sale = await posted(stack, "125.00", "1001")
        await stack.settle()
        memo = await flag_memo(stack, sale, "200.00")
        workflow_id = f"memo-refund-{memo.erp_document}"
        info = await parked(stack, workflow_id)
        assert info.reason_kind == "memo_amount" and "125.00 left to refund" in info.reason
        await resolve(stack, workflow_id, ResolutionAction.MARK_HANDLED, note="refunded by check")
        result = await result_of(stack, CreditMemoRefund.run, workflow_id)
        assert result.outcome is MemoRefundOutcome.HANDLED
        assert await paytrace_refunds(stack, "1001") == []


async def test_partial_refunds_of_one_payment_add_up_to_at_most_the_payment(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=ERP_REFUNDS
    ) as stack:
        sale = await posted(stack, "125.00", "1001")
        await stack.settle()
        first = await flag_memo(stack, sale, "60.00")
        done = await result_of(stack, CreditMemoRefund.run, f"memo-refund-{first.erp_document}")
        assert done.outcome is MemoRefundOutcome.REFUNDED
        second = await flag_memo(stack, sale, "70.00")  # 65.00 is left
        info = await parked(stack, f"memo-refund-{second.erp_document}")
        assert info.reason_kind == "memo_amount" and "65.00 left to refund" in info.reason
        assert [r.amount for r in await paytrace_refunds(stack, "1001")] == [Decimal("60.00")]


async def test_a_refund_whose_answer_was_lost_is_found_by_reading_back_not_sent_again(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=ERP_REFUNDS
    ) as stack:
        sale = await posted(stack, "125.00", "1001")
        await stack.settle()
        await stack.fault(kind="lost_response", path="/v1/transactions/refund", count=1)
        memo = await flag_memo(stack, sale, "25.00")
        result = await result_of(stack, CreditMemoRefund.run, f"memo-refund-{memo.erp_document}")
        assert result.outcome is MemoRefundOutcome.REFUNDED
        (refund,) = await paytrace_refunds(stack, "1001")
        assert refund.transaction_id == result.refund_transaction_id


async def faults_left(stack):
    """The simulator's fault rules still armed (one whose count ran out is gone)."""
    return (await stack.sim("GET", "/_sim/faults")).json()["faults"]


async def test_a_void_that_lost_the_race_with_settlement_becomes_a_refund_on_retry(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=ERP_REFUNDS
    ) as stack:
        sale = await posted(stack, "125.00", "1001")
        path = "/v1/transactions/void"
        await stack.fault(kind="http_error", status=503, path=path, count=1)
        memo = await flag_memo(stack, sale, "125.00")  # all of it, before settlement: a void
        for _ in range(300):
            if not await faults_left(stack):
                break  # the first void attempt got its 503
            await asyncio.sleep(0.05)
        await stack.settle()  # the batch closes before the void is tried again
        workflow_id = f"memo-refund-{memo.erp_document}"
        info = await parked(stack, workflow_id)
        assert info.reason_kind == "paytrace_validation" and "void" in info.reason
        await resolve(stack, workflow_id, ResolutionAction.RETRY)
        result = await result_of(stack, CreditMemoRefund.run, workflow_id)
        assert result.outcome is MemoRefundOutcome.REFUNDED, result.reason
        assert [r.amount for r in await paytrace_refunds(stack, "1001")] == [Decimal("125.00")]


async def test_a_refund_paytrace_refuses_cancels_its_intent_when_handled(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=ERP_REFUNDS
    ) as stack:
        sale = await posted(stack, "125.00", "1001")
        await stack.settle()
        await stack.refund(sale)  # refunded in full at the virtual terminal, unknown to the ERP
        memo = await flag_memo(stack, sale, "25.00")
        workflow_id = f"memo-refund-{memo.erp_document}"
        info = await parked(stack, workflow_id)
        assert info.reason_kind == "paytrace_validation" and "nothing was refunded" in info.reason
        await resolve(stack, workflow_id, ResolutionAction.MARK_HANDLED, note="already refunded")
        result = await result_of(stack, CreditMemoRefund.run, workflow_id)
        assert result.outcome is MemoRefundOutcome.HANDLED
        (intent,) = stack.store.card_refunds_of(sale)
        assert intent.status.value == "cancelled"  # it no longer counts, nor is it waited for
        rerun = await stack.client.execute_workflow(
            CreditMemoRefund.run,
            MemoRefundInput(memo=memo),
            id=f"{workflow_id}-rerun",
            task_queue=stack.settings.task_queue,
        )
        assert rerun.outcome is MemoRefundOutcome.ALREADY_DONE and "operator" in rerun.reason
