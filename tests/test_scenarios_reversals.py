"""Reversal scenarios on both ERP stand-ins: voids reopen invoices, ACH payments post like card
payments and bank returns reverse them."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from activities.starter import start_payment_posting
from connectors.paytrace.models import CreditCard, KeyedSaleRequest
from domain.activity_io import PostingOutcome, ResolutionAction
from domain.erp_documents import DocumentKind
from domain.models import PaymentSource
from domain.reversal_io import ReversalOutcome
from domain.start_io import StartKind
from domain.store_io import AlertKind
from tests.scenarios import parked, posted, resolve, result_of, sweep
from tests.stack import TEST_CARD, running_stack
from workflows.registry import PaymentPosting, RefundToCreditMemo, VoidReversal

pytestmark = pytest.mark.erp_diagonal  # each ERP once, each database once (conftest)


async def test_a_void_before_settlement_reverses_the_receipt_and_reopens_the_invoice(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        txn = await stack.sale("125.00", invoice="1001")
        await start_payment_posting(stack.client, stack.settings.task_queue, txn, "silent_post")
        assert (await stack.handle(txn).result()).outcome is PostingOutcome.POSTED
        assert stack.balance("1001") == Decimal("0.00")
        await stack.void(txn)
        looked = await sweep(stack, mode="lookback")
        assert (looked.found, looked.started) == (1, 1)
        result = await result_of(stack, VoidReversal.run, f"void-{txn}")
        assert result.outcome is ReversalOutcome.REVERSED
        assert [n.lstrip("0") for n in result.reopened] == ["1001"]
        assert stack.balance("1001") == Decimal("125.00")
        kinds = [d.kind for d in stack.erp.documents_for_transaction(txn)]
        assert kinds.count(DocumentKind.RECEIPT) == 1 and kinds.count(DocumentKind.REVERSAL) == 1
        again = await sweep(stack, mode="lookback")
        assert (again.found, again.started, again.already) == (1, 0, 1)
        assert (stack.store.posting(txn, kind="reversal") or {})["status"] == "posted"


async def test_a_void_while_the_payment_waits_for_an_operator_ends_it_unposted(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        txn = await stack.sale("80.50", invoice="INV-77")
        await start_payment_posting(stack.client, stack.settings.task_queue, txn, "sweep")
        await parked(stack, f"payment-{txn}")
        await stack.void(txn)
        await sweep(stack, mode="lookback")
        result = await result_of(stack, VoidReversal.run, f"void-{txn}")
        assert result.outcome is ReversalOutcome.NOTHING_POSTED
        posting = await stack.handle(txn).result()
        assert posting.outcome is PostingOutcome.VOIDED
        assert stack.store.dead_letters() == []  # its needs-attention item was closed
        assert stack.receipts(txn) == (0, 0)


async def test_an_unvoided_sale_keeps_its_receipt(dev_env, tmp_path, erp_url, erp_name):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        txn = await stack.sale("40.00", invoice="1004")
        await start_payment_posting(stack.client, stack.settings.task_queue, txn, "test")
        await stack.handle(txn).result()
        handle = await stack.start(StartKind.REVERSAL, txn)
        result = await handle.result()
        assert result["outcome"] == "not_reversed" and "not voided" in result["reason"]
        assert stack.balance("1004") == Decimal("0.00")


async def test_an_ach_payment_posts_and_its_bank_return_reverses_it(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        check = await stack.check_sale("125.00", invoice="1001")
        swept = await sweep(stack)
        assert (swept.found, swept.started) == (1, 1)
        posting = await result_of(stack, PaymentPosting.run, f"payment-ach-{check}")
        assert posting.outcome is PostingOutcome.POSTED and posting.rule == "invoice_number"
        assert stack.balance("1001") == Decimal("0.00")
        receipt = stack.erp.find_receipt(check, PaymentSource.ACH)
        assert receipt is not None and receipt.source is PaymentSource.ACH
        assert stack.erp.find_receipt(check) is None  # not a card receipt of the same number
        assert (stack.store.posting(check, kind="ach_receipt") or {})["status"] == "posted"

        await stack.return_check(check, "R01 Insufficient Funds")
        looked = await sweep(stack, mode="lookback")
        assert looked.started == 1
        result = await result_of(stack, VoidReversal.run, f"ach-return-{check}")
        assert result.outcome is ReversalOutcome.REVERSED and result.method is PaymentSource.ACH
        assert stack.balance("1001") == Decimal("125.00")
        (alert,) = stack.store.alerts(kind=AlertKind.NOTICE)
        assert "returned" in alert.subject and "R01" in alert.message


async def test_an_ach_debit_not_processed_is_not_posted(dev_env, tmp_path, erp_url, erp_name):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        check = await stack.check_sale("40.51", invoice="1004")  # .51: not processed
        await sweep(stack)
        posting = await result_of(stack, PaymentPosting.run, f"payment-ach-{check}")
        assert posting.outcome is PostingOutcome.DECLINED
        assert stack.balance("1004") == Decimal("40.00")


async def test_a_voided_ach_debit_reverses_its_receipt(dev_env, tmp_path, erp_url, erp_name):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        check = await stack.check_sale("40.00", invoice="1004")
        await sweep(stack)
        await result_of(stack, PaymentPosting.run, f"payment-ach-{check}")
        assert stack.balance("1004") == Decimal("0.00")
        await stack.paytrace.check_void(check)
        looked = await sweep(stack, mode="lookback")
        assert looked.started == 1
        result = await result_of(stack, VoidReversal.run, f"ach-return-{check}")
        assert result.outcome is ReversalOutcome.REVERSED
        assert stack.balance("1004") == Decimal("40.00")
        assert stack.store.alerts(kind=AlertKind.NOTICE) == []  # a void is no bank return


async def test_a_voided_refund_whose_memo_was_posted_waits_for_a_person(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        sale = await posted(stack, "100.00", "1001")
        await stack.settle()
        refund = await stack.refund(sale, "40.00")
        await sweep(stack)
        memo = await result_of(stack, RefundToCreditMemo.run, f"refund-{refund}")
        await stack.void(refund)  # the refund had not settled yet
        await sweep(stack, mode="lookback")
        info = await parked(stack, f"void-{refund}")
        assert info.reason_kind == "refund_voided" and memo.erp_document in info.reason
        assert [a.value for a in info.allowed] == ["mark_handled"]
        await resolve(stack, f"void-{refund}", ResolutionAction.MARK_HANDLED, note="memo deleted")
        result = await result_of(stack, VoidReversal.run, f"void-{refund}")
        assert result.outcome is ReversalOutcome.HANDLED


async def test_a_capture_voided_days_after_its_authorization_is_still_reversed(
    dev_env, tmp_path, erp_url, erp_name
):
    """A void keeps its transaction's date: the authorization's, up to 8 days before."""
    now = datetime.now(UTC)
    clock = [now - timedelta(days=6)]
    async with running_stack(
        dev_env.client,
        tmp_path,
        erp_url,
        erp_name=erp_name,
        clock=clock,
        demo_today=(now - timedelta(days=10)).date(),
    ) as stack:
        request = KeyedSaleRequest(
            amount=Decimal("40.00"),
            credit_card=CreditCard(
                number=SecretStr(TEST_CARD), expiration_month="12", expiration_year="2030"
            ),
            invoice_id="1004",
        )
        auth = (await stack.paytrace.authorize_keyed(request)).transaction_id
        clock[0] = now
        await stack.paytrace.capture(auth)
        await start_payment_posting(stack.client, stack.settings.task_queue, auth, "test")
        assert (await stack.handle(auth).result()).outcome is PostingOutcome.POSTED
        await stack.void(auth)
        looked = await sweep(stack, mode="lookback")
        assert looked.started == 1
        result = await result_of(stack, VoidReversal.run, f"void-{auth}")
        assert result.outcome is ReversalOutcome.REVERSED
        assert stack.balance("1004") == Decimal("40.00")
