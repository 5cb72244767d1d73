"""eCommerce orders: the ``order.paid`` event, and the inputs and outputs of OrderSync.

A store that takes a card payment through PayTrace for an order tells tracepost with an
``order.paid`` event (:class:`OrderPaid`): the order, its lines, the customer as the store knows
it, and the PayTrace transaction that paid it. The same body comes from the webhook endpoint and
from ``tracepost orders replay FILE.json``. OrderSync never trusts it for money: it re-reads the
transaction from PayTrace and compares the amount with the order's total.

Money is ``Decimal`` in whole cents; quantities have at most two decimal places (Dynamics SL
keeps two), so the order's total is the same in every ERP.
"""

from __future__ import annotations

import base64
import hashlib
import re
from decimal import Decimal
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.erp_documents import PostalAddress, SalesOrderLine
from domain.input_bounds import MAX_AMOUNT, BusinessDate
from domain.money import ZERO, exact_cents, quantize

ORDER_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._#/-]{0,39}$")
"""1 to 40 characters (Sage 500 keeps 40): letters, digits and ``. _ # / -``."""
CUSTOMER_ID_WIDTH = 12
"""Derived customer ids fit both ERPs (Sage 500 ``CustID`` is 12 characters, SL ``CustId`` 15)."""
QUANTITY_PLACES = 2


class _Event(BaseModel):
    """Frozen, and an unknown key is an error: a field the store sends must not be dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class OrderCustomerInfo(_Event):
    """The customer as the store knows it.

    ``customer_id`` is the ERP customer id when the store has one (an account customer); blank
    for a guest, who is found by the linked PayTrace customer or the e-mail, else created.
    """

    customer_id: str = Field("", max_length=15, description="the ERP customer id, if known")
    name: str = Field(min_length=1, max_length=60)
    email: str = Field("", max_length=80)
    phone: str = Field("", max_length=30)
    address: PostalAddress = PostalAddress()

    @field_validator("customer_id", "name", "email", "phone")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError(f"not an e-mail address: {value!r}")
        return value

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if not self.name:
            raise ValueError("customer.name must not be blank")
        if not self.customer_id and not self.email:
            raise ValueError("customer needs a customer_id or an email to be found or created")
        return self


class OrderLineItem(_Event):
    """One line of the order: an ERP item, how many, at what unit price."""

    item_id: str = Field(min_length=1, max_length=30, description="the ERP item id")
    description: str = Field("", max_length=60)
    quantity: Decimal = Field(description="above zero, at most two decimal places")
    unit_price: Decimal = Field(description="whole cents, not negative")

    @field_validator("item_id")
    @classmethod
    def _item(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("item_id must not be blank")
        return value

    @field_validator("quantity", mode="before")
    @classmethod
    def _quantity(cls, value: Any) -> Decimal:
        quantity = _decimal(value, "quantity")
        if quantity <= 0:
            raise ValueError("quantity must be above zero")
        if quantity != quantize(quantity, QUANTITY_PLACES):
            raise ValueError("quantity has at most two decimal places")
        return quantity

    @field_validator("unit_price", mode="before")
    @classmethod
    def _price(cls, value: Any) -> Decimal:
        price = _cents(value, "unit_price")
        if price < 0:
            raise ValueError("unit_price must not be negative")
        return price

    @property
    def extension(self) -> Decimal:
        """Quantity times unit price, rounded half-up to the cent."""
        return quantize(self.quantity * self.unit_price, 2)


class OrderPaid(_Event):
    """The ``order.paid`` event of an eCommerce store (body of ``POST /webhooks/events``).

    Example::

        {"order_id": "WEB-1001", "transaction_id": 1000123,
         "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
         "lines": [{"item_id": "WIDGET", "quantity": "2", "unit_price": "9.99"}],
         "shipping": "5.00", "order_date": "2026-03-01"}

    ``shipping`` becomes a line of the mapping's ``orders.shipping_item``. Sales tax is not
    carried: the ERP's tax schedules compute it on the order, so a payment that includes tax
    does not equal the lines and parks for a person (``order_amount_mismatch``).
    """

    order_id: str = Field(description="the store's order number; also PayTrace's invoice_id")
    transaction_id: int = Field(gt=0, description="the PayTrace transaction that paid it")
    customer: OrderCustomerInfo
    lines: tuple[OrderLineItem, ...] = Field(min_length=1)
    shipping: Decimal = Field(ZERO, description="whole cents, not negative")
    order_date: BusinessDate | None = Field(None, description="blank: the payment's date")
    customer_po: str = Field("", max_length=15, description="the customer's PO number, if any")

    @field_validator("order_id")
    @classmethod
    def _order_id(cls, value: str) -> str:
        value = value.strip()
        if not ORDER_ID_PATTERN.fullmatch(value):
            raise ValueError(
                "order_id must be 1 to 40 letters, digits or '. _ # / -', starting with a letter"
                f" or digit, not {value!r}"
            )
        return value

    @field_validator("shipping", mode="before")
    @classmethod
    def _shipping(cls, value: Any) -> Decimal:
        shipping = _cents(value, "shipping")
        if shipping < 0:
            raise ValueError("shipping must not be negative")
        return shipping

    @property
    def lines_total(self) -> Decimal:
        """What the lines come to (each line rounded to the cent)."""
        return sum((line.extension for line in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        """What the customer paid for the order: the lines and the shipping."""
        return self.lines_total + self.shipping


def _decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, float | bool):
        raise ValueError(f"{name} must be a decimal string or integer, not {type(value).__name__}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except ArithmeticError:
        raise ValueError(f"{name} is not a number: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"{name} is not a finite number: {value!r}")
    if abs(number) > MAX_AMOUNT:
        raise ValueError(f"{name} is larger than {MAX_AMOUNT}")
    return number


def _cents(value: Any, name: str) -> Decimal:
    _decimal(value, name)
    try:
        return exact_cents(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def order_lines(event: OrderPaid, shipping_item: str) -> tuple[SalesOrderLine, ...]:
    """The sales order lines of an order: its lines, then the shipping line when there is one.

    Args:
        event: the order.
        shipping_item: the mapping's ``orders.shipping_item`` (blank: none configured).

    Returns:
        The lines.

    Raises:
        ValueError: the order charges shipping and no shipping item is configured.
    """
    lines = [
        SalesOrderLine(
            item_id=line.item_id,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
        )
        for line in event.lines
    ]
    if event.shipping > 0:
        if not shipping_item.strip():
            raise ValueError(
                f"order {event.order_id} charges {event.shipping} shipping and the mapping names"
                " no orders.shipping_item to carry it"
            )
        lines.append(
            SalesOrderLine(
                item_id=shipping_item.strip(),
                description="Shipping",
                quantity=Decimal("1"),
                unit_price=event.shipping,
            )
        )
    return tuple(lines)


def matches_reference(invoice_id: str, prefix: str) -> bool:
    """Whether a PayTrace ``invoice_id`` is an eCommerce order's (``orders.reference_prefix``).

    Args:
        invoice_id: the transaction's invoice id, e.g. ``WEB-1001``.
        prefix: the configured prefix, e.g. ``WEB-``; blank recognises no order.

    Returns:
        True when the invoice id starts with the prefix (case-insensitive, blanks trimmed) and
        has more after it.
    """
    value, start = invoice_id.strip().upper(), prefix.strip().upper()
    return bool(start) and value.startswith(start) and len(value) > len(start)


def pays_order(invoice_id: str, order_id: str, prefix: str) -> bool:
    """Whether a PayTrace ``invoice_id`` names this order: the order id, or prefix + order id.

    Args:
        invoice_id: the transaction's invoice id.
        order_id: the event's order id.
        prefix: the configured ``orders.reference_prefix``.

    Returns:
        True when they agree (case-insensitive, blanks trimmed).
    """
    value, order = invoice_id.strip().upper(), order_id.strip().upper()
    return value in (order, f"{prefix.strip().upper()}{order}")


def new_customer_id(prefix: str, email: str) -> str:
    """The ERP id of a customer OrderSync creates: the prefix and a digest of the e-mail.

    The same e-mail always gives the same id, so two orders of one new customer racing each
    other create one customer, and a replayed event finds the customer it created.

    Args:
        prefix: the mapping's ``orders.new_customer_prefix`` (1 to 4 letters or digits).
        email: the customer's e-mail (case and blanks do not matter).

    Returns:
        ``CUSTOMER_ID_WIDTH`` characters, e.g. ``WEBK7Q2M4XRA``.
    """
    digest = hashlib.sha256(email.strip().lower().encode()).digest()
    suffix = base64.b32encode(digest).decode().rstrip("=")
    return f"{prefix}{suffix}"[:CUSTOMER_ID_WIDTH]


class OrderPolicy(_Frozen):
    """The mapping's ``[orders]`` section and closed-period policy, as OrderSync reads them."""

    reference_prefix: str = ""
    wait_minutes: int = 60
    new_customer_prefix: str = "WEB"
    shipping_item: str = ""
    closed_periods: str = "park"


