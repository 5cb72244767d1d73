"""Request and response models of the PayTrace v1 JSON API, with PayTrace's exact field names."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, SecretStr, field_validator

from domain.input_bounds import MAX_ID
from domain.models import PaymentSource, PaytraceTransaction, TransactionType
from domain.money import format_amount, to_money

# A card payment counts as approved only with these codes: 101 approved, 112 captured. 104 (a TEST
# approval, no live authorization) and every other code are not money received.
APPROVED_PAYMENT_CODES = frozenset({101, 112})
DECLINE_CODES = frozenset({102, 103, 107, 110, 113, 125})
CHECK_PROCESSED_CODES = frozenset({120, 124})
CHECK_NOT_PROCESSED = 125
AmountText = Annotated[Decimal, PlainSerializer(format_amount, return_type=str)]
"""An amount sent to PayTrace as a two-place decimal string (``"125.00"``)."""
DecimalText = Annotated[Decimal, PlainSerializer(str, return_type=str)]
"""A quantity or unit cost sent as exact decimal text."""
Secret = Annotated[SecretStr, PlainSerializer(SecretStr.get_secret_value, return_type=str)]
"""A card number, CSC or account number: masked in ``repr``, revealed only in the request body."""
_TIMESTAMP_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y")


def parse_timestamp(value: str) -> datetime | None:
    """Parse a PayTrace timestamp such as ``4/10/2015 4:06:30 PM`` (merchant local, no zone).

    Args:
        value: the timestamp text; empty means none.

    Returns:
        A naive datetime in the merchant's local time, or None when empty or unreadable.
    """
    text = re.sub(r"\s+", " ", value or "").strip()
    if not text:
        return None
    for fmt in _TIMESTAMP_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


class CreditCard(BaseModel):
    """Card fields of a keyed request; never logged, never stored."""

    number: Secret
    expiration_month: str
    expiration_year: str


class BillingAddress(BaseModel):
    """A billing address."""

    name: str = ""
    street_address: str = ""
    street_address2: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    country: str = ""


class KeyedSaleRequest(BaseModel):
    """``POST /v1/transactions/sale/keyed``."""

    amount: AmountText
    credit_card: CreditCard
    csc: Secret | None = None
    billing_address: BillingAddress | None = None
    invoice_id: str = Field("", max_length=50)
    customer_reference_id: str = Field("", max_length=50)
    email: str = ""
    description: str = ""


class SaleResponse(BaseModel):
    """The answer to an approved sale or authorization."""

    model_config = ConfigDict(extra="ignore")

    success: bool
    response_code: int
    status_message: str = ""
    transaction_id: int
    approval_code: str = ""
    approval_message: str = ""
    avs_response: str = ""
    csc_response: str = ""
    external_transaction_id: str = ""
    masked_card_number: str = ""


class ExportedCard(BaseModel):
    """The masked card of an exported transaction."""

    model_config = ConfigDict(extra="ignore")

    masked_number: str = ""
    expiration_month: str = ""
    expiration_year: str = ""


class CreatedInfo(BaseModel):
    """Who created an exported transaction, how and when."""

    model_config = ConfigDict(extra="ignore")

    through: str = ""
    at: str = ""
    by: str = ""
    from_ip: str = ""


class ExportedTransaction(BaseModel):
    """One record of ``transactions[]`` in a transaction export."""

    model_config = ConfigDict(extra="ignore")

    transaction_id: int
    transaction_type: str
    amount: Decimal
    tax_amount: str = ""
    status_code: int | None = None
    status_message: str = ""
    approval_code: str = ""
    approval_message: str = ""
    avs_response: str = ""
    csc_response: str = ""
    invoice_id: str = ""
    customer_reference_id: str = ""
    customer_id: str = ""
    description: str = ""
    email: str = ""
    credit_card: ExportedCard | None = None
    created: CreatedInfo | None = None
    settled: str = ""
    batch_number: int | None = None

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Decimal:
        if isinstance(value, float):  # a caller that parsed JSON without parse_float=Decimal
            value = repr(value)
        return to_money(value)

    @field_validator("status_code", "batch_number", mode="before")
    @classmethod
    def _int_or_none(cls, value: Any) -> int | None:
        if value in (None, ""):
            return None
        return int(value)

    @field_validator(
        "invoice_id", "customer_id", "customer_reference_id", "description", "email", mode="before"
    )
    @classmethod
    def _text(cls, value: Any) -> str:
        return "" if value is None else str(value)

    def to_domain(
        self,
        approved_codes: frozenset[int] = APPROVED_PAYMENT_CODES,
        declined_codes: frozenset[int] = DECLINE_CODES,
    ) -> PaytraceTransaction:
        """Convert to the domain model; only the masked card number is kept.

        Args:
            approved_codes: response codes that mean money received (the mapping's
                ``statuses.approved``).
            declined_codes: response codes that mean declined or failed.

        Returns:
            The transaction as tracepost's workflows see it.
        """
        try:
            ttype = TransactionType(self.transaction_type.upper())
        except ValueError:
            ttype = TransactionType.UNKNOWN
        declined = ttype is TransactionType.DECLINED or self.status_code in declined_codes
        approved = not declined and self.status_code in approved_codes
        return PaytraceTransaction(
            transaction_id=self.transaction_id,
            transaction_type=ttype,
            amount=self.amount,
            approved=approved,
            declined=declined,
            status_code=self.status_code,
            status_message=self.status_message,
            approval_code=self.approval_code,
            approval_message=self.approval_message.strip(),
            invoice_id=self.invoice_id.strip(),
            customer_id=self.customer_id.strip(),
            customer_reference_id=self.customer_reference_id.strip(),
            description=self.description,
            email=self.email,
            masked_card_number=self.credit_card.masked_number if self.credit_card else "",
            created_at=parse_timestamp(self.created.at) if self.created else None,
            settled_at=parse_timestamp(self.settled),
            batch_number=self.batch_number,
        )


class TransactionResponse(BaseModel):
    """The answer to a capture (112), void (109) or refund (106)."""

    model_config = ConfigDict(extra="ignore")

    success: bool
    response_code: int
    status_message: str = ""
    transaction_id: int
    external_transaction_id: str = ""
    masked_card_number: str = ""


class CustomerSaleRequest(BaseModel):
    """``POST /v1/transactions/sale/by_customer`` (and ``authorization/by_customer``)."""

    amount: AmountText
    customer_id: str = Field(min_length=1, max_length=50)
    invoice_id: str = Field("", max_length=50)
    customer_reference_id: str = Field("", max_length=50)
    description: str = ""
    email: str = ""
    csc: Secret | None = None


class KeyedRefundRequest(BaseModel):
    """``POST /v1/transactions/refund/keyed``: a refund to a card with no original sale."""

    amount: AmountText
    credit_card: CreditCard
    billing_address: BillingAddress | None = None
    invoice_id: str = Field("", max_length=50)
    description: str = ""


class CustomerRefundRequest(BaseModel):
    """``POST /v1/transactions/refund/to_customer``."""

    amount: AmountText
    customer_id: str = Field(min_length=1, max_length=50)
    invoice_id: str = Field("", max_length=50)
    description: str = ""


class BankAccount(BaseModel):
    """The ``check`` object of an ACH request; the account number is never logged."""

    account_number: Secret
    routing_number: str = Field(pattern=r"^\d{9}$")


class CheckSaleRequest(BaseModel):
    """``POST /v1/checks/sale/by_account``."""

    amount: AmountText
    check: BankAccount
    billing_address: BillingAddress | None = None
    invoice_id: str = Field("", max_length=50)
    description: str = ""
    email: str = ""


class CheckResponse(BaseModel):
    """The answer to an ACH sale (120), refund (122) or void (124)."""

    model_config = ConfigDict(extra="ignore")

    success: bool
    response_code: int
    status_message: str = ""
    check_transaction_id: int
    ach_code: int = 0
    ach_message: str = ""


class ExportedCheckAccount(BaseModel):
    """The masked bank account of an exported check."""

    model_config = ConfigDict(extra="ignore")

    masked_account_number: str = ""
    routing_number: str = ""


class ExportedCheck(BaseModel):
    """One record of ``checks[]`` in a check export (an assumed shape: see docs/paytrace.md)."""

    model_config = ConfigDict(extra="ignore")

    check_transaction_id: int
    transaction_type: str
    status_code: int | None = None
    status_message: str = ""
    ach_code: int = 0
    ach_message: str = ""
    amount: Decimal
    check: ExportedCheckAccount | None = None
    customer_id: str = ""
    invoice_id: str = ""
    description: str = ""
    created: CreatedInfo | None = None
    settled: str = ""
    original_check_transaction_id: int | None = None

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Decimal:
        if isinstance(value, float):
            value = repr(value)
        return to_money(value)

    @property
    def returned(self) -> bool:
        """Whether the bank returned the debit (a processed sale now reads 125)."""
        return (
            self.transaction_type.upper() == "SALE"
            and self.status_code == 125
            and bool(self.ach_message)
        )

    def to_domain(self) -> PaytraceTransaction:
        """Convert to the domain model (``method`` ACH); only the masked account is kept.

        A processed debit (120, or 124 once a held check is funded) is money received; 125
        without a return reason was not processed (declined); 125 with one is a return.

        Returns:
            The check as tracepost's workflows see it.
        """
        kinds = {"SALE": TransactionType.SALE, "REFUND": TransactionType.REFUND}
        kinds["VOID"] = TransactionType.VOID
        ttype = kinds.get(self.transaction_type.upper(), TransactionType.UNKNOWN)
        returned = self.returned
        processed = self.status_code in CHECK_PROCESSED_CODES
        return PaytraceTransaction(
            transaction_id=self.check_transaction_id,
            transaction_type=ttype,
            amount=self.amount,
            approved=processed,
            declined=self.status_code == CHECK_NOT_PROCESSED and not returned,
            status_code=self.status_code,
            status_message=self.status_message,
            approval_message=self.ach_message.strip(),
            invoice_id=self.invoice_id.strip(),
            customer_id=self.customer_id.strip(),
            description=self.description,
            masked_card_number=self.check.masked_account_number if self.check else "",
            created_at=parse_timestamp(self.created.at) if self.created else None,
            settled_at=parse_timestamp(self.settled),
            method=PaymentSource.ACH,
            returned=returned,
            return_reason=self.ach_message.strip() if returned else "",
        )


class CustomerRequest(BaseModel):
    """``POST /v1/customer/create``; for ``update`` every field but ``customer_id`` is optional."""

    customer_id: str = Field(min_length=1, max_length=50)
    credit_card: CreditCard | None = None
    billing_address: BillingAddress | None = None
    shipping_address: BillingAddress | None = None
    email: str | None = None
    phone: str | None = Field(None, max_length=20)
    new_id: str | None = Field(None, min_length=1, max_length=50)


class CustomerResponse(BaseModel):
    """The answer to a customer create (160), update (161) or delete (162)."""

    model_config = ConfigDict(extra="ignore")

    success: bool
    response_code: int
    status_message: str = ""
    customer_id: str
    masked_card_number: str = ""


class ExportedCustomer(BaseModel):
    """One record of ``customers[]`` in ``customer/export``: the card is masked."""

    model_config = ConfigDict(extra="ignore")

    customer_id: str
    credit_card: ExportedCard | None = None
    billing_address: BillingAddress | None = None
    shipping_address: BillingAddress | None = None
    email: str = ""
    phone: str = ""

    @field_validator("email", "phone", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return "" if value is None else str(value)


class RecurrenceRequest(BaseModel):
    """The ``recurrence`` object of ``/v1/recurrence/create``."""

    amount: AmountText
    start_date: str = Field(pattern=r"^\d{2}/\d{2}/\d{4}$")
    frequency: int = Field(ge=1)
    total_count: int = Field(0, ge=0)
    description: str = ""


class Recurrence(BaseModel):
    """A recurrence as PayTrace answers it."""

    model_config = ConfigDict(extra="ignore")

    id: int
    customer_id: str = ""
    amount: Decimal | None = None
    start_date: str = ""
    frequency: int | None = None
    total_count: int | None = None


class BatchSummary(BaseModel):
    """A settled batch as ``batches/export_one`` and ``batches/export`` describe it."""

    model_config = ConfigDict(extra="ignore")

    number: int
    settled: str = ""
    transaction_count: int = 0
    net_amount: Decimal = Decimal("0.00")
    sales_count: int = 0
    sales_amount: Decimal = Decimal("0.00")
    refund_count: int = 0
    refund_amount: Decimal = Decimal("0.00")

    @field_validator("net_amount", "sales_amount", "refund_amount", mode="before")
    @classmethod
    def _money(cls, value: Any) -> Decimal:
        if isinstance(value, float):
            value = repr(value)
        return to_money(value)


class LineItem(BaseModel):
    """A level 3 line item."""

    product_id: str = ""
    description: str = ""
    quantity: DecimalText = Decimal("1")
    unit_cost: DecimalText = Decimal("0.00")
    amount: DecimalText = Decimal("0.00")
    unit_of_measure: str = ""
    commodity_code: str = ""


class LevelThreeRequest(BaseModel):
    """``POST /v1/level_three/visa|mastercard`` on an approved, unsettled sale."""

    transaction_id: int
    invoice_id: str = Field("", max_length=50)
    customer_reference_id: str = ""
    tax_amount: AmountText = Decimal("0.00")
    freight_amount: AmountText = Decimal("0.00")
    duty_amount: AmountText = Decimal("0.00")
    line_items: list[LineItem] = Field(default_factory=list)


class SimpleResponse(BaseModel):
    """A plain success answer (level 3: 170; deletes of recurrences)."""

    model_config = ConfigDict(extra="ignore")

    success: bool
    response_code: int
    status_message: str = ""


class SettleResponse(BaseModel):
    """The sandbox's answer to a manual settlement: the new batch, or none when nothing waited."""

    model_config = ConfigDict(extra="ignore")

    batch_number: int | None = Field(None, ge=1, le=MAX_ID)
