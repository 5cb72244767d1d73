"""Domain models of the ERP documents tracepost writes beyond cash receipts, and their read-back.

Every document is written for a *business key* (a PayTrace transaction id, a settlement batch
number, a chargeback case, an eCommerce order id) and read back by it before any write, so a
retried activity never writes twice. ``ErpDocument`` is what every write and read-back returns.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.models import PaymentSource


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class DocumentKind(StrEnum):
    """What tracepost wrote; with the business key it identifies one document."""

    RECEIPT = "receipt"
    CREDIT_MEMO = "credit_memo"
    REVERSAL = "reversal"
    REAPPLICATION = "reapplication"
    JOURNAL = "journal"
    DEPOSIT = "deposit"
    SALES_ORDER = "sales_order"
    WRITE_OFF = "write_off"


class DocumentStatus(StrEnum):
    """Where a written document stands in the ERP."""

    PENDING = "pending"
    POSTED = "posted"


class ErpDocument(_Frozen):
    """A document tracepost wrote into the ERP, as read back by its business key."""

    kind: DocumentKind
    key: str = Field(
        description="business key it was written for: a PayTrace transaction id ('1000123'),"
        " a settlement batch number ('77'), a case or order id"
    )
    erp: str
    erp_document: str = Field(description="the ERP's number, e.g. Sage TranID or SL RefNbr")
    batch: str = Field(description="the ERP batch holding it (Sage BatchID, SL BatNbr)")
    amount: Decimal
    status: DocumentStatus
    customer_id: str = ""
    paytrace_transaction_id: int | None = None
    document_date: date | None = None
    applied_to: tuple[str, ...] = Field(
        (), description="invoice numbers it applied to, or reopened (reversal)"
    )
    created: bool = Field(False, description="True when this call wrote it, False when read back")


class PostalAddress(_Frozen):
    """A customer's billing address as the ERP keeps it."""

    line1: str = ""
    line2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""


class CustomerProfile(_Frozen):
    """A customer to create or update; the ERP owns every field here (not the payment method)."""

    customer_id: str = Field(description="the ERP customer id (Sage CustID, SL CustId)")
    name: str
    email: str = ""
    phone: str = ""
    address: PostalAddress = PostalAddress()
    terms: str = Field("", description="ERP payment terms id; blank keeps the ERP's default")
    paytrace_customer_id: str = ""


class CustomerDetail(_Frozen):
    """A customer with the ERP-owned fields customer profile sync compares."""

    customer_id: str
    name: str
    active: bool = True
    on_hold: bool = False
    email: str = ""
    phone: str = ""
    address: PostalAddress = PostalAddress()
    terms: str = ""
    paytrace_customer_id: str = ""
    updated_at: datetime | None = None
    autopay: bool = Field(
        False, description="enrolled in autopay (the ERP's autopay user field says Y/YES/1/...)"
    )
    card_on_file: str = Field(
        "", description="the masked card and expiry PayTrace holds, e.g. 'x1111 12/2028'"
    )


class CustomerChanges(_Frozen):
    """One page of customers changed since a cursor; pass ``cursor`` back for the next page."""

    customers: tuple[CustomerDetail, ...]
    cursor: str = Field(description="opaque; the empty string starts from the beginning")
    more: bool = False


class CreditMemo(_Frozen):
    """A credit memo for a PayTrace refund, applied to the original invoice when it is open."""

    paytrace_transaction_id: int = Field(description="the refund's PayTrace transaction id")
    customer_id: str
    amount: Decimal
    memo_date: date
    reference: str
    apply_to_invoice: str = Field("", description="the refunded invoice's visible number")
    original_transaction_id: int | None = None


class ReversalReason(StrEnum):
    """Why a receipt is reversed."""

    VOID = "void"
    CHARGEBACK = "chargeback"
    ACH_RETURN = "ach_return"


