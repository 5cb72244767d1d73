"""Settlement scenarios on both ERP stand-ins: every settled batch reconciled and deposited once,
discrepancies reported, and a batch settled after midnight dated on its own day and period."""

import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from domain.activity_io import ResolutionAction
from domain.erp_documents import DocumentKind
from domain.settlement_io import SettlementInput, SettlementOutcome, SettlementSweepInput
from domain.store_io import AlertKind, SettlementLineStatus
from tests.scenarios import parked, posted, resolve, result_of
from tests.stack import running_stack
from workers.attention import parse_invoice
from workflows.registry import SettlementSweep, SettlementSync

pytestmark = pytest.mark.erp_diagonal  # each ERP once, each database once (conftest)

FEES = {
    "settlement": {"fees": "daily", "fee_percent": "2.9", "fee_per_transaction": "0.30"},
}


async def settle_batch(stack, batch):
    return await stack.client.execute_workflow(
        SettlementSync.run,
        SettlementInput(batch_number=batch),
        id=f"settlement-{uuid.uuid4().hex[:10]}",
        task_queue=stack.settings.task_queue,
    )


async def test_a_settled_batch_is_reconciled_and_deposited_net_of_fees(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=FEES
    ) as stack:
        first = await posted(stack, "125.00", "1001")
        second = await posted(stack, "40.00", "1004")
        unannounced = await stack.sale("80.50", invoice="1002")  # nobody started its posting
        batch = await stack.settle()
        assert batch is not None
        swept = await stack.client.execute_workflow(
            SettlementSweep.run,
            SettlementSweepInput(lookback_days=2),
            id=f"settlement-sweep-{uuid.uuid4().hex[:8]}",
            task_queue=stack.settings.task_queue,
        )
        assert batch in swept.batches and swept.started == 1
        result = await result_of(stack, SettlementSync.run, f"settlement-{batch}")
        assert result.outcome is SettlementOutcome.RECONCILED, result.reason
        assert result.started_postings == 1  # the unannounced sale was posted first
        assert stack.balance("1002") == Decimal("0.00")
        report = stack.store.settlement_report(batch)
        assert report is not None and report.status == "deposited"
        assert {line.transaction_id for line in report.lines} == {first, second, unannounced}
        assert {line.status for line in report.lines} == {SettlementLineStatus.MATCHED}
        fees = Decimal("7.12") + Decimal("0.90")  # 2.9 % of 245.50, and 0.30 a sale
        assert (report.sales_amount, report.fees) == (Decimal("245.50"), fees)
        deposit = stack.erp.find_document(DocumentKind.DEPOSIT, str(batch))
        assert deposit is not None and deposit.amount == Decimal("245.50") - fees
        assert deposit.erp_document == result.deposit_document
        fee_entry = stack.erp.find_document(DocumentKind.JOURNAL, f"fees:batch:{batch}")
        assert fee_entry is not None and fee_entry.erp_document == result.fee_document
        again = await stack.client.execute_workflow(
            SettlementSweep.run,
            SettlementSweepInput(lookback_days=2),
            id=f"settlement-sweep-{uuid.uuid4().hex[:8]}",
            task_queue=stack.settings.task_queue,
        )
        assert (again.started, again.already) == (0, len(again.batches))


