"""The sale itself: reading the request, deciding approve or decline, and storing the result.

Shared by the JSON API (``/v1/transactions/sale/keyed``) and hosted checkout.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.paytrace.simulator import errors
from connectors.paytrace.simulator.cards import (
    Expiry,
    card_brand,
    parse_month,
    parse_year,
    valid_card_number,
)
from connectors.paytrace.simulator.clock import to_micros
from connectors.paytrace.simulator.context import SimContext
from connectors.paytrace.simulator.state import TransactionRecord
from domain.money import CENT, to_money
from domain.redaction import mask_pan

APPROVED = 101
DECLINED = 102
APPROVED_STATUS = "Your transaction was successfully approved."
DECLINED_STATUS = "Your transaction was not approved."

EXPIRED_CARD = "  EXPIRED CARD - Expired card"
DO_NOT_HONOR = "    DECLINE - Do not honor"
INSUFFICIENT_FUNDS = "    DECLINE - Insufficient funds"
DECLINE_BY_CENTS: dict[int, str] = {29: EXPIRED_CARD, 2: DO_NOT_HONOR, 51: INSUFFICIENT_FUNDS}
"""Amounts ending in these cents are declined with this approval message."""

AVS_FULL_MATCH = "Full Exact Match"
AVS_NO_MATCH = "No Match"
MAX_INVOICE_ID = 50
ADDRESS_FIELDS = ("name", "street_address", "street_address2", "city", "state", "zip", "country")


@dataclass(frozen=True)
class SaleRequest:
    """A validated sale. ``card_number`` and ``csc`` live only as long as the request."""

    amount: Decimal
    tax_amount: Decimal
    card_number: str
    expiry: Expiry
    csc: str
    billing_address: dict[str, str]
    shipping_address: dict[str, str]
    invoice_id: str
    customer_reference_id: str
    email: str
    description: str


@dataclass(frozen=True)
class Decision:
    """The simulated issuer's answer."""

    response_code: int
    status_message: str
    approval_code: str
    approval_message: str
    avs_response: str
    csc_response: str

    @property
    def approved(self) -> bool:
        """Whether the sale was approved."""
        return self.response_code == APPROVED


def text(value: object) -> str:
    """Read an optional text field: strings as given, numbers as text, anything else as ``""``."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    return ""


def parse_amount(value: object, *, allow_zero: bool = False) -> Decimal | None:
    """Read a money amount given as a decimal string or JSON number.

    Args:
        value: the raw value; floats never reach here because JSON is parsed into Decimal.
        allow_zero: accept 0.00 (tax) rather than require a positive amount.

    Returns:
        The amount to the cent, or None when missing, malformed, finer than a cent or too small.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        return None
    try:
        amount = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount != amount.quantize(CENT) or amount.is_signed():
        return None
    if amount == 0 and not allow_zero:
        return None
    return to_money(amount)


def _address(value: object) -> dict[str, str]:
    source: Mapping[str, Any] = value if isinstance(value, Mapping) else {}
    return {name: text(source.get(name)) for name in ADDRESS_FIELDS}


def parse_sale(payload: Mapping[str, Any]) -> SaleRequest:
    """Validate a keyed sale body, collecting every error at once as PayTrace does.

    Args:
        payload: the JSON body.

    Returns:
        The validated sale.

    Raises:
        ApiError: with every error code found.
    """
    codes: list[int] = []
    card: Mapping[str, Any] = payload.get("credit_card") or {}
    if not isinstance(card, Mapping):
        card = {}
    number = valid_card_number(card.get("number"))
    if number is None:
        codes.append(errors.INVALID_CARD_NUMBER)
    month = parse_month(card.get("expiration_month"))
    if month is None:
        codes.append(errors.INVALID_EXPIRATION_MONTH)
    year = parse_year(card.get("expiration_year"))
    if year is None:
        codes.append(errors.INVALID_EXPIRATION_YEAR)
    amount = parse_amount(payload.get("amount"))
    if amount is None:
        codes.append(errors.INVALID_AMOUNT)
    raw_tax = payload.get("tax_amount")
    tax = Decimal("0.00") if raw_tax in (None, "") else parse_amount(raw_tax, allow_zero=True)
    if tax is None:
        codes.append(errors.INVALID_TAX_AMOUNT)
    invoice_id = text(payload.get("invoice_id"))
    if len(invoice_id) > MAX_INVOICE_ID:
        codes.append(errors.INVALID_INVOICE_ID)
    if codes:
        raise errors.ApiError(codes)
    assert number is not None and month is not None and year is not None
    assert amount is not None and tax is not None
    return SaleRequest(
        amount=amount,
        tax_amount=tax,
        card_number=number,
        expiry=Expiry(month=month, year=year),
        csc=text(payload.get("csc")).strip(),
        billing_address=_address(payload.get("billing_address")),
        shipping_address=_address(payload.get("shipping_address")),
        invoice_id=invoice_id,
        customer_reference_id=text(payload.get("customer_reference_id")),
        email=text(payload.get("email")),
        description=text(payload.get("description")),
    )


