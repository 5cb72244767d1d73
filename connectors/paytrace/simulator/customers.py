"""``/v1/customer/*`` (the vault) and ``/v1/recurrence/*`` routes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from connectors.paytrace.simulator import codes, errors
from connectors.paytrace.simulator.auth import Merchant, require_merchant
from connectors.paytrace.simulator.bodies import parse_transaction_id, read_body
from connectors.paytrace.simulator.clock import parse_us_date, to_micros
from connectors.paytrace.simulator.context import Ctx, SimContext
from connectors.paytrace.simulator.jsonio import PayTraceJSONResponse, completed
from connectors.paytrace.simulator.sales import (
    MaskedCard,
    parse_address,
    parse_amount,
    parse_card,
    text,
)
from connectors.paytrace.simulator.vault_state import CustomerRecord, RecurrenceRecord

router = APIRouter(prefix="/v1", dependencies=[Depends(require_merchant)])

MAX_CUSTOMER_ID = 50


def _customer_id(value: object, found: list[int]) -> str:
    customer_id = text(value).strip()
    if not customer_id or len(customer_id) > MAX_CUSTOMER_ID:
        found.append(errors.INVALID_CUSTOMER_ID)
    return customer_id


def _label(customer: CustomerRecord) -> str:
    name = customer.billing_address.get("name", "")
    return f"{customer.customer_id}/{name}" if name else customer.customer_id


def _profile_answer(code: int, customer: CustomerRecord) -> Response:
    return PayTraceJSONResponse(
        {
            "success": True,
            "response_code": code,
            "status_message": codes.STATUS[code].format(customer_id=_label(customer)),
            "customer_id": customer.customer_id,
            "masked_card_number": customer.masked_number,
        }
    )


def render_customer(customer: CustomerRecord) -> dict[str, object]:
    """Render a vault customer as ``customer/export`` lists it (masked card only)."""
    return {
        "customer_id": customer.customer_id,
        "credit_card": {
            "masked_number": customer.masked_number,
            "expiration_month": customer.expiration_month,
            "expiration_year": customer.expiration_year,
        },
        "billing_address": dict(customer.billing_address),
        "shipping_address": dict(customer.shipping_address),
        "email": customer.email,
        "phone": customer.phone,
        "fax": customer.fax,
    }


async def _store_new_customer(
    ctx: SimContext,
    merchant: str,
    customer_id: str,
    card: MaskedCard,
    body: dict[str, Any],
    *,
    billing_address: dict[str, str] | None = None,
    email: str = "",
) -> Response:
    """Store a new vault customer from a request and answer 160 (duplicate id: 171)."""
    now_us = to_micros(ctx.now())
    billing = body.get("billing_address")
    customer = CustomerRecord(
        merchant=merchant,
        customer_id=customer_id,
        card_type=card.card_type,
        masked_number=card.masked_number,
        expiration_month=card.expiry.month_text,
        expiration_year=card.expiry.year_text,
        billing_address=(
            parse_address(billing)
            if isinstance(billing, dict) or billing_address is None
            else billing_address
        ),
        shipping_address=parse_address(body.get("shipping_address")),
        email=text(body.get("email")) or email,
        phone=text(body.get("phone")),
        fax=text(body.get("fax")),
        created_at_us=now_us,
        updated_at_us=now_us,
    )
    await ctx.db(ctx.vault.create_customer, customer)
    return _profile_answer(codes.CUSTOMER_CREATED, customer)


@router.post("/customer/create")
async def create_customer(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Create a vault customer under a merchant-chosen ``customer_id`` (160; duplicate: 171)."""
    body = await read_body(request)
    found, card = parse_card(body.get("credit_card"))
    customer_id = _customer_id(body.get("customer_id"), found)
    if found:
        raise errors.ApiError(found)
    assert card is not None
    return await _store_new_customer(ctx, merchant, customer_id, card, body)


