"""Needs-attention from the command line: list, show, retry and resolve parked workflows.

Every tracepost workflow that waits for a person answers the ``attention`` query and takes the
``resolve`` update, whatever its type (PaymentPosting, RefundToCreditMemo, VoidReversal,
CreditMemoRefund, SettlementSync).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote

from temporalio.client import Client

from domain.activity_io import AttentionInfo, InvoiceAmount, Resolution, ResolutionAction
from domain.money import to_money

NEEDS_ATTENTION_QUERY = 'TracepostStatus = "needs_attention" AND ExecutionStatus = "Running"'


@dataclass(frozen=True)
class ParkedWorkflow:
    """A running workflow that waits for an operator."""

    workflow_id: str
    workflow_type: str
    attention: AttentionInfo


async def list_attention(client: Client) -> list[ParkedWorkflow]:
    """Every running workflow waiting for an operator, with what it waits for, oldest first.

    Args:
        client: the Temporal client.

    Returns:
        The parked workflows (a workflow that stopped waiting in between is left out).
    """
    found = []
    async for execution in client.list_workflows(NEEDS_ATTENTION_QUERY):
        info = await attention_of(client, execution.id)
        if info is not None:
            found.append(ParkedWorkflow(execution.id, execution.workflow_type, info))
    found.sort(key=lambda item: item.attention.since)
    return found


async def attention_of(client: Client, workflow_id: str) -> AttentionInfo | None:
    """What a workflow waits for (its ``attention`` query), or None when it does not wait."""
    handle = client.get_workflow_handle(workflow_id)
    # A null answer decodes to None whatever the result type says.
    answer: AttentionInfo | None = await handle.query("attention", result_type=AttentionInfo)
    return answer


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
    handle = client.get_workflow_handle(workflow_id)
    result: str = await handle.execute_update("resolve", resolution, result_type=str)
    return result


def web_ui_link(ui_base: str, namespace: str, workflow_id: str) -> str:
    """The Temporal Web UI page of a workflow."""
    return f"{ui_base}/namespaces/{quote(namespace)}/workflows/{quote(workflow_id)}"


def describe(item: ParkedWorkflow, link: str = "") -> list[str]:
    """The lines ``tracepost attention show`` prints for a parked workflow."""
    a = item.attention
    lines = [
        f"{item.workflow_id}  ({item.workflow_type})",
        f"  waiting since {a.since:%Y-%m-%d %H:%M} UTC  [{a.reason_kind}]"
        + (f"  escalated {a.escalations}x" if a.escalations else ""),
    ]
    if a.subject:
        lines.append(f"  {a.subject}")
    lines.append(f"  {a.reason}")
    for invoice in a.candidates:
        lines.append(
            f"  candidate invoice {invoice.invoice_number}  customer {invoice.customer_id}"
            f"  balance {invoice.balance}"
            + (f"  due {invoice.due_date.isoformat()}" if invoice.due_date else "")
        )
    lines.append("  possible: " + ", ".join(action.value for action in a.allowed))
    if link:
        lines.append(f"  {link}")
    return lines


__all__ = [
    "NEEDS_ATTENTION_QUERY",
    "ParkedWorkflow",
    "ResolutionAction",
    "attention_of",
    "describe",
    "list_attention",
    "parse_invoice",
    "resolve",
    "web_ui_link",
]
