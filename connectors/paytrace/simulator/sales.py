"""Sales and authorizations: reading the request, deciding approve or decline, storing the result.

Shared by the JSON API (keyed and by-customer sales and authorizations) and hosted checkout. The
card number is reduced to its brand and masked form as soon as it is validated.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.paytrace.simulator import codes, errors
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
from connectors.paytrace.simulator.vault_state import CustomerRecord
from domain.money import CENT, to_money
from domain.redaction import mask_pan

APPROVED = codes.APPROVED
DECLINED = codes.DECLINED
APPROVED_STATUS = codes.STATUS[codes.APPROVED]
DECLINED_STATUS = codes.STATUS[codes.DECLINED]

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
    """A validated sale or authorization; the card is already masked, the CSC lives only here."""

    amount: Decimal
    tax_amount: Decimal
    card_type: str
    masked_number: str
    expiry: Expiry
    csc: str
    billing_address: dict[str, str]
    shipping_address: dict[str, str]
    invoice_id: str
    customer_reference_id: str
    email: str
    description: str
    customer_id: str = ""


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
        if not amount.is_finite() or amount != amount.quantize(CENT) or amount.is_signed():
            return None
    except InvalidOperation:  # also a value too large to quantize, such as 1e30
        return None
    if amount == 0 and not allow_zero:
        return None
    return to_money(amount)


def parse_address(value: object) -> dict[str, str]:
    """Read an address object; missing fields become ``""``."""
    source: Mapping[str, Any] = value if isinstance(value, Mapping) else {}
    return {name: text(source.get(name)) for name in ADDRESS_FIELDS}


@dataclass(frozen=True)
class MaskedCard:
    """A validated card reduced to what may be kept: brand, masked number, expiry."""

    card_type: str
    masked_number: str
    expiry: Expiry

    @classmethod
    def stored(cls, card_type: str, masked_number: str, month: str, year: str) -> MaskedCard:
        """Rebuild a card kept on file (a vault customer, an earlier transaction)."""
        return cls(card_type, masked_number, Expiry(month=int(month), year=int(year)))


def parse_card(value: object) -> tuple[list[int], MaskedCard | None]:
    """Validate a ``credit_card`` object and reduce it to its masked form.

    Args:
        value: the raw ``credit_card`` value.

    Returns:
        The error codes found (35, 43, 44) and the masked card when there were none.
    """
    card: Mapping[str, Any] = value if isinstance(value, Mapping) else {}
    found: list[int] = []
    number = valid_card_number(card.get("number"))
    if number is None:
        found.append(errors.INVALID_CARD_NUMBER)
    month = parse_month(card.get("expiration_month"))
    if month is None:
        found.append(errors.INVALID_EXPIRATION_MONTH)
    year = parse_year(card.get("expiration_year"))
    if year is None:
        found.append(errors.INVALID_EXPIRATION_YEAR)
    if found:
        return found, None
    assert number is not None and month is not None and year is not None
    return [], MaskedCard(card_brand(number), mask_pan(number), Expiry(month=month, year=year))


def common_codes(payload: Mapping[str, Any]) -> tuple[list[int], Decimal | None, Decimal | None]:
    """Check the fields every money request shares: ``amount``, ``tax_amount``, ``invoice_id``.

    Args:
        payload: the JSON body.

    Returns:
        The error codes found (39, 40, 47), the amount and the tax (None where invalid).
    """
    codes_found: list[int] = []
    amount = parse_amount(payload.get("amount"))
    if amount is None:
        codes_found.append(errors.INVALID_AMOUNT)
    raw_tax = payload.get("tax_amount")
    tax = Decimal("0.00") if raw_tax in (None, "") else parse_amount(raw_tax, allow_zero=True)
    if tax is None:
        codes_found.append(errors.INVALID_TAX_AMOUNT)
    if len(text(payload.get("invoice_id"))) > MAX_INVOICE_ID:
        codes_found.append(errors.INVALID_INVOICE_ID)
    return codes_found, amount, tax


def parse_customer_sale(payload: Mapping[str, Any], customer: CustomerRecord) -> SaleRequest:
    """Validate a by-customer sale or authorization body against the vault customer's card.

    Args:
        payload: the JSON body.
        customer: the vault customer named by ``customer_id``.

    Returns:
        The validated sale, with the stored card and billing address.

    Raises:
        ApiError: with every error code found.
    """
    found, amount, tax = common_codes(payload)
    if found:
        raise errors.ApiError(found)
    assert amount is not None and tax is not None
    return SaleRequest(
        amount=amount,
        tax_amount=tax,
        card_type=customer.card_type,
        masked_number=customer.masked_number,
        expiry=Expiry(month=int(customer.expiration_month), year=int(customer.expiration_year)),
        csc=text(payload.get("csc")).strip(),
        billing_address=dict(customer.billing_address),
        shipping_address=dict(customer.shipping_address),
        invoice_id=text(payload.get("invoice_id")),
        customer_reference_id=text(payload.get("customer_reference_id")),
        email=text(payload.get("email")) or customer.email,
        description=text(payload.get("description")),
        customer_id=customer.customer_id,
    )


def parse_sale(payload: Mapping[str, Any]) -> SaleRequest:
    """Validate a keyed sale body, collecting every error at once as PayTrace does.

    Args:
        payload: the JSON body.

    Returns:
        The validated sale.

    Raises:
        ApiError: with every error code found.
    """
    found, card = parse_card(payload.get("credit_card"))
    common, amount, tax = common_codes(payload)
    found.extend(common)
    if found:
        raise errors.ApiError(found)
    assert card is not None and amount is not None and tax is not None
    return SaleRequest(
        amount=amount,
        tax_amount=tax,
        card_type=card.card_type,
        masked_number=card.masked_number,
        expiry=card.expiry,
        csc=text(payload.get("csc")).strip(),
        billing_address=parse_address(payload.get("billing_address")),
        shipping_address=parse_address(payload.get("shipping_address")),
        invoice_id=text(payload.get("invoice_id")),
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
    ctx: SimContext,
    merchant: str,
    sale: SaleRequest,
    *,
    through: str,
    from_ip: str,
    transaction_type: str = "SALE",
) -> TransactionRecord:
    """Decide a sale or authorization and store it, declined or approved.

    Args:
        ctx: the simulator context.
        merchant: the API user.
        sale: the validated sale.
        through: ``created.through``: ``"API"`` or ``"Hosted Checkout"``.
        from_ip: the caller's IP address.
        transaction_type: ``SALE`` or ``AUTHORIZATION`` (which waits for a capture).

    Returns:
        The stored transaction with its id.
    """
    now = ctx.now()
    decision = decide(sale, now.astimezone(ctx.tz).date())
    record = TransactionRecord(
        merchant=merchant,
        transaction_type=transaction_type,
        response_code=decision.response_code,
        status_message=decision.status_message,
        approval_code=decision.approval_code,
        approval_message=decision.approval_message,
        avs_response=decision.avs_response,
        csc_response=decision.csc_response,
        amount=sale.amount,
        tax_amount=sale.tax_amount,
        card_type=sale.card_type,
        masked_number=sale.masked_number,
        expiration_month=sale.expiry.month_text,
        expiration_year=sale.expiry.year_text,
        invoice_id=sale.invoice_id,
        customer_reference_id=sale.customer_reference_id,
        customer_id=sale.customer_id,
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
