"""A chargeback that lasts months, on the time-skipping server: the deadline passes, the workflow
continues as new, decisions flip won→lost→won over weeks, and the case closes after its window."""

from datetime import timedelta
from decimal import Decimal

import pytest

from domain.chargeback_io import ChargebackOutcome, ChargebackResult, LedgerState
from tests.chargebacks import FEE_ACCOUNTS, case_for, decide, open_case, status_of, wait_for
from tests.scenarios import parked, posted
from tests.stack import running_stack

pytestmark = pytest.mark.erp_diagonal  # each ERP once, each database once (conftest)


async def test_a_case_waits_past_its_deadline_and_follows_flips_for_months(
    own_skipping_env, tmp_path, erp_url, erp_name
):
    env = own_skipping_env
    async with running_stack(
        env.client, tmp_path, erp_url, erp_name=erp_name, mapping=FEE_ACCOUNTS
    ) as stack:
        txn = await posted(stack, "125.00", "1001")
        case = case_for(txn, "125.00", respond_in=timedelta(days=30))
        handle = await open_case(stack, case)
        first_run = handle.result_run_id
        await wait_for(stack, case, "awaiting_deadline")
        assert stack.balance("1001") == Decimal("125.00")

        await env.sleep(timedelta(days=31))
        await wait_for(stack, case, "awaiting_decision")
        described = await stack.client.get_workflow_handle(case.workflow_id).describe()
        assert described.run_id != first_run  # continued as new past the deadline
        assert any(a.alert_key.endswith("/deadline") for a in stack.store.alerts())
        assert (await status_of(stack, case)).ledger is LedgerState.REVERSED

        await decide(stack, case, "won")
        assert stack.balance("1001") == Decimal("0.00")
        await env.sleep(timedelta(days=20))
        await decide(stack, case, "lost")
        assert stack.balance("1001") == Decimal("125.00")
        await env.sleep(timedelta(days=10))
        await decide(stack, case, "won")
        assert stack.balance("1001") == Decimal("0.00")

        await env.sleep(timedelta(days=91))
        result = await stack.client.get_workflow_handle(
            case.workflow_id, result_type=ChargebackResult
        ).result()
    assert result.outcome is ChargebackOutcome.WON and result.ledger is LedgerState.APPLIED
    assert result.cycles == 2
    steps = [line.split(" ")[0] for line in result.history]
    assert steps.count("receipt") == 2 and steps.count("won:") == 2  # reversed twice, won twice
    assert result.history[-2].startswith("won: payment applied again by")
    assert result.history[-1].startswith("fee 15.00 taken back by")


async def test_a_case_without_a_decision_asks_a_person_and_a_late_decision_ends_the_wait(
    own_skipping_env, tmp_path, erp_url
):
    env = own_skipping_env
    mapping = {**FEE_ACCOUNTS, "chargebacks": {"decision_wait_days": 10}}
    async with running_stack(env.client, tmp_path, erp_url, mapping=mapping) as stack:
        txn = await posted(stack, "80.50", "1002")
        case = case_for(txn, "80.50", respond_in=timedelta(days=5))
        await open_case(stack, case)
        await wait_for(stack, case, "awaiting_deadline")
        await env.sleep(timedelta(days=16))
        info = await parked(stack, case.workflow_id)
        assert info.reason_kind == "chargeback_no_decision"
        assert stack.balance("1002") == Decimal("80.50")
        await decide(stack, case, "won")  # the processor's late answer, imported
        assert stack.balance("1002") == Decimal("0.00")
        assert await stack.client.get_workflow_handle(case.workflow_id).query("attention") is None
        assert stack.store.dead_letters() == []  # the item was closed
        await stack.client.get_workflow_handle(case.workflow_id).terminate("test finished")