def decide(sale: SaleRequest, today: date) -> Decision:
    """Approve or decline a valid sale by the simulator's fixed rules.

    Args:
        sale: the validated sale.
        today: the merchant's local date, for the expiry check.

    Returns:
        The decision with AVS and CSC results.
    """
    billing = sale.billing_address
    avs = AVS_FULL_MATCH if billing["street_address"] and billing["zip"] else AVS_NO_MATCH
    if not sale.csc:
        csc = ""
    else:
        csc = "Match" if sale.csc.isdigit() and len(sale.csc) in (3, 4) else "No Match"
    cents = int(sale.amount * 100) % 100
    decline = EXPIRED_CARD if sale.expiry.is_expired(today) else DECLINE_BY_CENTS.get(cents)
    if decline is not None:
        return Decision(DECLINED, DECLINED_STATUS, "", decline, avs, csc)
    avs_text = "EXACT MATCH" if avs == AVS_FULL_MATCH else "NO  MATCH"
    approval_code = f"TAS{secrets.randbelow(1000):03d}"
    return Decision(
        APPROVED, APPROVED_STATUS, approval_code, f"  {avs_text} - Approved and completed", avs, csc
    )


async def run_sale(
    ctx: SimContext, merchant: str, sale: SaleRequest, *, through: str, from_ip: str
) -> TransactionRecord:
    """Decide a sale and store it, declined or approved.

    Args:
        ctx: the simulator context.
        merchant: the API user.
        sale: the validated sale.
        through: ``created.through``: ``"API"`` or ``"Hosted Checkout"``.
        from_ip: the caller's IP address.

    Returns:
        The stored transaction with its id.
    """
    now = ctx.now()
    decision = decide(sale, now.astimezone(ctx.tz).date())
    record = TransactionRecord(
        merchant=merchant,
        transaction_type="SALE",
        response_code=decision.response_code,
        status_message=decision.status_message,
        approval_code=decision.approval_code,
        approval_message=decision.approval_message,
        avs_response=decision.avs_response,
        csc_response=decision.csc_response,
        amount=sale.amount,
        tax_amount=sale.tax_amount,
        card_type=card_brand(sale.card_number),
        masked_number=mask_pan(sale.card_number),
        expiration_month=sale.expiry.month_text,
        expiration_year=sale.expiry.year_text,
        invoice_id=sale.invoice_id,
        customer_reference_id=sale.customer_reference_id,
        customer_id="",
        description=sale.description,
        email=sale.email,
        billing_address=sale.billing_address,
        shipping_address=sale.shipping_address,
        created_through=through,
        created_by=merchant,
        created_from_ip=from_ip,
        created_at_us=to_micros(now),
    )
    return await ctx.db(ctx.state.add_transaction, record)


def sale_response(record: TransactionRecord) -> dict[str, object]:
    """Build the keyed-sale response body for a stored transaction.

    Args:
        record: the stored transaction.

    Returns:
        The body PayTrace sends for an approval (HTTP 200) or a decline (HTTP 400).
    """
    return {
        "success": record.response_code == APPROVED,
        "response_code": record.response_code,
        "status_message": record.status_message,
        "transaction_id": record.transaction_id,
        "approval_code": record.approval_code,
        "approval_message": record.approval_message,
        "avs_response": record.avs_response,
        "csc_response": record.csc_response,
        "external_transaction_id": record.external_transaction_id,
        "masked_card_number": record.masked_number,
    }
