"""What workflows record in tracepost's store beyond the audit trail.

Decisions, alerts, needs-attention items, card refunds asked for by the ERP, and settlement
reconciliations.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.erp_documents import ErpDocument
from domain.models import Application, PaymentSource

ZERO = Decimal("0.00")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class DecisionRecord(_Frozen):
    """One matching decision with its rule and reason, for reports (auto-apply rate)."""

    decision_key: str = Field(description="workflow id / run id / sequence: idempotent")
    workflow_id: str
    paytrace_transaction_id: int | None = None
    source: PaymentSource = PaymentSource.CARD
    outcome: str
    rule: str
    reason: str
    customer_id: str = ""
    amount: Decimal = ZERO
    applied: Decimal = ZERO
    written_off: Decimal = ZERO
    on_account: Decimal = ZERO
    applications: tuple[Application, ...] = ()
    at: datetime


class AlertKind(StrEnum):
    """Why an alert is raised."""

    NEEDS_ATTENTION = "needs_attention"
    ESCALATION = "escalation"
    SETTLEMENT_DISCREPANCY = "settlement_discrepancy"
    CARD_EXPIRING = "card_expiring"
    NOTICE = "notice"
    CUSTOMER_NOTICE = "customer_notice"
    """For the customer (``detail["to"]`` is the address), e.g. a declined autopay charge."""
    REPEATED_FAILURE = "repeated_failure"
    """An activity failed ``TRACEPOST_ALERT_FAILURE_ATTEMPTS`` attempts in a row (still retrying)."""


class AlertRequest(_Frozen):
    """An alert to raise once (``alert_key``); the store keeps it until a channel delivers it."""

    alert_key: str
    kind: AlertKind
    severity: str = Field("warning", description="info, warning or critical")
    subject: str
    message: str
    workflow_id: str = ""
    detail: dict[str, Any] = {}
    at: datetime


class Alert(AlertRequest):
    """A stored alert."""

    id: int
    delivered_at: datetime | None = None


class AttentionOpen(_Frozen):
    """Open a needs-attention item: the dead letter and its first alert, in one step."""

    workflow_id: str
    run_id: str
    workflow_type: str
    paytrace_transaction_id: int | None = None
    subject: str = Field("", description="what waits, e.g. 'payment 1000123 of 125.00'")
    reason_kind: str
    reason: str
    detail: dict[str, Any] = {}
    at: datetime


class AttentionOpened(_Frozen):
    """The opened item and when to escalate it (from the deployment's settings)."""

    dead_letter_id: int
    sla_seconds: int = Field(description="escalate when still open this long")
    reminder_seconds: int = Field(description="then remind this often")


class AttentionEscalation(_Frozen):
    """An item still open past its SLA: raise the escalation alert of this level once."""

    dead_letter_id: int
    workflow_id: str
    subject: str = ""
    reason_kind: str
    reason: str
    since: datetime
    level: int = Field(ge=1)
    at: datetime


class DocumentRecordRequest(_Frozen):
    """An ERP document (credit memo, reversal, deposit …) to copy into the store's postings."""

    document: ErpDocument
    workflow_id: str
    kind: str = Field(description="receipt, ach_receipt, credit_memo, reversal, deposit, journal")
    transaction_id: int = Field(description="the PayTrace transaction (or batch number) it is for")


class CardRefundStatus(StrEnum):
    """Where an ERP-requested card refund stands."""

    REQUESTED = "requested"
    REFUNDED = "refunded"
    VOIDED = "voided"
    CANCELLED = "cancelled"


class CardRefundIntent(_Frozen):
    """A card refund an ERP credit memo asked for, recorded before anything is sent.

    The intent is what lets the PayTrace-side sweep recognise the refund tracepost issued, so the
    memo is never written a second time, and what stops a second refund of one memo.
    """

    memo_key: str = Field(description="the ERP memo's number: one refund per memo")
    workflow_id: str
    original_transaction_id: int
    invoice_id: str = ""
    masked_card: str = ""
    customer_id: str = ""
    amount: Decimal
    status: CardRefundStatus = CardRefundStatus.REQUESTED
    refund_transaction_id: int | None = None
    requested_at: datetime


class RefundLookup(_Frozen):
    """Find the ERP-requested intents a PayTrace refund could belong to."""

    refund_transaction_id: int
    invoice_id: str = ""
    masked_card: str = ""
    amount: Decimal


class SettlementLineStatus(StrEnum):
    """How one transaction of a settled batch reconciles with the ERP."""

    MATCHED = "matched"
    MISSING_IN_ERP = "missing_in_erp"
    AMOUNT_DIFFERS = "amount_differs"
    IN_ERP_NOT_IN_PAYTRACE = "in_erp_not_in_paytrace"
    NOT_POSTED_BY_DESIGN = "not_posted_by_design"


class SettlementLine(_Frozen):
    """One line of a reconciliation report."""

    transaction_id: int
    transaction_type: str
    paytrace_amount: Decimal = ZERO
    erp_document: str = ""
    erp_amount: Decimal | None = None
    erp_status: str = ""
    status: SettlementLineStatus
    note: str = ""


class SettlementReport(_Frozen):
    """The reconciliation of one settled PayTrace batch with what the ERP holds."""

    batch_number: int
    settled_at: datetime | None = None
    deposit_date: date | None = None
    transaction_count: int = 0
    sales_count: int = 0
    sales_amount: Decimal = ZERO
    refund_count: int = 0
    refund_amount: Decimal = ZERO
    net_amount: Decimal = ZERO
    fees: Decimal = ZERO
    deposit_amount: Decimal = ZERO
    deposit_document: str = ""
    fee_document: str = ""
    status: str = Field("open", description="reconciled, discrepancies, deposited")
    notes: tuple[str, ...] = Field((), description="batch-level problems, e.g. summary ≠ lines")
    lines: tuple[SettlementLine, ...] = ()

    @property
    def discrepancies(self) -> tuple[SettlementLine, ...]:
        """Lines that do not reconcile."""
        fine = (SettlementLineStatus.MATCHED, SettlementLineStatus.NOT_POSTED_BY_DESIGN)
        return tuple(line for line in self.lines if line.status not in fine)
