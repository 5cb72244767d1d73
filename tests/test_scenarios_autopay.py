"""Autopay on both ERP stand-ins: the day's sweep charges each due invoice once by the stored card
and its posting pays the invoice; customers without a profile are named, not charged."""

from datetime import timedelta
from decimal import Decimal

import pytest

from activities.starter import start_payment_posting
from domain.autopay_io import AutopayOutcome, AutopayResult, AutopaySweepResult
from domain.store_io import AlertKind
from tests.autopay import AUTOPAY, autopay_customer, run_sweep, start_charge
from tests.scenarios import today_for
from tests.stack import running_stack

pytestmark = pytest.mark.erp_diagonal  # each ERP once, each database once (conftest)


async def test_the_sweep_charges_a_due_invoice_once_and_the_posting_pays_it(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=AUTOPAY
    ) as stack:
        due = await autopay_customer(stack, "212.40")
        later = await autopay_customer(stack, "99.00", due_in_days=5)
        unlinked = await autopay_customer(stack, "50.00", linked=False)
        swept = AutopaySweepResult.model_validate(await run_sweep(stack))
        assert (swept.due, swept.started, swept.already) == (1, 1, 0)
        assert swept.skipped == (f"{unlinked.customer_id}: no linked PayTrace profile",)
        handle = stack.client.get_workflow_handle(due.workflow_id, result_type=AutopayResult)
        result = await handle.result()
        assert result.outcome is AutopayOutcome.CHARGED and len(result.attempts) == 1
        assert result.attempts[0].amount == Decimal("212.40")
        posting = await stack.handle(result.transaction_id).result()
        assert posting.outcome.value == "posted" and posting.rule == "invoice_number"
        assert stack.balance(due.invoice_number) == Decimal("0.00")
        assert stack.balance(later.invoice_number) == Decimal("99.00")
        again = AutopaySweepResult.model_validate(await run_sweep(stack))
        assert (again.due, again.started) == (0, 0)  # paid: nothing due any more
        future = today_for(stack) + timedelta(days=5)
        ahead = AutopaySweepResult.model_validate(await run_sweep(stack, future))
        assert (ahead.due, ahead.started) == (1, 1)
        charged = await stack.client.get_workflow_handle(
            later.workflow_id, result_type=AutopayResult
        ).result()
        await stack.handle(charged.transaction_id).result()
        assert stack.balance(later.invoice_number) == Decimal("0.00")


async def test_an_invoice_paid_another_way_or_a_customer_off_autopay_is_not_charged(
    dev_env, tmp_path, erp_url, erp_name
):
    async with running_stack(
        dev_env.client, tmp_path, erp_url, erp_name=erp_name, mapping=AUTOPAY
    ) as stack:
        paid = await autopay_customer(stack, "40.00")
        txn = await stack.sale("40.00", invoice=paid.invoice_number)
        await start_payment_posting(stack.client, stack.settings.task_queue, txn, "test")
        await stack.handle(txn).result()
        left = await autopay_customer(stack, "60.00")
        stack.erp.set_autopay(left.customer_id, False)
        first = await (await start_charge(stack, paid)).result()
        second = await (await start_charge(stack, left)).result()
        assert first.outcome is AutopayOutcome.PAID_ELSEWHERE and first.attempts == ()
        assert second.outcome is AutopayOutcome.LEFT_AUTOPAY and second.attempts == ()
        assert stack.balance(left.invoice_number) == Decimal("60.00")


async def test_autopay_is_off_unless_the_mapping_turns_it_on(dev_env, tmp_path, erp_url):
    async with running_stack(dev_env.client, tmp_path, erp_url) as stack:
        await autopay_customer(stack, "10.00")
        swept = AutopaySweepResult.model_validate(await run_sweep(stack))
        assert not swept.enabled and swept.started == 0


async def test_a_declined_charge_alerts_finance_and_the_customer(dev_env, tmp_path, erp_url):
    async with running_stack(dev_env.client, tmp_path, erp_url, mapping=AUTOPAY) as stack:
        due = await autopay_customer(stack, "80.51")  # .51: the simulator's insufficient funds
        handle = await start_charge(stack, due)
        await stack.wait_stage(due.workflow_id, "dunning")
        alerts = {a.alert_key.rsplit("/", 1)[-1]: a for a in stack.store.alerts()}
        finance = stack.store.alerts(kind=AlertKind.NOTICE)
        customer = stack.store.alerts(kind=AlertKind.CUSTOMER_NOTICE)
        assert len(finance) == 1 and "Insufficient funds" in finance[0].message
        assert len(customer) == 1 and customer[0].detail["to"] == due.email
        assert "4012000098765439" not in str(alerts) and "x5439" in finance[0].message
        await handle.terminate("test finished")


async def test_a_customer_with_an_open_chargeback_is_not_charged(dev_env, tmp_path, erp_url):
    from tests.chargebacks import case_for, close, open_case, open_cases_of, wait_for

    async with running_stack(dev_env.client, tmp_path, erp_url, mapping=AUTOPAY) as stack:
        due = await autopay_customer(stack, "30.00")
        disputed = await stack.sale("12.00", invoice=due.invoice_number)
        await start_payment_posting(stack.client, stack.settings.task_queue, disputed, "test")
        await stack.handle(disputed).result()
        case = case_for(disputed, "12.00", fee="0.00")
        await open_case(stack, case)
        await wait_for(stack, case, "awaiting_deadline")
        assert len(open_cases_of(stack, due.customer_id)) == 1
        swept = AutopaySweepResult.model_validate(await run_sweep(stack))
        assert (swept.due, swept.started) == (1, 0)
        assert "open chargeback" in swept.skipped[0] and case.workflow_id in swept.skipped[0]
        assert stack.balance(due.invoice_number) == Decimal("30.00")
        await close(stack, case)
