"""Matching scenarios end to end, on both ERP stand-ins (SQLite and PostgreSQL): real workers on
the dev server, the PayTrace simulator behind the real client, the sweep, the store."""

import asyncio
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from activities.starter import start_payment_posting
from domain.activity_io import PostingOutcome
from domain.erp_documents import DocumentKind
from tests.scenarios import company, parked, sweep
from tests.stack import running_stack

pytestmark = pytest.mark.erp_diagonal  # each ERP once, each database once (conftest)


async def test_a_payment_for_two_invoices_is_allocated_oldest_due_first(
    dev_env, tmp_path, erp_url, erp_name
):
    mapping = {"matching": {"allocate_oldest_first": True}}
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=mapping
    ) as stack:
        open_ = sorted(
            stack.erp.open_invoices("C0001"),
            key=lambda i: (i.due_date, i.invoice_date, i.invoice_number),
        )
        first, second = open_[0], open_[1]
        amount = first.balance + second.balance - Decimal("0.50")  # the second stays 0.50 open
        txn = await stack.sale(str(amount), customer="C0001")
        await start_payment_posting(stack.client, stack.settings.task_queue, txn, "test")
        result = await stack.handle(txn).result()
        assert result.outcome is PostingOutcome.POSTED and result.rule == "oldest_first"
        assert stack.balance(first.invoice_number) == Decimal("0.00")
        assert stack.balance(second.invoice_number) == Decimal("0.50")
        (decision,) = stack.store.decisions(transaction_id=txn)
        assert decision.rule == "oldest_first" and decision.applied == amount
        assert [a.invoice_number for a in decision.applications] == [
            first.invoice_number,
            second.invoice_number,
        ]
        assert stack.receipts(txn) == (1, 1)


async def test_a_one_cent_short_pay_is_written_off_within_tolerance(
    dev_env, tmp_path, erp_url, erp_name
):
    mapping = {"matching": {"tolerance": "0.01"}}
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=mapping
    ) as stack:
        txn = await stack.sale("124.99", invoice="1001")
        await start_payment_posting(stack.client, stack.settings.task_queue, txn, "test")
        result = await stack.handle(txn).result()
        assert result.outcome is PostingOutcome.POSTED and "short by 0.01" in result.reason
        assert stack.balance("1001") == Decimal("0.00")
        (decision,) = stack.store.decisions(transaction_id=txn)
        assert decision.written_off == Decimal("0.01") and decision.applied == Decimal("124.99")


