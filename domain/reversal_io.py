"""Inputs and outputs of VoidReversal, and the read-back queries document workflows use.

VoidReversal reverses the receipt of a voided card sale or of a returned ACH debit.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.erp_documents import DocumentKind
from domain.models import PaymentSource


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ReversalInput(_Frozen):
    """Reverse the receipt of a payment PayTrace voided (card) or the bank returned (ACH)."""

    transaction_id: int
    method: PaymentSource = PaymentSource.CARD
    source: str = "unknown"


class ReversalOutcome(StrEnum):
    """How a VoidReversal workflow ended."""

    REVERSED = "reversed"
    PENDING_MANUAL_POST = "pending_manual_post"
    NOTHING_POSTED = "nothing_posted"
    NOT_REVERSED = "not_reversed"
    HANDLED = "handled"


class ReversalResult(_Frozen):
    """What a VoidReversal workflow did."""

    transaction_id: int
    method: PaymentSource = PaymentSource.CARD
    outcome: ReversalOutcome
    reason: str = ""
    customer_id: str = ""
    erp_document: str = ""
    reopened: tuple[str, ...] = ()
    reversal_date: date | None = None


class ReceiptQuery(_Frozen):
    """Read back, or post, the receipt of a payment by id and method."""

    transaction_id: int
    method: PaymentSource = PaymentSource.CARD


class DocumentQuery(_Frozen):
    """Read back, or post, a document by kind and business key."""

    kind: DocumentKind
    key: str