class OrderSyncInput(_Frozen):
    """Start OrderSync (``order-<order id>``) for an ``order.paid`` event."""

    event: OrderPaid
    source: str = "unknown"


class OrderCustomerRequest(_Frozen):
    """Find or create the ERP customer of an order."""

    order_id: str
    customer: OrderCustomerInfo
    paytrace_customer_id: str = Field("", description="the PayTrace vault customer, if any")


class CustomerRule(StrEnum):
    """How OrderSync found the order's customer."""

    GIVEN_ID = "given_id"
    PAYTRACE_LINK = "paytrace_link"
    EMAIL = "email"
    DERIVED_ID = "derived_id"


class OrderCustomer(_Frozen):
    """The order's ERP customer, how it was found, and what the event says differently.

    ``conflicts`` name the fields (``name``, ``email``, ``phone``) where the event differs from
    an existing customer; the ERP owns them, so they are kept and the difference is recorded.
    """

    customer_id: str
    rule: CustomerRule
    created: bool = False
    conflicts: tuple[str, ...] = ()


class OrderOutcome(StrEnum):
    """How an OrderSync workflow ended."""

    SYNCED = "synced"
    PENDING_MANUAL_POST = "pending_manual_post"
    VOIDED = "voided"
    HANDLED = "handled"


class OrderSyncResult(_Frozen):
    """What an OrderSync workflow did."""

    order_id: str
    transaction_id: int
    outcome: OrderOutcome
    reason: str = ""
    customer_id: str = ""
    customer_rule: str = ""
    customer_created: bool = False
    sales_order: str = Field("", description="the ERP's order number (Sage TranID, SL OrdNbr)")
    receipt: str = Field("", description="the prepayment's ERP document")
    batch: str = ""
    amount: Decimal = ZERO
