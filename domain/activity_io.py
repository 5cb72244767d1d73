"""Inputs and outputs of activities and workflows: plain data, safe inside the workflow sandbox."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.matching import MatchInput, MatchPolicy
from domain.models import OpenInvoice, PaymentSource, ReceiptRecord
from domain.money import exact_cents
from domain.order_io import OrderPolicy


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class MatchContext(_Frozen):
    """What the ERP holds for a payment, plus the deployment's matching policy.

    ``orders`` says which payments are eCommerce orders' (left to OrderSync); contexts recorded
    before it existed read as "no orders".
    """

    match_input: MatchInput
    policy: MatchPolicy
    orders: OrderPolicy = OrderPolicy()


class MatchRequest(_Frozen):
    """Which payment to load ERP context for."""

    amount: Decimal
    invoice_id: str = ""
    paytrace_customer_id: str = ""
    customer_id: str = ""
    email: str = ""


class InvoiceLookup(_Frozen):
    """Invoices looked up by number for an operator's ``apply_to``."""

    found: tuple[OpenInvoice, ...] = ()
    missing: tuple[str, ...] = ()


class AuditEvent(_Frozen):
    """One step of a workflow worth keeping; ``event_key`` makes recording it idempotent."""

    event_key: str
    workflow_id: str
    event: str
    detail: dict[str, Any] = {}
    paytrace_transaction_id: int | None = None
    at: datetime


class PostingRecordRequest(_Frozen):
    """The ERP posting to copy into the store."""

    record: ReceiptRecord
    workflow_id: str


class DeadLetterRequest(_Frozen):
    """A needs-attention item to open."""

    workflow_id: str
    run_id: str
    paytrace_transaction_id: int | None = None
    reason_kind: str
    reason: str
    detail: dict[str, Any] = {}
    at: datetime


class DeadLetterResolution(_Frozen):
    """How a needs-attention item was resolved."""

    dead_letter_id: int
    resolution: str
    at: datetime


class SweepWindow(_Frozen):
    """The time window one sweep run reads from PayTrace (UTC), and which types it wants."""

    since: datetime
    until: datetime
    # AUTHORIZATION too: its PaymentPosting waits for the capture, whatever id the capture gets;
    # REFUND and VOID start RefundToCreditMemo and VoidReversal (as the mapping says).
    transaction_types: tuple[str, ...] = (
        "SALE",
        "CAPTURE",
        "FORCESALE",
        "AUTHORIZATION",
        "REFUND",
        "VOID",
    )


class SweptTransaction(_Frozen):
    """One transaction a sweep found, and what the mapping says it becomes."""

    transaction_id: int
    transaction_type: str
    action: str = Field("receipt", description="receipt, credit_memo, reversal or ignore")
    method: PaymentSource = PaymentSource.CARD


class SweepLookback(_Frozen):
    """Read the last days of PayTrace again for what changes after the fact (voids, returns)."""

    until: datetime
    days: int = Field(3, ge=1, le=120)


class CursorUpdate(_Frozen):
    """A sweep cursor to move forward."""

    name: str
    cursor: datetime


class SweepCursor(_Frozen):
    """Where a sweep got to; ``cursor`` is None before its first successful run."""

    cursor: datetime | None = None


class StartPostingsRequest(_Frozen):
    """Transactions for which to start (or join) PaymentPosting workflows."""

    transaction_ids: tuple[int, ...]
    source: str


class StartPostingsResult(_Frozen):
    """How many workflows were started, and how many already existed."""

    started: int = 0
    already: int = 0


class PaymentPostingInput(_Frozen):
    """Start a PaymentPosting workflow for one PayTrace transaction (card) or check (ACH)."""

    transaction_id: int
    source: str = "unknown"
    method: PaymentSource = PaymentSource.CARD


class PostingOutcome(StrEnum):
    """How a PaymentPosting workflow ended."""

    POSTED = "posted"
    PENDING_MANUAL_POST = "pending_manual_post"
    DECLINED = "declined"
    NOT_A_PAYMENT = "not_a_payment"
    HANDLED = "handled"
    VOIDED = "voided"


