"""Domain models shared by every layer: PayTrace transactions, ERP documents, postings.

These models hold no card data beyond what PayTrace itself returns masked (the masked number), so
they may travel through workflow history, logs and the store.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class TransactionType(StrEnum):
    """PayTrace ``transaction_type`` values as they appear in transaction exports."""

    SALE = "SALE"
    AUTHORIZATION = "AUTHORIZATION"
    REFUND = "REFUND"
    VOID = "VOID"
    CAPTURE = "CAPTURE"
    FORCESALE = "FORCESALE"
    SETTLED = "SETTLED"
    PENDING = "PENDING"
    DECLINED = "DECLINED"
    UNKNOWN = "UNKNOWN"


class PaymentSource(StrEnum):
    """How the money came: a card transaction or an ACH (PayTrace check) transaction.

    PayTrace numbers checks (``check_transaction_id``) apart from card transactions, so an ERP
    document is keyed by source and id together (:func:`receipt_key`).
    """

    CARD = "card"
    ACH = "ach"


def receipt_key(transaction_id: int, source: PaymentSource = PaymentSource.CARD) -> str:
    """The business key of a payment's ERP documents: ``1000123`` (card) or ``ach-5000001``.

    Args:
        transaction_id: PayTrace's transaction id, or check transaction id for ACH.
        source: card or ACH.

    Returns:
        The key the ERP cross-reference stores.
    """
    if source is PaymentSource.ACH:
        return f"ach-{transaction_id}"
    return str(transaction_id)


def paytrace_tag(transaction_id: int, source: PaymentSource = PaymentSource.CARD) -> str:
    """The tag a finance user searches ERP documents by: ``PT 1000123`` or ``PT ACH 5000001``.

    Args:
        transaction_id: PayTrace's transaction id, or check transaction id for ACH.
        source: card or ACH.

    Returns:
        The tag.
    """
    if source is PaymentSource.ACH:
        return f"PT ACH {transaction_id}"
    return f"PT {transaction_id}"


PAYMENT_TYPES = frozenset(
    {TransactionType.SALE, TransactionType.CAPTURE, TransactionType.FORCESALE}
)
NON_PAYMENT_TYPES = frozenset({TransactionType.REFUND, TransactionType.VOID})
CAPTURED = 112  # PayTrace's response code of a captured authorization
REFUNDED = 106  # PayTrace's response code of a successful refund


class PaytraceTransaction(_Frozen):
    """One PayTrace transaction as tracepost sees it after re-reading it from the API."""

    transaction_id: int
    transaction_type: TransactionType
    amount: Decimal
    approved: bool = Field(description="PayTrace approved it: response code 101 or 112 (captured)")
    declined: bool = Field(False, description="PayTrace declined it, or auto-voided it (103)")
    status_code: int | None = None
    status_message: str = ""
    approval_code: str = ""
    approval_message: str = ""
    invoice_id: str = ""
    customer_id: str = Field("", description="PayTrace vault customer id, if any")
    customer_reference_id: str = ""
    description: str = ""
    email: str = ""
    masked_card_number: str = ""
    created_at: datetime | None = None
    settled_at: datetime | None = None
    batch_number: int | None = None
    method: PaymentSource = Field(
        PaymentSource.CARD, description="card transaction, or ACH check transaction"
    )
    returned: bool = Field(False, description="ACH: the bank returned the debit after the fact")
    return_reason: str = Field("", description="ACH: the bank's return code and message")

    @model_validator(mode="before")
    @classmethod
    def _legacy_declined(cls, data: Any) -> Any:
        """Read payloads recorded before ``declined`` existed, as running workflows replay them.

        Those carried ``approved`` only, and a sale that was not approved was a decline.
        """
        if (
            isinstance(data, dict)
            and "declined" not in data
            and data.get("status_code") is None
            and data.get("approved") is False
        ):
            return {**data, "declined": True}
        return data

    @property
    def money_received(self) -> bool:
        """PayTrace approved a payment, or reports an authorization captured."""
        if not self.approved:
            return False
        if self.transaction_type in PAYMENT_TYPES:
            return True
        return (
            self.transaction_type is TransactionType.AUTHORIZATION and self.status_code == CAPTURED
        )


class ErpCustomer(_Frozen):
    """A customer in the ERP."""

    customer_id: str
    name: str
    active: bool = True
    on_hold: bool = False
    paytrace_customer_id: str = ""
    email: str = ""


class OpenInvoice(_Frozen):
    """An AR invoice that may still be paid, with its current open balance."""

    invoice_number: str = Field(description="the number a person sees and PayTrace carries")
    customer_id: str
    amount: Decimal
    balance: Decimal
    invoice_date: date | None = None
    due_date: date | None = None


class Application(_Frozen):
    """Part of a payment applied to one invoice, possibly with a short-pay write-off."""

    invoice_number: str
    amount: Decimal
    write_off: Decimal = Decimal("0.00")


class CashReceipt(_Frozen):
    """A cash receipt to write into the ERP for one PayTrace payment."""

    paytrace_transaction_id: int = Field(
        description="PayTrace's transaction id (card) or check transaction id (ACH)"
    )
    customer_id: str
    amount: Decimal
    receipt_date: date
    reference: str = Field(description="reference the ERP user sees, e.g. 'PT 1000123'")
    payment_method: str = ""
    applications: tuple[Application, ...] = ()
    on_account: Decimal = Decimal("0.00")
    source: PaymentSource = PaymentSource.CARD
    cash_account: str = Field(
        "",
        description="the cash (Sage GL) or bank (SL) account of this receipt; blank: the"
        " connector's configured cash account",
    )
    sales_order: str = Field(
        "",
        description="the store's order id (as written by write_sales_order): the payment is a"
        " prepayment of that order, wholly unapplied",
    )

    @property
    def key(self) -> str:
        """The business key of the receipt (:func:`receipt_key`)."""
        return receipt_key(self.paytrace_transaction_id, self.source)


class ReceiptStatus(StrEnum):
    """Where a receipt stands in the ERP."""

    PENDING = "pending"
    POSTED = "posted"


class ReceiptRecord(_Frozen):
    """What the ERP holds for a PayTrace payment: the document, its batch and its status."""

    paytrace_transaction_id: int
    erp: str
    customer_id: str
    erp_document: str
    batch: str
    amount: Decimal
    status: ReceiptStatus
    created: bool = Field(False, description="True when this call wrote it, False when read back")
    source: PaymentSource = PaymentSource.CARD
