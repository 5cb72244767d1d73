"""Helpers of the autopay tests: an autopay customer with a vault profile and a due invoice."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pydantic import SecretStr

from connectors.paytrace.models import BillingAddress, CreditCard, CustomerRequest
from domain.autopay_io import (
    AutopayInput,
    AutopayPolicy,
    AutopayResult,
    AutopaySweepInput,
    DueInvoice,
)
from tests.scenarios import company, today_for
from tests.stack import TEST_CARD, Stack

AUTOPAY = {"autopay": {"enabled": True, "notify_customer": True}}


def _card(month: int, year: int) -> CreditCard:
    return CreditCard(
        number=SecretStr(TEST_CARD), expiration_month=f"{month:02d}", expiration_year=str(year)
    )


async def autopay_customer(
    stack: Stack, balance: str, *, due_in_days: int = 0, linked: bool = True
) -> DueInvoice:
    """A new ERP customer on autopay with a vault profile and one invoice due today."""
    suffix = uuid.uuid4().hex[:6].upper()
    customer_id = f"AP{suffix}"
    profile = f"ap-{suffix.lower()}"
    number = f"AP{suffix}1"
    today = today_for(stack)  # the merchant's day: what "due today" means to the sweep
    assert stack.standin is not None
    stack.standin.add_customer(
        stack.erp_engine,
        company_id=company(stack),
        customer_id=customer_id,
        name=f"Autopay {suffix}",
        email=f"{profile}@example.com",
    )
    stack.standin.add_invoice(
        stack.erp_engine,
        company_id=company(stack),
        customer_id=customer_id,
        number=number,
        amount=Decimal(balance),
        invoice_date=today - timedelta(days=30),
        due_date=today + timedelta(days=due_in_days),
    )
    stack.erp.set_autopay(customer_id, True)
    if linked:
        await stack.paytrace.create_customer(
            CustomerRequest(
                customer_id=profile,
                credit_card=_card(12, today.year + 3),
                billing_address=BillingAddress(name=f"Autopay {suffix}", zip="98101"),
                email=f"{profile}@example.com",
            )
        )
        stack.erp.link_paytrace_customer(customer_id, profile)
    return DueInvoice(
        customer_id=customer_id,
        paytrace_customer_id=profile if linked else "",
        invoice_number=number,
        balance=Decimal(balance),
        due_date=today,
        email=f"{profile}@example.com",
    )


async def expire_card(stack: Stack, profile: str, today: date) -> None:
    """Make the profile's stored card one that expired last month."""
    last_month = today.replace(day=1) - timedelta(days=1)
    await stack.paytrace.update_customer(
        CustomerRequest(customer_id=profile, credit_card=_card(last_month.month, last_month.year))
    )


async def run_sweep(stack: Stack, day: date | None = None) -> Any:
    return await stack.client.execute_workflow(
        "AutopaySweep",
        AutopaySweepInput(day=day),
        id=f"autopay-sweep-{uuid.uuid4().hex[:8]}",
        task_queue=stack.settings.task_queue,
        result_type=None,
    )


async def start_charge(stack: Stack, invoice: DueInvoice, **policy: Any) -> Any:
    return await stack.client.start_workflow(
        "AutopayCharge",
        AutopayInput(
            invoice=invoice, policy=AutopayPolicy(enabled=True, notify_customer=True, **policy)
        ),
        id=invoice.workflow_id,
        task_queue=stack.settings.task_queue,
        result_type=AutopayResult,
    )
