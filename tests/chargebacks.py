"""Helpers of the chargeback scenario tests."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.chargeback_io import (
    ChargebackCase,
    ChargebackInput,
    ChargebackStatus,
    DisputeOutcome,
    OutcomeUpdate,
)
from tests.stack import Stack

FEE_ACCOUNTS = {"accounts": {"chargeback_fees": "6110", "bank": "1000"}}


def case_for(
    transaction_id: int, amount: str, *, fee: str = "15.00", respond_in: timedelta | None = None
) -> ChargebackCase:
    """A dispute on a payment, with a random case number and a deadline ``respond_in`` away."""
    now = datetime.now(UTC)
    deadline = now + (respond_in or timedelta(days=20))
    return ChargebackCase(
        case_id=f"CB{uuid.uuid4().hex[:10].upper()}",
        transaction_id=transaction_id,
        amount=Decimal(amount),
        fee=Decimal(fee),
        reason="10.4 Other Fraud - Card Absent Environment",
        opened_on=now.date(),
        respond_by=deadline.date(),
        deadline=deadline,
        source="test",
    )


async def open_case(stack: Stack, case: ChargebackCase) -> Any:
    """Start the case's workflow on the stack's queue; its handle."""
    return await stack.client.start_workflow(
        "Chargeback",
        ChargebackInput(case=case),
        id=case.workflow_id,
        task_queue=stack.settings.task_queue,
    )


async def status_of(stack: Stack, case: ChargebackCase) -> ChargebackStatus:
    handle = stack.client.get_workflow_handle(case.workflow_id)
    status: ChargebackStatus = await handle.query("status", result_type=ChargebackStatus)
    return status


async def wait_for(stack: Stack, case: ChargebackCase, stage: str, seconds: float = 60) -> None:
    """Wait until the case's TracepostStatus reads ``stage`` (e.g. ``decided_won``)."""
    await stack.wait_stage(case.workflow_id, stage, seconds)


async def decide(stack: Stack, case: ChargebackCase, outcome: str) -> str:
    """Send a decision and wait until the workflow applied it."""
    handle = stack.client.get_workflow_handle(case.workflow_id)
    answer = await handle.execute_update(
        "record_outcome",
        OutcomeUpdate(outcome=DisputeOutcome(outcome), note="test", operator="test"),
        result_type=str,
    )
    await wait_for(stack, case, f"decided_{outcome}")
    status = await status_of(stack, case)
    assert status.outcome is DisputeOutcome(outcome), status
    return str(answer)


async def close(stack: Stack, case: ChargebackCase) -> None:
    """End a case still waiting out its flip window, so the shared server keeps no leftovers."""
    await stack.client.get_workflow_handle(case.workflow_id).terminate("test finished")


def on_hold(stack: Stack, customer_id: str) -> bool:
    detail = stack.erp.get_customer(customer_id)
    assert detail is not None
    return detail.on_hold


def today() -> date:
    return datetime.now(UTC).date()


def open_cases_of(stack: Stack, customer_id: str) -> tuple[str, ...]:
    """The open cases of a customer in the store's case register."""
    from domain.chargeback_io import OpenCasesRequest

    found = stack.store.open_cases(OpenCasesRequest(customer_id=customer_id))
    return found.by_customer.get(customer_id, ())
