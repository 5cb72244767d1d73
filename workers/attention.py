"""Needs-attention from the command line: list parked payments and resolve them."""

from __future__ import annotations

from decimal import Decimal

from temporalio.client import Client

from domain.activity_io import InvoiceAmount, PostingStatus, Resolution, ResolutionAction
from domain.money import to_money
from workflows.payment_posting import PaymentPosting

NEEDS_ATTENTION_QUERY = 'TracepostStatus = "needs_attention" AND ExecutionStatus = "Running"'


async def list_attention(client: Client) -> list[tuple[str, PostingStatus]]:
    """Every running workflow waiting for an operator, with its status query answer.

    Args:
        client: the Temporal client.

    Returns:
        (workflow id, status) pairs, oldest first.
    """
    found = []
    async for execution in client.list_workflows(NEEDS_ATTENTION_QUERY):
        handle = client.get_workflow_handle_for(PaymentPosting.run, execution.id)
        found.append((execution.id, await handle.query(PaymentPosting.status)))
    found.sort(key=lambda item: item[1].attention.since.isoformat() if item[1].attention else "")
    return found


def parse_invoice(value: str) -> InvoiceAmount:
    """Parse ``NUMBER=AMOUNT`` (as typed on the command line) into an application.

    Args:
        value: e.g. ``1002=80.50``.

    Returns:
        The invoice number and amount.

    Raises:
        ValueError: when the text is not ``NUMBER=AMOUNT`` with a positive amount.
    """
    number, sep, amount = value.partition("=")
    if not sep or not number.strip():
        raise ValueError(f"expected NUMBER=AMOUNT, got {value!r}")
    parsed: Decimal = to_money(amount)
    if parsed <= 0:
        raise ValueError(f"amount must be positive in {value!r}")
    return InvoiceAmount(invoice_number=number.strip(), amount=parsed)


async def resolve(client: Client, workflow_id: str, resolution: Resolution) -> str:
    """Send the ``resolve`` update to a parked workflow.

    Args:
        client: the Temporal client.
        workflow_id: e.g. ``payment-1000001``.
        resolution: the operator's decision.

    Returns:
        The workflow's acknowledgment.
    """
    handle = client.get_workflow_handle_for(PaymentPosting.run, workflow_id)
    result: str = await handle.execute_update(PaymentPosting.resolve, resolution)
    return result


__all__ = ["ResolutionAction", "list_attention", "parse_invoice", "resolve"]