async def test_a_one_cent_short_pay_without_tolerance_leaves_the_cent_open(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        txn = await stack.sale("124.99", invoice="1001")
        await start_payment_posting(stack.client, stack.settings.task_queue, txn, "test")
        result = await stack.handle(txn).result()
        assert result.outcome is PostingOutcome.POSTED and "0.01 stays open" in result.reason
        assert stack.balance("1001") == Decimal("0.01")


async def test_an_overpayment_pays_the_invoice_and_leaves_the_rest_on_account(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        txn = await stack.sale("130.00", invoice="1001")
        await start_payment_posting(stack.client, stack.settings.task_queue, txn, "test")
        result = await stack.handle(txn).result()
        assert result.outcome is PostingOutcome.POSTED and "5.00 left on account" in result.reason
        assert stack.balance("1001") == Decimal("0.00")
        (decision,) = stack.store.decisions(transaction_id=txn)
        assert decision.on_account == Decimal("5.00")
        (receipt,) = [
            d for d in stack.erp.documents_for_transaction(txn) if d.kind is DocumentKind.RECEIPT
        ]
        assert receipt.amount == Decimal("130.00")


async def test_a_sweep_overlapping_a_silent_post_posts_once(dev_env, tmp_path, erp_url, erp_name):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        txn = await stack.sale("40.00", invoice="1004")
        queue = stack.settings.task_queue
        silent_post, swept, again = await asyncio.gather(
            start_payment_posting(stack.client, queue, txn, "silent_post"),
            sweep(stack),
            start_payment_posting(stack.client, queue, txn, "silent_post"),
        )
        assert swept.found == 1
        assert swept.started + int(silent_post) + int(again) == 1  # one start, the rest joined
        result = await stack.handle(txn).result()
        assert result.outcome is PostingOutcome.POSTED
        assert stack.balance("1004") == Decimal("0.00")
        assert stack.receipts(txn) == (1, 1)


async def test_a_backfill_reads_its_window_and_leaves_the_cursor_alone(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(dev_env.client, tmp_path, erp_url, erp_name=erp_name) as stack:
        txn = await stack.sale("80.50", invoice="1002")
        now = datetime.now(UTC)
        done = await sweep(
            stack,
            cursor_name="backfill-cursor",
            since=now - timedelta(days=2, hours=1),
            until=now + timedelta(minutes=1),
        )
        assert (done.found, done.started) == (1, 1)
        assert (await stack.handle(txn).result()).outcome is PostingOutcome.POSTED
        assert stack.store.sweep_cursor("backfill-cursor") is None
        again = await sweep(stack, since=now - timedelta(days=2), until=now + timedelta(minutes=1))
        assert (again.found, again.started, again.already) == (1, 0, 1)


async def test_the_customer_rules_exact_balance_short_pay_over_pay_and_ambiguity(
    dev_env, tmp_path, erp_url, erp_name
):
    """Payments that name no invoice, only the customer (PayTrace customer_reference_id)."""
    mapping = {"matching": {"tolerance": "0.05"}}
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=mapping
    ) as stack:
        standin, engine = stack.standin, stack.erp_engine
        today = datetime.now(UTC).date()
        suffix = random.randrange(10**5, 10**6)
        for customer, invoices in (
            ("C9001", (("A", "50.00"), ("B", "75.00"))),
            ("C9002", (("C", "20.00"),)),
            ("C9003", (("D", "30.00"), ("E", "30.00"))),
        ):
            standin.add_customer(
                engine, company_id=company(stack), customer_id=customer, name=f"Rules {customer}"
            )
            for letter, amount in invoices:
                standin.add_invoice(
                    engine,
                    company_id=company(stack),
                    customer_id=customer,
                    number=f"{suffix}{letter}"[-10:]
                    if erp_name == "sage500"
                    else f"{letter}{suffix}",
                    amount=Decimal(amount),
                    invoice_date=today - timedelta(days=30),
                    due_date=today,
                )

        async def pay(amount, customer):
            txn = await stack.sale(amount, customer=customer)
            await start_payment_posting(stack.client, stack.settings.task_queue, txn, "test")
            return txn

        exact = await pay("75.00", "C9001")
        assert (await stack.handle(exact).result()).rule == "exact_balance"
        short = await pay("49.97", "C9001")  # 0.03 short of A, within 0.05
        result = await stack.handle(short).result()
        assert result.rule == "short_pay" and "written off" in result.reason
        over = await pay("25.00", "C9002")  # its only open invoice is 20.00
        result = await stack.handle(over).result()
        assert result.rule == "over_pay" and "5.00 left on account" in result.reason
        assert stack.erp.open_invoices("C9001") == [] and stack.erp.open_invoices("C9002") == []
        unclear = await pay("10.00", "C9001")  # C9001 has nothing open any more
        info = await parked(stack, f"payment-{unclear}")
        assert info.reason_kind == "match_customer" and "no open invoices" in info.reason
        tie = await pay("30.00", "C9003")  # two open invoices of 30.00: never a guess
        info = await parked(stack, f"payment-{tie}")
        assert info.reason_kind == "match_ambiguous", info.reason
        assert len(info.candidates) == 2
        decisions = {d.paytrace_transaction_id: d for d in stack.store.decisions()}
        assert decisions[short].written_off == Decimal("0.03")
        assert decisions[over].on_account == Decimal("5.00")
        assert decisions[unclear].outcome == "needs_attention"
