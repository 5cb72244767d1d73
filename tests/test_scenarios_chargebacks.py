"""Chargeback scenarios on both ERP stand-ins: a case reopens the invoice, charges its fee, holds
the customer, and each decision (including won→lost→won flips) leaves the books right."""

from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from domain.activity_io import ResolutionAction
from domain.chargeback_io import DisputeOutcome, LedgerState
from domain.chargeback_report import read_report
from domain.erp_documents import DocumentKind
from domain.store_io import AlertKind
from tests.chargebacks import (
    FEE_ACCOUNTS,
    case_for,
    close,
    decide,
    on_hold,
    open_case,
    open_cases_of,
    status_of,
    wait_for,
)
from tests.scenarios import parked, posted, resolve
from tests.stack import running_stack
from workers.chargeback_cases import import_report

pytestmark = pytest.mark.erp_diagonal  # each ERP once, each database once (conftest)

HOLD = {**FEE_ACCOUNTS, "chargebacks": {"credit_hold": True}}


def kinds(stack, txn):
    return [d.kind for d in stack.erp.documents_for_transaction(txn)]


def journals(stack, case):
    keys = [f"cb-{case.case_id}-{k}" for k in ("fee1", "feeback1", "fee2", "feeback2")]
    return [k for k in keys if stack.erp.find_document(DocumentKind.JOURNAL, k) is not None]


async def test_a_case_reopens_the_invoice_and_a_won_lost_won_flip_ends_paid(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=HOLD
    ) as stack:
        txn = await posted(stack, "125.00", "1001")
        case = case_for(txn, "125.00")
        await open_case(stack, case)
        await wait_for(stack, case, "awaiting_deadline")
        status = await status_of(stack, case)
        customer = status.customer_id
        assert stack.balance("1001") == Decimal("125.00")
        assert status.ledger is LedgerState.REVERSED and on_hold(stack, customer)
        assert journals(stack, case) == [f"cb-{case.case_id}-fee1"]
        opened = [a for a in stack.store.alerts() if a.alert_key.endswith("/opened")]
        assert len(opened) == 1 and opened[0].kind is AlertKind.NOTICE

        assert await decide(stack, case, "won") == "accepted: won"
        assert stack.balance("1001") == Decimal("0.00") and not on_hold(stack, customer)
        assert journals(stack, case) == [f"cb-{case.case_id}-fee1", f"cb-{case.case_id}-feeback1"]

        await decide(stack, case, "lost")
        assert stack.balance("1001") == Decimal("125.00") and on_hold(stack, customer)
        await decide(stack, case, "won")
        assert stack.balance("1001") == Decimal("0.00") and not on_hold(stack, customer)
        assert len(journals(stack, case)) == 4  # fee charged twice, taken back twice

        documents = kinds(stack, txn)
        assert documents.count(DocumentKind.RECEIPT) == 1
        assert documents.count(DocumentKind.REVERSAL) == 2
        assert documents.count(DocumentKind.REAPPLICATION) == 2
        again = stack.client.get_workflow_handle(case.workflow_id)
        assert (
            await again.execute_update("record_outcome", {"outcome": "won"}, result_type=str)
            == "unchanged: won"
        )
        status = await status_of(stack, case)
        assert status.outcome is DisputeOutcome.WON and status.ledger is LedgerState.APPLIED
        await close(stack, case)


async def test_a_lost_case_writes_the_invoice_off_when_configured(
    dev_env, tmp_path, erp_url, erp_name
):
    mapping = {**FEE_ACCOUNTS, "chargebacks": {"lost": "write_off"}}
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=mapping
    ) as stack:
        txn = await posted(stack, "80.50", "1002")
        case = case_for(txn, "80.50", fee="0.00")
        await open_case(stack, case)
        await wait_for(stack, case, "awaiting_deadline")
        assert stack.balance("1002") == Decimal("80.50")
        await decide(stack, case, "lost")
        assert stack.balance("1002") == Decimal("0.00")
        assert DocumentKind.WRITE_OFF in kinds(stack, txn)
        assert journals(stack, case) == []  # no fee: nothing journaled
        status = await status_of(stack, case)
        assert status.ledger is LedgerState.WRITTEN_OFF
        await decide(stack, case, "won")  # reversed on appeal after the write-off
        status = await status_of(stack, case)
        assert status.ledger is LedgerState.APPLIED
        assert any(a.alert_key.endswith("/won-after-write-off-1") for a in stack.store.alerts())
        await close(stack, case)


async def test_a_case_on_a_payment_never_posted_waits_for_a_person(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=FEE_ACCOUNTS
    ) as stack:
        txn = await stack.sale("40.00", invoice="1004")
        case = case_for(txn, "40.00")
        await open_case(stack, case)
        info = await parked(stack, case.workflow_id)
        assert info.reason_kind == "chargeback_not_posted" and str(txn) in info.reason
        assert stack.balance("1004") == Decimal("40.00")
        from activities.starter import start_payment_posting

        await start_payment_posting(stack.client, stack.settings.task_queue, txn, "test")
        await stack.handle(txn).result()
        assert stack.balance("1004") == Decimal("0.00")
        await resolve(stack, case.workflow_id, ResolutionAction.RETRY)
        await wait_for(stack, case, "awaiting_deadline")
        assert stack.balance("1004") == Decimal("40.00")
        await close(stack, case)


