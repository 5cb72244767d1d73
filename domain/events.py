"""Signed JSON events (``POST /webhooks/events``): the envelope, each type's data, the signature.

A payment portal, an eCommerce store or an operator tool announces what happened; tracepost
starts (or joins) the workflow of the event's business key. Events are hints: every workflow
re-reads PayTrace before it writes anything, so an event only has to name the right thing.

The signature is HMAC-SHA256 over ``<timestamp>.<raw body>`` with a shared secret, sent as
``X-Tracepost-Signature: v1=<hex>`` (several ``v1=`` values, comma separated, while a sender
rotates) beside ``X-Tracepost-Timestamp: <unix seconds>``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.chargeback_io import DisputeOutcome
from domain.input_bounds import MAX_AMOUNT, MAX_ID, BusinessDate
from domain.money import exact_cents
from domain.order_io import OrderPaid

SIGNATURE_VERSION = "v1"
_EVENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,99}$")
_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@\-]{0,49}$")


class EventType(StrEnum):
    """The events tracepost accepts."""

    PAYMENT_COMPLETED = "payment.completed"
    REFUND_COMPLETED = "refund.completed"
    CHARGEBACK_OPENED = "chargeback.opened"
    CHARGEBACK_RESOLVED = "chargeback.resolved"
    ORDER_PAID = "order.paid"
    CUSTOMER_UPDATED = "customer.updated"


class _Data(BaseModel):
    """Frozen, and an unknown key is an error, so a misspelt field is not silently dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PaymentCompleted(_Data):
    """A card sale or ACH debit completed in PayTrace."""

    transaction_id: int = Field(gt=0, le=MAX_ID, strict=True)
    method: Literal["card", "ach"] = "card"


class RefundCompleted(_Data):
    """A card refund completed in PayTrace (its own transaction id)."""

    transaction_id: int = Field(gt=0, le=MAX_ID, strict=True)


class ChargebackOpened(_Data):
    """The processor reported a dispute against a card sale."""

    case_id: str = Field(min_length=1, max_length=20)
    transaction_id: int = Field(gt=0, le=MAX_ID, strict=True)
    amount: Decimal = Field(description="what the network took back, a decimal string")
    fee: Decimal | None = Field(None, description="blank: the mapping's chargebacks.default_fee")
    reason: str = Field("", max_length=200)
    opened_on: BusinessDate
    respond_by: BusinessDate

    @field_validator("amount", "fee", mode="before")
    @classmethod
    def _money(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, float | bool):
            raise ValueError('must be a decimal string such as "125.00", not a JSON number')
        return exact_cents(value)

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("must be more than zero")
        if value > MAX_AMOUNT:
            raise ValueError(f"must be at most {MAX_AMOUNT}")
        return value


class ChargebackResolved(_Data):
    """The network decided a dispute."""

    case_id: str = Field(min_length=1, max_length=20)
    outcome: DisputeOutcome
    decided_on: BusinessDate | None = None
    note: str = Field("", max_length=500)


class CustomerUpdated(_Data):
    """A PayTrace vault profile was created or changed."""

    paytrace_customer_id: str

    @field_validator("paytrace_customer_id")
    @classmethod
    def _customer_id(cls, value: str) -> str:
        if not _CUSTOMER_ID.fullmatch(value):
            raise ValueError("must be 1-50 letters, digits or '. _ @ -'")
        return value


EventData = (
    PaymentCompleted
    | RefundCompleted
    | ChargebackOpened
    | ChargebackResolved
    | OrderPaid
    | CustomerUpdated
)
DATA_MODELS: dict[EventType, type[BaseModel]] = {
    EventType.PAYMENT_COMPLETED: PaymentCompleted,
    EventType.REFUND_COMPLETED: RefundCompleted,
    EventType.CHARGEBACK_OPENED: ChargebackOpened,
    EventType.CHARGEBACK_RESOLVED: ChargebackResolved,
    EventType.ORDER_PAID: OrderPaid,
    EventType.CUSTOMER_UPDATED: CustomerUpdated,
}


class EventEnvelope(_Data):
    """What every event looks like on the wire.

    Example::

        {"id": "evt_01", "type": "payment.completed", "occurred_at": "2026-03-01T12:00:00Z",
         "data": {"transaction_id": 1000123}}
    """

    id: str = Field(description="the sender's event id, kept in the event log")
    type: str = Field(description="one of the event types")
    occurred_at: datetime | None = None
    data: dict[str, Any]

    @field_validator("id")
    @classmethod
    def _event_id(cls, value: str) -> str:
        if not _EVENT_ID.fullmatch(value):
            raise ValueError("must be 1-100 letters, digits or '. _ : -'")
        return value