class ReceiptReversal(_Frozen):
    """Reverse a posted receipt and reopen what it paid (void, chargeback, ACH return)."""

    key: str = Field(description="business key, e.g. the void's transaction id or a case id")
    paytrace_transaction_id: int = Field(description="the original payment's transaction id")
    reason: ReversalReason
    reversal_date: date
    reference: str = ""
    source: PaymentSource = Field(
        PaymentSource.CARD, description="card receipt, or ACH receipt (an ACH return)"
    )


class Reapplication(_Frozen):
    """Apply a reversed payment again (dispute won), to what it first paid where still open."""

    key: str = Field(description="business key, e.g. 'cb:<case id>:won'")
    paytrace_transaction_id: int = Field(description="the original payment's transaction id")
    reapply_date: date
    reference: str = ""


class JournalLine(_Frozen):
    """One side of a journal entry: exactly one of debit and credit is above zero."""

    account: str = Field(description="GL account number as the ERP shows it")
    debit: Decimal = Decimal("0.00")
    credit: Decimal = Decimal("0.00")
    memo: str = ""
    subaccount: str = Field("", description="Dynamics SL subaccount; blank for Sage 500")


class JournalEntry(_Frozen):
    """A balanced GL journal entry (processing fees, chargeback fees, deposit clearing)."""

    key: str = Field(description="business key, e.g. 'fees:batch:77'")
    entry_date: date
    description: str
    lines: tuple[JournalLine, ...]
    paytrace_transaction_id: int | None = None


class Deposit(_Frozen):
    """One bank deposit per settled PayTrace batch, linking the receipts it holds."""

    batch_number: int = Field(description="PayTrace settlement batch number")
    deposit_date: date
    amount: Decimal = Field(description="net amount the bank receives")
    receipt_transaction_ids: tuple[int, ...] = ()
    reference: str = ""


class SalesOrderLine(_Frozen):
    """One line of a sales order."""

    item_id: str
    description: str = ""
    quantity: Decimal
    unit_price: Decimal


class SalesOrder(_Frozen):
    """A sales order from an eCommerce ``order.paid`` event."""

    order_id: str = Field(description="the store's order id; the business key")
    customer_id: str
    order_date: date
    lines: tuple[SalesOrderLine, ...]
    customer_po: str = ""
    paytrace_transaction_id: int | None = None


class FiscalPeriod(_Frozen):
    """The fiscal period a date falls in."""

    fiscal_year: str
    period: int
    start: date
    end: date
    open: bool

    @property
    def label(self) -> str:
        """``2025-06``-like label (fiscal year and period number)."""
        return f"{self.fiscal_year.strip()}-{self.period:02d}"


class AccountState(StrEnum):
    """Whether a GL account a mapping names can take postings."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    MISSING = "missing"


class FlaggedMemo(_Frozen):
    """A posted credit memo an ERP user entered and flagged for a card refund in PayTrace.

    The flag is the memo's comment (Sage 500 ``TranCmnt``, Dynamics SL ``DocDesc``) starting
    with the configured marker, e.g. ``REFUND PT 1000123``.
    """

    erp_document: str = Field(description="the memo's number (Sage TranID, SL RefNbr)")
    customer_id: str
    amount: Decimal = Field(description="the memo's amount, positive")
    memo_date: date
    comment: str = Field(description="the memo's comment as the ERP holds it, trimmed")
    applied_to: tuple[str, ...] = Field((), description="invoice numbers it was applied to")


class InvoiceWriteOff(_Frozen):
    """Write off (part of) an open invoice's balance to the write-off account (chargeback lost).

    Exactly once per ``key``; the amount must be positive and at most the invoice's payable
    balance.
    """

    key: str = Field(description="business key, e.g. 'cb-77-w1-1001'")
    invoice_number: str = Field(description="the invoice's visible number")
    customer_id: str
    amount: Decimal
    write_off_date: date
    reference: str = ""
    paytrace_transaction_id: int | None = None