async def test_a_partial_chargeback_parks_instead_of_reversing_the_whole_payment(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        txn = await posted(stack, "125.00", "1001")
        case = case_for(txn, "25.00")
        await open_case(stack, case)
        info = await parked(stack, case.workflow_id)
        assert info.reason_kind == "chargeback_partial"
        assert [a.value for a in info.allowed] == ["mark_handled"]
        assert stack.balance("1001") == Decimal("0.00")
        await resolve(stack, case.workflow_id, ResolutionAction.MARK_HANDLED, note="booked by hand")
        result = await stack.client.get_workflow_handle(case.workflow_id).result()
        assert result["outcome"] == "handled"


async def test_importing_the_dispute_report_twice_opens_each_case_once(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=FEE_ACCOUNTS
    ) as stack:
        txn = await posted(stack, "125.00", "1001")
        case = case_for(txn, "125.00")
        header = (
            "Case Number,Transaction ID,Dispute Amount,Fee,Reason Code,Case Date,Reply By,Status"
        )
        row = f"{case.case_id},{txn},125.00,25.00,13.1,{case.opened_on},{case.respond_by},"
        queue = stack.settings.task_queue
        tz = ZoneInfo(stack.settings.paytrace_timezone)
        first = await import_report(
            stack.client, queue, read_report(f"{header}\n{row}Open\n", tz, Decimal("0"))
        )
        assert (first.started, first.joined, first.problems) == (1, 0, ())
        await wait_for(stack, case, "awaiting_deadline")
        decided = read_report(f"{header}\n{row}Won\n", tz, Decimal("0"))
        second = await import_report(stack.client, queue, decided)
        assert (second.started, second.joined, second.decisions) == (0, 1, 1)
        await wait_for(stack, case, "decided_won")
        third = await import_report(stack.client, queue, decided)
        assert (third.started, third.decisions, third.unchanged) == (0, 0, 1)
        assert stack.balance("1001") == Decimal("0.00")
        assert kinds(stack, txn).count(DocumentKind.REVERSAL) == 1
        assert stack.erp.find_document(DocumentKind.JOURNAL, f"cb-{case.case_id}-fee1") is not None
        await close(stack, case)


async def test_two_cases_of_one_customer_share_the_hold_until_the_last_is_won(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=HOLD
    ) as stack:
        first_txn = await posted(stack, "125.00", "1001")
        second_txn = await posted(stack, "80.50", "1002")  # the same customer
        first, second = case_for(first_txn, "125.00"), case_for(second_txn, "80.50")
        await open_case(stack, first)
        await wait_for(stack, first, "awaiting_deadline")
        customer = (await status_of(stack, first)).customer_id
        assert len(open_cases_of(stack, customer)) == 1
        await open_case(stack, second)
        await wait_for(stack, second, "awaiting_deadline")
        assert len(open_cases_of(stack, customer)) == 2
        assert on_hold(stack, customer)
        await decide(stack, first, "won")
        assert on_hold(stack, customer)  # the second case still needs it
        assert "credit hold kept" in (await status_of(stack, first)).history[-1]
        assert len(open_cases_of(stack, customer)) == 1
        await decide(stack, second, "won")
        assert not on_hold(stack, customer)
        await close(stack, first)
        await close(stack, second)


async def test_a_lost_overpayment_writes_off_only_what_its_reversal_reopened(
    dev_env, tmp_path, erp_url, erp_name
):
    mapping = {**FEE_ACCOUNTS, "chargebacks": {"lost": "write_off"}}
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=mapping
    ) as stack:
        txn = await posted(stack, "100.00", "1004")  # 40.00 applied, 60.00 on account
        case = case_for(txn, "100.00", fee="0.00")
        await open_case(stack, case)
        await wait_for(stack, case, "awaiting_deadline")
        assert stack.balance("1004") == Decimal("40.00")
        await decide(stack, case, "lost")
        assert stack.balance("1004") == Decimal("0.00")
        (write_off,) = [
            d for d in stack.erp.documents_for_transaction(txn) if d.kind is DocumentKind.WRITE_OFF
        ]
        assert write_off.amount == Decimal("40.00")
        await close(stack, case)


async def test_importing_a_finished_case_reports_it_and_goes_on(dev_env, tmp_path, erp_url):
    async with running_stack(dev_env.client, tmp_path, erp_url) as stack:
        txn = await posted(stack, "125.00", "1001")
        done = case_for(txn, "25.00")  # partial: parks; marked handled, the case finishes
        await open_case(stack, done)
        await parked(stack, done.workflow_id)
        await resolve(stack, done.workflow_id, ResolutionAction.MARK_HANDLED, note="by hand")
        await stack.client.get_workflow_handle(done.workflow_id).result()
        other = case_for(await stack.sale("1.00"), "1.00")
        header = "case_id,transaction_id,amount,opened_on,respond_by,status\n"
        rows = "".join(
            f"{c.case_id},{c.transaction_id},{c.amount},{c.opened_on},{c.respond_by},{s}\n"
            for c, s in ((done, "won"), (other, "open"))
        )
        tz = ZoneInfo(stack.settings.paytrace_timezone)
        summary = await import_report(
            stack.client, stack.settings.task_queue, read_report(header + rows, tz, Decimal(0))
        )
        assert (summary.started, summary.closed) == (1, 1)
        assert summary.problems == (
            f"line 2: case {done.case_id} won: closed (the case is"
            " finished: book this decision in the ERP by hand)",
        )
        await parked(stack, other.workflow_id)  # never posted: it waits for a person
        await close(stack, other)