def openapi_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """The request body schema of ``/webhooks/events`` and the component schemas it refers to.

    The body is one of an envelope per event type, whose ``type`` is a constant and whose
    ``data`` is that type's model, so the published schema documents every event.

    Returns:
        (the body schema, the schemas to add under ``components/schemas``).
    """
    from pydantic.json_schema import models_json_schema

    refs, top = models_json_schema(
        [(model, "validation") for model in DATA_MODELS.values()],
        ref_template="#/components/schemas/{model}",
    )
    components: dict[str, Any] = dict(top.get("$defs", {}))
    variants = []
    for event_type, model in DATA_MODELS.items():
        variants.append(
            {
                "type": "object",
                "title": f"{event_type.value} event",
                "properties": {
                    "id": {"type": "string", "pattern": _EVENT_ID.pattern},
                    "type": {"type": "string", "enum": [event_type.value]},
                    "occurred_at": {"type": "string", "format": "date-time"},
                    "data": refs[(model, "validation")],
                },
                "required": ["id", "type", "data"],
                "additionalProperties": False,
            }
        )
    return {"oneOf": variants}, components


def parse_data(event_type: EventType, data: dict[str, Any]) -> BaseModel:
    """Validate an event's ``data`` against its type's model.

    Args:
        event_type: the event's type.
        data: the ``data`` object.

    Returns:
        The validated data.

    Raises:
        pydantic.ValidationError: with the field-level reasons.
    """
    return DATA_MODELS[event_type].model_validate(data)


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``v1`` signature of a body (what a sender puts into ``X-Tracepost-Signature``).

    Args:
        secret: the shared secret.
        timestamp: unix seconds, as sent in ``X-Tracepost-Timestamp``.
        body: the raw request body.

    Returns:
        ``v1=<hex>``.
    """
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


class SignatureError(ValueError):
    """The request is not signed by a current secret, or not recently."""


def verify(
    secrets: Sequence[bytes],
    timestamp_header: str,
    signature_header: str,
    body: bytes,
    *,
    now: float,
    window_seconds: int,
) -> None:
    """Check a request's signature and timestamp.

    Args:
        secrets: the active secrets (two during a rotation).
        timestamp_header: ``X-Tracepost-Timestamp``.
        signature_header: ``X-Tracepost-Signature`` (one or more ``v1=<hex>``).
        body: the raw body.
        now: the current unix time.
        window_seconds: how far the timestamp may be from now, either way.

    Raises:
        SignatureError: with the reason to answer (never a secret or an expected value).
    """
    if not secrets:
        raise SignatureError("events are not enabled: no TRACEPOST_EVENT_SECRETS configured")
    value = timestamp_header.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise SignatureError("X-Tracepost-Timestamp must be unix seconds")
    timestamp = int(value)
    if abs(now - timestamp) > window_seconds:
        raise SignatureError(
            f"X-Tracepost-Timestamp is more than {window_seconds} seconds from now"
        )
    offered = [
        part.strip() for part in signature_header.split(",") if part.strip().startswith("v1=")
    ]
    if not offered:
        raise SignatureError("X-Tracepost-Signature must hold v1=<hex HMAC-SHA256>")
    expected = [sign(secret, timestamp, body) for secret in secrets]
    # Compare every pair, so the time taken tells nothing about which secret matched.
    matched = False
    for candidate in offered[:4]:
        for want in expected:
            matched |= hmac.compare_digest(candidate.encode(), want.encode())
    if not matched:
        raise SignatureError("signature does not match")


def parse_secrets(text: str) -> list[bytes]:
    """The active secrets from ``TRACEPOST_EVENT_SECRETS`` (comma separated, at most two).

    Args:
        text: the setting.

    Returns:
        The secrets, as bytes.

    Raises:
        ValueError: more than two, or one shorter than 16 characters (without echoing it).
    """
    secrets = [part.strip() for part in text.split(",") if part.strip()]
    if len(secrets) > 2:
        raise ValueError("TRACEPOST_EVENT_SECRETS holds at most two secrets (old and new)")
    for number, secret in enumerate(secrets, start=1):
        if len(secret) < 16:
            raise ValueError(f"TRACEPOST_EVENT_SECRETS: secret {number} is shorter than 16")
    return [secret.encode() for secret in secrets]


class EventReceipt(BaseModel):
    """One row of the store's event log: a request the webhook starter answered.

    Attributes:
        channel: ``events`` (signed JSON) or ``silent_post``.
        event_id: the sender's event id (Silent Post: the transaction id), blank when unreadable.
        event_type: e.g. ``payment.completed``; blank when unreadable.
        outcome: ``started``, ``joined``, ``applied``, ``unchanged``, ``rejected`` or
            ``unavailable``.
        status_code: the HTTP status answered.
        workflow_id: the workflow started or joined (blank when none).
        reason: why it was refused, in words.
        body_sha256: hash of the raw body (to match a sender's retries without keeping it).
        data: the validated data of an accepted event; never a refused body.
        remote_addr: the peer address.
    """

    model_config = ConfigDict(frozen=True)

    received_at: datetime
    channel: str
    event_id: str = ""
    event_type: str = ""
    outcome: str
    status_code: int
    workflow_id: str = ""
    reason: str = ""
    body_sha256: str
    data: dict[str, Any] | None = None
    remote_addr: str = ""