async def test_a_receipt_of_a_voided_sale_is_a_discrepancy_and_raises_an_alert(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        kept = await posted(stack, "125.00", "1001")
        voided = await posted(stack, "40.00", "1004")
        await stack.void(voided)  # and nobody ran the lookback sweep that reverses it
        batch = await stack.settle()
        assert batch is not None
        result = await settle_batch(stack, batch)
        assert result.outcome is SettlementOutcome.DISCREPANCIES and result.discrepancies == 1
        report = stack.store.settlement_report(batch)
        assert report is not None
        (stray,) = report.discrepancies
        assert stray.transaction_id == voided and "VOID" in stray.note
        assert stray.status is SettlementLineStatus.IN_ERP_NOT_IN_PAYTRACE
        assert [line.transaction_id for line in report.lines if line.status.value == "matched"] == [
            kept
        ]
        (alert,) = stack.store.alerts(kind=AlertKind.SETTLEMENT_DISCREPANCY)
        assert f"batch {batch}" in alert.subject
        deposit = stack.erp.find_document(DocumentKind.DEPOSIT, str(batch))
        assert deposit is not None and deposit.amount == Decimal("125.00")


async def test_a_refund_only_batch_moves_money_out_of_the_bank(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        sale = await posted(stack, "125.00", "1001")
        await stack.settle()
        await stack.refund(sale, "25.00")
        batch = await stack.settle()
        assert batch is not None
        assert batch is not None
        result = await settle_batch(stack, batch)  # starts the refund's credit memo first
        assert result.outcome is SettlementOutcome.RECONCILED and result.started_postings == 1
        entry = stack.erp.find_document(DocumentKind.JOURNAL, f"deposit:batch:{batch}")
        assert entry is not None and entry.amount == Decimal("25.00")
        report = stack.store.settlement_report(batch)
        assert report is not None
        assert report.deposit_amount == Decimal("-25.00") and report.refund_count == 1


async def test_a_late_evening_pacific_sale_lands_in_the_next_days_batch_and_period(
    dev_env, tmp_path, erp_url, erp_name
):
    """10 PM in Los Angeles on the last day of a month is 1 AM in New York: PayTrace's batch,
    closed at 3 AM Eastern (midnight Pacific), settles it the next day. The receipt keeps the
    day of the sale; the deposit the day of the settlement, in the next period."""
    pacific_cutoff = time(0, 0)  # 03:00 in New York
    month_end = date(2026, 11, 30)
    sale_time = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # 22:00 on Nov 30 in Los Angeles
    clock = [sale_time]
    async with running_stack(
        dev_env.client,
        tmp_path,
        erp_url,
        erp_name=erp_name,
        timezone="America/Los_Angeles",
        clock=clock,
        cutoff=pacific_cutoff,
        demo_today=month_end,
    ) as stack:
        txn = await posted(stack, "125.00", "1001")
        (receipt,) = [
            d for d in stack.erp.documents_for_transaction(txn) if d.kind is DocumentKind.RECEIPT
        ]
        assert receipt.document_date == month_end
        clock[0] = sale_time + timedelta(hours=2, minutes=30)  # 00:30 on Dec 1 in Los Angeles
        batch_info = await stack.paytrace.export_batch()  # the simulator settles lazily
        assert batch_info is not None
        result = await settle_batch(stack, batch_info.number)
        assert result.outcome is SettlementOutcome.RECONCILED, result.reason
        deposit = stack.erp.find_document(DocumentKind.DEPOSIT, str(batch_info.number))
        assert deposit is not None and deposit.document_date == date(2026, 12, 1)
        assert stack.period_label(receipt.document_date) != stack.period_label(
            deposit.document_date
        )
        report = stack.store.settlement_report(batch_info.number)
        assert report is not None
        assert report.deposit_date == date(2026, 12, 1)


async def test_a_deposit_waits_for_its_receipts_and_is_written_once(
    dev_env, tmp_path, erp_url, erp_name
):
    mapping = {"settlement": {"wait_minutes": 0}}
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=mapping
    ) as stack:
        txn = await stack.sale("80.50", invoice="INV-77")  # parks: no such invoice
        batch = await stack.settle()
        assert batch is not None
        first = await settle_batch(stack, batch)  # starts the posting, which parks
        assert first.outcome is SettlementOutcome.DISCREPANCIES and first.deposit_document == ""
        report = stack.store.settlement_report(batch)
        assert report is not None and "waits for them" in report.notes[0]
        assert stack.erp.find_document(DocumentKind.DEPOSIT, str(batch)) is None
        await parked(stack, f"payment-{txn}")
        await resolve(
            stack,
            f"payment-{txn}",
            ResolutionAction.APPLY_TO,
            invoices=(parse_invoice("1002=80.50"),),
        )
        await stack.handle(txn).result()
        second = await settle_batch(stack, batch)
        assert second.outcome is SettlementOutcome.RECONCILED and second.deposit_document
        third = await settle_batch(stack, batch)
        assert third.deposit_document == second.deposit_document
        deposit = stack.erp.find_document(DocumentKind.DEPOSIT, str(batch))
        assert deposit is not None and deposit.amount == Decimal("80.50")
        assert stack.erp.find_document(DocumentKind.JOURNAL, f"deposit:batch:{batch}") is None
