"""PaymentPosting on the time-skipping server with in-memory activities."""

import asyncio
import uuid
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.worker import Worker

from domain.activity_io import (
    AttentionInfo,
    InvoiceAmount,
    PaymentPostingInput,
    PostingOutcome,
    Resolution,
    ResolutionAction,
)
from domain.models import TransactionType
from tests.fakes import FakeBackend, txn
from workflows.registry import PaymentPosting


@asynccontextmanager
async def workers(env, backend):
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    main, erp = backend.activities()
    async with (
        Worker(env.client, task_queue=queue, workflows=[PaymentPosting], activities=main),
        Worker(env.client, task_queue=f"{queue}-erp", activities=erp),
    ):
        yield queue


async def start(env, queue, transaction_id):
    return await env.client.start_workflow(
        PaymentPosting.run,
        PaymentPostingInput(transaction_id=transaction_id, source="test"),
        id=f"payment-{transaction_id}-{uuid.uuid4().hex[:6]}",
        task_queue=queue,
    )


async def wait_for_stage(handle, stage, seconds=20):
    for _ in range(seconds * 10):
        status = await handle.query(PaymentPosting.status)
        if status.stage == stage:
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"never reached {stage}: {status}")


async def test_approved_sale_is_posted_once(skipping_env):
    backend = FakeBackend()
    backend.add_invoice("1001", "125.00")
    backend.transactions[1] = txn(1, "125.00", "1001")
    async with workers(skipping_env, backend) as queue:
        result = await (await start(skipping_env, queue, 1)).result()
    assert result.outcome is PostingOutcome.POSTED
    assert result.erp_document == "CR-1" and result.rule == "invoice_number"
    assert result.reason == "pays invoice 1001 in full (125.00)"
    assert len(backend.writes) == 1 and backend.posts == [1]
    written = backend.writes[0]
    assert written.applications[0].invoice_number == "1001" and written.applications[
        0
    ].amount == Decimal("125.00")
    assert written.reference == "PT 1"
    events = [a.event for a in backend.audit]
    assert events[:2] == ["received", "matched"] and "posted" in events


async def test_decline_is_recorded_not_posted(skipping_env):
    backend = FakeBackend()
    backend.add_invoice("1001", "125.00")
    backend.transactions[2] = txn(2, "10.02", "1001", approved=False)
    async with workers(skipping_env, backend) as queue:
        result = await (await start(skipping_env, queue, 2)).result()
    assert result.outcome is PostingOutcome.DECLINED
    assert backend.writes == [] and backend.posts == []
    assert "declined" in [a.event for a in backend.audit]


async def test_already_written_receipt_is_read_back_not_rewritten(skipping_env):
    backend = FakeBackend()
    backend.add_invoice("1001", "125.00")
    backend.transactions[3] = txn(3, "125.00", "1001")
    async with workers(skipping_env, backend) as queue:
        await (await start(skipping_env, queue, 3)).result()
        again = await (await start(skipping_env, queue, 3)).result()
    assert again.outcome is PostingOutcome.POSTED and again.rule == "read_back"
    assert len(backend.writes) == 1 and backend.posts == [3]  # posted receipt is not posted again


async def test_unknown_invoice_parks_then_operator_applies(skipping_env):
    backend = FakeBackend()
    backend.add_invoice("1002", "80.50")
    backend.transactions[4] = txn(4, "80.50", "9999")
    async with workers(skipping_env, backend) as queue:
        handle = await start(skipping_env, queue, 4)
        status = await wait_for_stage(handle, "needs_attention")
        assert "9999" in status.attention.reason
        assert backend.writes == []
        assert next(iter(backend.dead_letters.values())).reason_kind == "match_invoice_number"

        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                PaymentPosting.resolve, Resolution(action=ResolutionAction.MARK_HANDLED)
            )

        ack = await handle.execute_update(
            PaymentPosting.resolve,
            Resolution(
                action=ResolutionAction.APPLY_TO,
                invoices=(InvoiceAmount(invoice_number="1002", amount=Decimal("80.50")),),
                operator="ops@example.com",
            ),
        )
        assert ack == "accepted: apply_to"
        result = await handle.result()
    assert result.outcome is PostingOutcome.POSTED
    assert backend.writes[0].applications[0].invoice_number == "1002"
    assert backend.resolved == {1: "apply_to by ops@example.com"}


async def test_rejected_write_parks_and_retry_posts(skipping_env):
    backend = FakeBackend()
    backend.add_invoice("1001", "125.00")
    backend.transactions[5] = txn(5, "125.00", "1001")
    backend.write_failures.append(
        ApplicationError(
            "fiscal period 2026-11 is closed", type="erp_closed_period", non_retryable=True
        )
    )
    async with workers(skipping_env, backend) as queue:
        handle = await start(skipping_env, queue, 5)
        status = await wait_for_stage(handle, "needs_attention")
        assert status.attention.reason_kind == "erp_closed_period"
        assert "closed" in status.attention.reason
        await handle.execute_update(
            PaymentPosting.resolve, Resolution(action=ResolutionAction.RETRY)
        )
        result = await handle.result()
    assert result.outcome is PostingOutcome.POSTED
    assert len(backend.writes) == 1


