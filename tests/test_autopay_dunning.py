"""Dunning on the time-skipping server: declines are retried after 1, 3 and 7 days, a payment
made meanwhile stops it, a card that expires during dunning is not charged, and the last decline
waits for a person."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from activities.starter import start_payment_posting
from domain.activity_io import ResolutionAction
from domain.autopay_io import AutopayOutcome
from domain.store_io import AlertKind
from tests.autopay import AUTOPAY, autopay_customer, expire_card, start_charge
from tests.scenarios import parked, resolve, today_for
from tests.stack import running_stack

pytestmark = pytest.mark.erp_diagonal  # each ERP once, each database once (conftest)


async def pay(stack, amount, invoice):
    """Another payment of the invoice; polled, since awaiting a result would skip time."""
    txn = await stack.sale(amount, invoice=invoice)
    await start_payment_posting(stack.client, stack.settings.task_queue, txn, "test")
    await stack.wait_stage(f"payment-{txn}", "posted")


async def test_a_decline_is_retried_next_day_and_charges_what_is_left(
    own_skipping_env, tmp_path, erp_url, erp_name
):
    env = own_skipping_env
    async with running_stack(
        env.client, tmp_path, erp_url, erp_name=erp_name, mapping=AUTOPAY
    ) as stack:
        due = await autopay_customer(stack, "80.51")
        handle = await start_charge(stack, due)
        await stack.wait_stage(due.workflow_id, "dunning")
        await pay(stack, "0.50", due.invoice_number)  # the customer paid part by phone
        assert stack.balance(due.invoice_number) == Decimal("80.01")
        await env.sleep(timedelta(days=1, minutes=1))
        result = await handle.result()
        assert result.outcome is AutopayOutcome.CHARGED
        assert [(a.approved, a.amount) for a in result.attempts] == [
            (False, Decimal("80.51")),
            (True, Decimal("80.01")),
        ]
        await stack.handle(result.transaction_id).result()
        assert stack.balance(due.invoice_number) == Decimal("0.00")


async def test_every_decline_follows_the_schedule_then_waits_for_a_person(
    own_skipping_env, tmp_path, erp_url
):
    env = own_skipping_env
    async with running_stack(env.client, tmp_path, erp_url, mapping=AUTOPAY) as stack:
        due = await autopay_customer(stack, "45.02")  # .02: do not honor, every time
        handle = await start_charge(stack, due)
        await stack.wait_stage(due.workflow_id, "dunning")
        await env.sleep(timedelta(days=8))
        info = await parked(stack, due.workflow_id)
        assert info.reason_kind == "autopay_declined"
        attempts = await handle.query("attempts")
        assert len(attempts) == 4 and not any(a["approved"] for a in attempts)
        first = date.fromisoformat(attempts[0]["day"])
        offsets = [(date.fromisoformat(a["day"]) - first).days for a in attempts]
        assert offsets == [0, 1, 3, 7]
        finance = [a for a in stack.store.alerts(kind=AlertKind.NOTICE) if "declined" in a.subject]
        assert len(finance) == 4 and "last attempt" in finance[-1].message
        await resolve(stack, due.workflow_id, ResolutionAction.MARK_HANDLED, note="called them")
        assert (await handle.result()).outcome is AutopayOutcome.HANDLED


async def test_a_card_that_expires_during_dunning_is_not_charged_again(
    own_skipping_env, tmp_path, erp_url, erp_name
):
    env = own_skipping_env
    async with running_stack(
        env.client, tmp_path, erp_url, erp_name=erp_name, mapping=AUTOPAY
    ) as stack:
        due = await autopay_customer(stack, "120.02")  # .02: do not honor
        handle = await start_charge(stack, due)
        await stack.wait_stage(due.workflow_id, "dunning")
        await expire_card(stack, due.paytrace_customer_id, today_for(stack))
        await env.sleep(timedelta(days=1, minutes=1))
        info = await parked(stack, due.workflow_id)
        assert info.reason_kind == "card_expired" and "has expired" in info.reason
        assert len(await handle.query("attempts")) == 1  # no charge on an expired card
        customer = stack.store.alerts(kind=AlertKind.CUSTOMER_NOTICE)
        assert any("expired" in a.message for a in customer)
        await pay(stack, "60.01", due.invoice_number)  # paid another way meanwhile, in two parts
        await pay(stack, "60.01", due.invoice_number)
        await resolve(stack, due.workflow_id, ResolutionAction.RETRY)
        result = await handle.result()
        assert result.outcome is AutopayOutcome.PAID_ELSEWHERE and len(result.attempts) == 1
