"""Request and response models of the PayTrace v1 JSON API, with PayTrace's exact field names."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_serializer, field_validator

from domain.models import PaytraceTransaction, TransactionType
from domain.money import format_amount, to_money

# A card payment counts as approved only with these codes: 101 approved, 112 captured. 104 (a TEST
# approval, no live authorization) and every other code are not money received.
APPROVED_PAYMENT_CODES = frozenset({101, 112})
DECLINE_CODES = frozenset({102, 103, 107, 110, 113, 125})
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

    number: SecretStr
    expiration_month: str
    expiration_year: str

    @field_serializer("number")
    def _reveal(self, value: SecretStr) -> str:
        return value.get_secret_value()


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

    amount: Decimal
    credit_card: CreditCard
    csc: SecretStr | None = None
    billing_address: BillingAddress | None = None
    invoice_id: str = Field("", max_length=50)
    customer_reference_id: str = Field("", max_length=50)
    email: str = ""
    description: str = ""

    @field_serializer("amount")
    def _amount(self, value: Decimal) -> str:
        return format_amount(value)

    @field_serializer("csc")
    def _csc(self, value: SecretStr | None) -> str | None:
        return value.get_secret_value() if value is not None else None


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

    def to_domain(self) -> PaytraceTransaction:
        """Convert to the domain model; only the masked card number is kept.

        Returns:
            The transaction as tracepost's workflows see it.
        """
        try:
            ttype = TransactionType(self.transaction_type.upper())
        except ValueError:
            ttype = TransactionType.UNKNOWN
        declined = ttype is TransactionType.DECLINED or self.status_code in DECLINE_CODES
        approved = not declined and self.status_code in APPROVED_PAYMENT_CODES
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