async def test_mark_handled_ends_without_posting(skipping_env):
    backend = FakeBackend()
    backend.transactions[6] = txn(6, "5.00", "nope")
    async with workers(skipping_env, backend) as queue:
        handle = await start(skipping_env, queue, 6)
        await wait_for_stage(handle, "needs_attention")
        await handle.execute_update(
            PaymentPosting.resolve,
            Resolution(action=ResolutionAction.MARK_HANDLED, note="refunded by phone"),
        )
        result = await handle.result()
    assert result.outcome is PostingOutcome.HANDLED and result.reason == "refunded by phone"
    assert backend.writes == []


async def test_authorization_is_posted_once_captured(skipping_env):
    backend = FakeBackend()
    backend.add_invoice("1001", "125.00")
    auth = txn(7, "125.00", "1001").model_copy(
        update={"transaction_type": TransactionType.AUTHORIZATION}
    )
    captured = txn(7, "125.00", "1001").model_copy(
        update={"transaction_type": TransactionType.CAPTURE, "status_code": 112}
    )
    backend.sequences[7] = [auth, auth, captured]
    async with workers(skipping_env, backend) as queue:
        result = await (await start(skipping_env, queue, 7)).result()
    assert result.outcome is PostingOutcome.POSTED
    assert backend.fetches == [7, 7, 7] and len(backend.writes) == 1


async def test_authorization_never_captured_parks_after_eight_days(skipping_env):
    backend = FakeBackend()
    auth = txn(8, "125.00", "1001").model_copy(
        update={"transaction_type": TransactionType.AUTHORIZATION}
    )
    backend.sequences[8] = [auth]
    async with workers(skipping_env, backend) as queue:
        handle = await start(skipping_env, queue, 8)
        await skipping_env.sleep(timedelta(days=8, hours=1))
        status = await wait_for_stage(handle, "needs_attention")
        assert status.attention.reason_kind == "paytrace_uncaptured"
        assert len(backend.fetches) == 8 * 24 + 1
        await handle.execute_update(
            PaymentPosting.resolve,
            Resolution(action=ResolutionAction.MARK_HANDLED, note="expired auth"),
        )
        result = await handle.result()
    assert result.outcome is PostingOutcome.HANDLED and backend.writes == []


async def test_authorization_reported_captured_is_posted(skipping_env):
    backend = FakeBackend()
    backend.add_invoice("1001", "125.00")
    backend.transactions[12] = txn(12, "125.00", "1001").model_copy(
        update={"transaction_type": TransactionType.AUTHORIZATION, "status_code": 112}
    )
    async with workers(skipping_env, backend) as queue:
        result = await (await start(skipping_env, queue, 12)).result()
    assert result.outcome is PostingOutcome.POSTED and backend.fetches == [12]


async def test_refund_is_not_a_payment(skipping_env):
    backend = FakeBackend()
    backend.transactions[9] = txn(9, "10.00").model_copy(
        update={"transaction_type": TransactionType.REFUND, "status_code": 106}
    )
    async with workers(skipping_env, backend) as queue:
        result = await (await start(skipping_env, queue, 9)).result()
    assert result.outcome is PostingOutcome.NOT_A_PAYMENT and backend.writes == []


async def test_a_status_tracepost_cannot_read_parks_and_retry_rereads(skipping_env):
    backend = FakeBackend()
    backend.add_invoice("1001", "125.00")
    test_approval = txn(10, "125.00", "1001").model_copy(
        update={"approved": False, "status_code": 104}
    )
    backend.sequences[10] = [test_approval, txn(10, "125.00", "1001")]
    async with workers(skipping_env, backend) as queue:
        handle = await start(skipping_env, queue, 10)
        status = await wait_for_stage(handle, "needs_attention")
        assert (
            status.attention.reason_kind == "paytrace_status"
            and "status 104" in status.attention.reason
        )
        with pytest.raises(WorkflowUpdateFailedError):  # only retry or mark_handled fit here
            await handle.execute_update(
                PaymentPosting.resolve, Resolution(action=ResolutionAction.POST_ON_ACCOUNT)
            )
        await handle.execute_update(
            PaymentPosting.resolve, Resolution(action=ResolutionAction.RETRY)
        )
        result = await handle.result()
    assert result.outcome is PostingOutcome.POSTED and len(backend.writes) == 1


