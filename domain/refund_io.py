"""Inputs and outputs of the refund workflows, in both directions.

PayTrace refund → ERP credit memo (RefundToCreditMemo), and ERP credit memo flagged for a card
refund → PayTrace refund (CreditMemoRefund).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.erp_documents import FlaggedMemo
from domain.models import ErpCustomer, OpenInvoice


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class RefundInput(_Frozen):
    """Post the credit memo of one PayTrace refund."""

    refund_transaction_id: int
    source: str = "unknown"


class RefundOutcome(StrEnum):
    """How a RefundToCreditMemo workflow ended."""

    POSTED = "posted"
    PENDING_MANUAL_POST = "pending_manual_post"
    NOT_A_REFUND = "not_a_refund"
    ERP_INITIATED = "erp_initiated"
    HANDLED = "handled"


class RefundPostingResult(_Frozen):
    """What a RefundToCreditMemo workflow did."""

    refund_transaction_id: int
    outcome: RefundOutcome
    reason: str = ""
    customer_id: str = ""
    erp_document: str = ""
    applied_to: str = ""
    memo_date: date | None = None


class RefundContextRequest(_Frozen):
    """What the ERP must tell about a refund: whose it is and which invoice it refunds."""

    invoice_id: str = ""
    customer_reference_id: str = ""
    paytrace_customer_id: str = ""
    email: str = ""
    customer_id: str = Field("", description="an operator's choice; wins over the rest")


class RefundContext(_Frozen):
    """The refund's customer and invoice as the ERP knows them."""

    customer: ErpCustomer | None = None
    invoice: OpenInvoice | None = None
    reason: str = Field("", description="why no customer was found, for needs-attention")
    closed_periods: str = Field("park", description="the mapping's closed-period policy")


class MemoRefundInput(_Frozen):
    """Refund in PayTrace what an ERP credit memo flagged for card refund asks for."""

    memo: FlaggedMemo
    flag: str = "REFUND PT"
    source: str = "erp_sweep"


class MemoRefundOutcome(StrEnum):
    """How a CreditMemoRefund workflow ended."""

    REFUNDED = "refunded"
    VOIDED = "voided"
    ALREADY_DONE = "already_done"
    CANCELLED = "cancelled"
    HANDLED = "handled"


class MemoRefundResult(_Frozen):
    """What a CreditMemoRefund workflow did."""

    memo: str
    outcome: MemoRefundOutcome
    original_transaction_id: int | None = None
    refund_transaction_id: int | None = None
    amount: Decimal = Decimal("0.00")
    reason: str = ""


class FlaggedMemoQuery(_Frozen):
    """Which flagged memos an ERP sweep looks for."""

    flag: str
    since: date
