"""Business-key workflow ids: every path that learns of an event starts the same id.

A payment announced by a Silent Post, found by the sweep and named in a settlement batch starts
``payment-<transaction id>`` each time, so Temporal runs it once.
"""

from __future__ import annotations

import re

from domain.models import PaymentSource

# The ids below that name a PayTrace transaction or check.
_TRANSACTION_WORKFLOW = re.compile(r"^(?:payment-ach|payment|refund|void|ach-return)-(\d{1,19})$")


def payment_workflow_id(transaction_id: int, method: PaymentSource = PaymentSource.CARD) -> str:
    """``payment-1000123`` for a card payment, ``payment-ach-5000001`` for an ACH payment."""
    if method is PaymentSource.ACH:
        return f"payment-ach-{transaction_id}"
    return f"payment-{transaction_id}"


def refund_workflow_id(refund_transaction_id: int) -> str:
    """``refund-1000130``: the credit memo of a PayTrace refund."""
    return f"refund-{refund_transaction_id}"


def reversal_workflow_id(transaction_id: int, method: PaymentSource = PaymentSource.CARD) -> str:
    """``void-1000123`` (a voided card sale) or ``ach-return-5000001`` (a returned check)."""
    if method is PaymentSource.ACH:
        return f"ach-return-{transaction_id}"
    return f"void-{transaction_id}"


def memo_refund_workflow_id(erp_document: str) -> str:
    """``memo-refund-<memo number>``: the card refund an ERP credit memo asks for."""
    return f"memo-refund-{erp_document.strip()}"


def settlement_workflow_id(batch_number: int) -> str:
    """``settlement-77``: the reconciliation and deposit of a settled PayTrace batch."""
    return f"settlement-{batch_number}"


def chargeback_workflow_id(case_id: str) -> str:
    """``chargeback-<case id>``: one dispute, from opening to its last decision."""
    return f"chargeback-{case_id.strip()}"


CUSTOMER_SYNC_WORKFLOW_ID = "customer-sync"
"""The scheduled CustomerProfileSync: ERP customer changes and the PayTrace vault, both ways."""


def customer_link_workflow_id(paytrace_customer_id: str) -> str:
    """``customer-link-<PayTrace customer id>``: linking one vault profile to an ERP customer."""
    return f"customer-link-{paytrace_customer_id.strip()}"


def order_workflow_id(order_id: str) -> str:
    """``order-<order id>``: an eCommerce order's customer, sales order and prepayment."""
    return f"order-{order_id.strip()}"


def transaction_of(workflow_id: str) -> int | None:
    """The PayTrace transaction a business-key workflow id names, if it names one.

    Args:
        workflow_id: e.g. ``payment-1000123``, ``payment-ach-5000001``, ``void-1000123``.

    Returns:
        The transaction id, or None (``settlement-77``, ``customer-sync``, …).
    """
    found = _TRANSACTION_WORKFLOW.match(workflow_id)
    return int(found.group(1)) if found else None