async def test_operator_amounts_must_be_whole_cents(skipping_env):
    backend = FakeBackend()
    backend.add_invoice("1002", "80.50")
    backend.transactions[11] = txn(11, "80.50", "9999")
    async with workers(skipping_env, backend) as queue:
        handle = await start(skipping_env, queue, 11)
        await wait_for_stage(handle, "needs_attention")
        sub_cent = Resolution(
            action=ResolutionAction.APPLY_TO,
            invoices=(InvoiceAmount(invoice_number="1002", amount=Decimal("80.505")),),
        )
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(PaymentPosting.resolve, sub_cent)
        assert backend.writes == []
        await handle.execute_update(
            PaymentPosting.resolve, Resolution(action=ResolutionAction.MARK_HANDLED, note="test")
        )
        assert (await handle.result()).outcome is PostingOutcome.HANDLED


async def test_erp_lookup_refusal_parks_with_every_resolution_open(skipping_env):
    backend = FakeBackend()
    backend.add_invoice("1001", "125.00")
    backend.transactions[13] = txn(13, "125.00", "1001")
    backend.load_failures.append(
        ApplicationError(
            "invoice number '1001' matches several invoices",
            type="erp_business_rule",
            non_retryable=True,
        )
    )
    async with workers(skipping_env, backend) as queue:
        handle = await start(skipping_env, queue, 13)
        status = await wait_for_stage(handle, "needs_attention")
        assert status.attention.reason_kind == "match_erp_business_rule"
        await handle.execute_update(
            PaymentPosting.resolve,
            Resolution(
                action=ResolutionAction.POST_ON_ACCOUNT, customer_id="C0001", operator="ops"
            ),
        )
        result = await handle.result()
    assert result.outcome is PostingOutcome.POSTED
    assert backend.writes[0].applications == () and backend.writes[0].on_account == Decimal(
        "125.00"
    )


async def test_cancelling_a_posting_cancels_it_and_does_not_park(skipping_env):
    backend = FakeBackend(write_blocks=True)
    backend.add_invoice("1001", "125.00")
    backend.transactions[14] = txn(14, "125.00", "1001")
    async with workers(skipping_env, backend) as queue:
        handle = await start(skipping_env, queue, 14)
        for _ in range(200):
            if any(a.event == "matched" for a in backend.audit):
                break
            await asyncio.sleep(0.05)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    # The write stays blocked until the worker is gone: a cancelled workflow does not wait for
    # its activity, and unblocking it earlier raced its cancellation (the fake would write).
    backend.write_blocks = False
    assert isinstance(info.value.cause, CancelledError)
    assert backend.dead_letters == {} and backend.writes == []


async def test_a_parked_payment_alerts_then_escalates_after_its_sla(own_skipping_env):
    """Needs-attention raises its alert at once, escalates after the SLA, then reminds."""
    skipping_env = own_skipping_env
    backend = FakeBackend(sla_seconds=4 * 3600, reminder_seconds=24 * 3600)
    backend.transactions[21] = txn(21, "80.50", "9999")
    async with workers(skipping_env, backend) as queue:
        handle = await start(skipping_env, queue, 21)
        await wait_for_stage(handle, "needs_attention")
        (opened,) = backend.opened
        assert opened.workflow_type == "PaymentPosting" and opened.subject == "payment PT 21"
        assert backend.escalations == []
        await skipping_env.sleep(timedelta(hours=4, minutes=1))
        assert [e.level for e in backend.escalations] == [1]
        await skipping_env.sleep(timedelta(hours=24))
        assert [e.level for e in backend.escalations] == [1, 2]
        info = await handle.query("attention", result_type=AttentionInfo)
        assert info.escalations == 2 and info.reason_kind == "match_invoice_number"
        assert ResolutionAction.POST_TODAY not in info.allowed  # nothing to date yet
        assert ResolutionAction.APPLY_TO in info.allowed
        await handle.execute_update(
            PaymentPosting.resolve,
            Resolution(action=ResolutionAction.MARK_HANDLED, note="paid by phone", operator="o"),
        )
        result = await handle.result()
    assert result.outcome is PostingOutcome.HANDLED and len(backend.escalations) == 2


async def test_a_void_ends_a_payment_that_waits_for_an_operator(skipping_env):
    backend = FakeBackend()
    backend.transactions[22] = txn(22, "80.50", "9999")
    async with workers(skipping_env, backend) as queue:
        handle = await start(skipping_env, queue, 22)
        await wait_for_stage(handle, "needs_attention")
        await handle.signal(PaymentPosting.transaction_voided)
        result = await handle.result()
    assert result.outcome is PostingOutcome.VOIDED and "voided" in result.reason
    assert backend.writes == [] and list(backend.resolved.values()) == [
        "closed: PayTrace voided the transaction before it was posted"
    ]