@router.post("/customer/create_from_transaction")
async def create_from_transaction(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Create a vault customer from an approved transaction's card (160; unknown id: 58)."""
    body = await read_body(request)
    found: list[int] = []
    customer_id = _customer_id(body.get("customer_id"), found)
    transaction_id = parse_transaction_id(body.get("transaction_id"))
    if transaction_id is None:
        found.append(errors.INVALID_TRANSACTION_ID)
    if found:
        raise errors.ApiError(found)
    assert transaction_id is not None
    source = await ctx.db(ctx.state.get_transaction, merchant, transaction_id)
    if source is None or not source.masked_number:
        raise errors.ApiError([errors.INVALID_TRANSACTION_ID])
    card = MaskedCard.stored(
        source.card_type, source.masked_number, source.expiration_month, source.expiration_year
    )
    return await _store_new_customer(
        ctx,
        merchant,
        customer_id,
        card,
        body,
        billing_address=dict(source.billing_address),
        email=source.email,
    )


@router.post("/customer/update")
async def update_customer(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Update a vault customer: only the fields sent change; ``new_id`` renames it (161)."""
    body = await read_body(request)
    found: list[int] = []
    customer_id = _customer_id(body.get("customer_id"), found)
    new_id = customer_id
    if body.get("new_id") not in (None, ""):
        new_id = _customer_id(body.get("new_id"), found)
    card = None
    if body.get("credit_card") is not None:
        card_errors, card = parse_card(body.get("credit_card"))
        found.extend(card_errors)
    if found:
        raise errors.ApiError(found)
    current = await ctx.db(ctx.vault.get_customer, merchant, customer_id)
    if current is None:
        raise errors.ApiError([errors.CUSTOMER_NOT_FOUND], customer_id=customer_id)
    changes: dict[str, Any] = {"customer_id": new_id, "updated_at_us": to_micros(ctx.now())}
    if card is not None:
        changes.update(
            card_type=card.card_type,
            masked_number=card.masked_number,
            expiration_month=card.expiry.month_text,
            expiration_year=card.expiry.year_text,
        )
    for name in ("billing_address", "shipping_address"):
        if isinstance(body.get(name), dict):
            merged = dict(getattr(current, name))
            merged.update({k: v for k, v in parse_address(body[name]).items() if k in body[name]})
            changes[name] = merged
    for name in ("email", "phone", "fax"):
        if name in body:
            changes[name] = text(body.get(name))
    updated = replace(current, **changes)
    await ctx.db(ctx.vault.replace_customer, customer_id, updated)
    return _profile_answer(codes.CUSTOMER_UPDATED, updated)


@router.post("/customer/delete")
async def delete_customer(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Delete a vault customer and its recurrences (162; unknown: 30)."""
    body = await read_body(request)
    found: list[int] = []
    customer_id = _customer_id(body.get("customer_id"), found)
    if found:
        raise errors.ApiError(found)
    current = await ctx.db(ctx.vault.get_customer, merchant, customer_id)
    await ctx.db(ctx.vault.delete_customer, merchant, customer_id)
    assert current is not None
    return PayTraceJSONResponse(
        {
            "success": True,
            "response_code": codes.CUSTOMER_DELETED,
            "status_message": codes.STATUS[codes.CUSTOMER_DELETED].format(
                customer_id=_label(current)
            ),
            "customer_id": customer_id,
        }
    )


@router.post("/customer/export")
async def export_customers(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Export every vault customer, or the one named by ``customer_id`` (unknown: 30)."""
    body = await read_body(request)
    customer_id = text(body.get("customer_id")).strip()
    customers = await ctx.db(ctx.vault.customers, merchant, customer_id)
    if customer_id and not customers:
        raise errors.ApiError([errors.CUSTOMER_NOT_FOUND], customer_id=customer_id)
    return completed(customers=[render_customer(c) for c in customers])


def render_recurrence(recurrence: RecurrenceRecord) -> dict[str, object]:
    """Render a recurrence as the recurrence endpoints answer it."""
    return {
        "id": recurrence.recurrence_id,
        "customer_id": recurrence.customer_id,
        "amount": recurrence.amount,
        "start_date": recurrence.start_date,
        "frequency": recurrence.frequency,
        "total_count": recurrence.total_count,
        "description": recurrence.description,
    }


@router.post("/recurrence/create")
async def create_recurrence(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Create a recurring payment on a vault customer."""
    body = await read_body(request)
    found: list[int] = []
    customer_id = _customer_id(body.get("customer_id"), found)
    raw = body.get("recurrence")
    spec: dict[str, object] = raw if isinstance(raw, dict) else {}
    amount = parse_amount(spec.get("amount"))
    start = parse_us_date(spec.get("start_date"))
    frequency = parse_transaction_id(spec.get("frequency"))
    raw_count = spec.get("total_count", 0)
    total = 0 if raw_count in (0, "0", None, "") else parse_transaction_id(raw_count)
    if amount is None or start is None or frequency is None or total is None:
        found.append(errors.INVALID_RECURRENCE)
    if found:
        raise errors.ApiError(found)
    assert amount is not None and start is not None and frequency is not None
    record = RecurrenceRecord(
        merchant=merchant,
        customer_id=customer_id,
        amount=amount,
        start_date=start.strftime("%m/%d/%Y"),
        frequency=frequency,
        total_count=total or 0,
        description=text(spec.get("description")),
        created_at_us=to_micros(ctx.now()),
    )
    stored = await ctx.db(ctx.vault.create_recurrence, record)
    return completed(
        "The recurring payment was successfully created.", recurrence=render_recurrence(stored)
    )


@router.post("/recurrence/delete")
async def delete_recurrence(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Delete a recurrence given as ``recurrence{id}`` (or ``recurrence_id``)."""
    body = await read_body(request)
    raw = body.get("recurrence")
    spec: dict[str, object] = raw if isinstance(raw, dict) else {}
    recurrence_id = parse_transaction_id(spec.get("id", body.get("recurrence_id")))
    if recurrence_id is None:
        raise errors.ApiError([errors.RECURRENCE_NOT_FOUND])
    await ctx.db(ctx.vault.delete_recurrence, merchant, recurrence_id)
    return completed(
        "The recurring payment was successfully deleted.", recurrence={"id": recurrence_id}
    )