class PaymentPostingResult(_Frozen):
    """What a PaymentPosting workflow did."""

    transaction_id: int
    outcome: PostingOutcome
    reason: str = ""
    rule: str = ""
    customer_id: str = ""
    erp_document: str = ""
    batch: str = ""


class ResolutionAction(StrEnum):
    """What an operator can tell a parked workflow to do."""

    RETRY = "retry"
    APPLY_TO = "apply_to"
    POST_ON_ACCOUNT = "post_on_account"
    MARK_HANDLED = "mark_handled"
    POST_TODAY = "post_today"
    LINK_TO = "link_to"
    """Link a PayTrace profile to the ERP customer ``customer_id`` (CustomerLink)."""


class InvoiceAmount(_Frozen):
    """An operator's choice: this much to this invoice."""

    invoice_number: str
    amount: Decimal


class Resolution(_Frozen):
    """An operator's resolution of a needs-attention item (the ``resolve`` update)."""

    action: ResolutionAction
    invoices: tuple[InvoiceAmount, ...] = ()
    customer_id: str = ""
    note: str = ""
    operator: str = ""


class AttentionInfo(_Frozen):
    """Why a workflow waits for an operator, as its ``status`` and ``attention`` queries show it."""

    reason_kind: str
    reason: str
    since: datetime
    candidates: tuple[OpenInvoice, ...] = ()
    allowed: tuple[ResolutionAction, ...] = ()
    subject: str = ""
    paytrace_transaction_id: int | None = None
    escalations: int = 0


class PostingStatus(_Frozen):
    """The ``status`` query of PaymentPosting."""

    transaction_id: int
    stage: str
    attention: AttentionInfo | None = None
    result: PaymentPostingResult | None = None


class ChargeRequest(_Frozen):
    """Charge a vault customer's stored card once (autopay, dunning).

    ``charge_key`` is unique per intended charge (the workflow derives it from its business
    key); it travels in the sale's ``description`` so a read-back finds the first attempt.
    """

    customer_id: str
    amount: Decimal
    invoice_id: str
    charge_key: str
    first_requested_at: datetime | None = Field(
        None,
        description="when the workflow first asked for this charge: PayTrace is read back by"
        " the key from the day before, before anything is sent (a retry after a park)",
    )

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Decimal:
        amount = exact_cents(value)
        if amount <= 0:
            raise ValueError("a charge must be positive")
        return amount


class ChargeResult(_Frozen):
    """What happened to a charge: approved, or declined with the issuer's reason."""

    transaction_id: int
    approved: bool
    response_code: int
    message: str = ""
    found_by_read_back: bool = False


class RefundRequest(_Frozen):
    """Refund a settled PayTrace transaction once, in part (``amount``) or what is left (None).

    ``already_refunded`` is what earlier refunds of the transaction took, so "what is left" is
    known before anything is sent; ``known_refund_ids`` are those refunds, which the read-back
    after a lost answer ignores. ``requested_at`` is when the workflow decided to refund.
    """

    transaction_id: int
    amount: Decimal | None = None
    already_refunded: Decimal = Decimal("0.00")
    requested_at: datetime
    known_refund_ids: tuple[int, ...] = ()
    read_back_first: bool = Field(
        False, description="read PayTrace back even on the first attempt (an earlier run asked)"
    )

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Decimal | None:
        return None if value is None else exact_cents(value)

    @field_validator("already_refunded", mode="before")
    @classmethod
    def _refunded(cls, value: Any) -> Decimal:
        return exact_cents(value)


class RefundResult(_Frozen):
    """The refund PayTrace made: its own transaction id and amount."""

    refund_transaction_id: int
    amount: Decimal
    found_by_read_back: bool = False


class VoidResult(_Frozen):
    """A voided transaction; ``already_void`` when a lost answer's void had happened."""

    transaction_id: int
    already_void: bool = False
