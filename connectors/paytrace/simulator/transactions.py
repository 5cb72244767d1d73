"""``/v1/transactions/*`` routes that move money: sales, authorizations, capture, void, refunds.

The exports live in :mod:`transaction_exports`; settlement rules in :mod:`settlement`.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from connectors.paytrace.simulator import codes, errors
from connectors.paytrace.simulator.auth import Merchant, require_merchant
from connectors.paytrace.simulator.bodies import optional_amount, read_body, require_id
from connectors.paytrace.simulator.clock import to_micros
from connectors.paytrace.simulator.context import Ctx, SimContext, client_ip
from connectors.paytrace.simulator.jsonio import PayTraceJSONResponse, completed
from connectors.paytrace.simulator.sales import (
    MaskedCard,
    common_codes,
    parse_address,
    parse_card,
    parse_customer_sale,
    parse_sale,
    run_sale,
    sale_response,
    text,
)
from connectors.paytrace.simulator.settlement import settle_now
from connectors.paytrace.simulator.state import TransactionRecord
from connectors.paytrace.simulator.vault_state import CustomerRecord

router = APIRouter(prefix="/v1/transactions", dependencies=[Depends(require_merchant)])


def _approved_or_declined(record: TransactionRecord, *, vault: bool = False) -> Response:
    """200 for an approval, 400 for a decline; vault charges carry no masked number."""
    status = 200 if record.response_code == codes.APPROVED else 400
    body = sale_response(record)
    if vault:
        body.pop("masked_card_number")
    return PayTraceJSONResponse(body, status_code=status)


async def _customer(ctx: SimContext, merchant: str, body: dict[str, object]) -> CustomerRecord:
    customer_id = text(body.get("customer_id"))
    customer = await ctx.db(ctx.vault.get_customer, merchant, customer_id) if customer_id else None
    if customer is None:
        raise errors.ApiError([errors.CUSTOMER_NOT_FOUND], customer_id=customer_id)
    return customer


@router.post("/sale/keyed")
async def sale_keyed(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Run a keyed card sale: 200 with the approval, 400 with a decline (102) or errors (1)."""
    sale = parse_sale(await read_body(request))
    record = await run_sale(ctx, merchant, sale, through="API", from_ip=client_ip(request))
    return _approved_or_declined(record)


@router.post("/sale/by_customer")
async def sale_by_customer(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Charge a vault customer's stored card; the response has no masked number, as PayTrace's."""
    body = await read_body(request)
    sale = parse_customer_sale(body, await _customer(ctx, merchant, body))
    record = await run_sale(ctx, merchant, sale, through="API", from_ip=client_ip(request))
    return _approved_or_declined(record, vault=True)


@router.post("/authorization/keyed")
async def authorization_keyed(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Authorize a keyed card; the authorization waits for a capture and never settles alone."""
    sale = parse_sale(await read_body(request))
    record = await run_sale(
        ctx,
        merchant,
        sale,
        through="API",
        from_ip=client_ip(request),
        transaction_type="AUTHORIZATION",
    )
    return _approved_or_declined(record)


@router.post("/authorization/by_customer")
async def authorization_by_customer(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Authorize a vault customer's stored card."""
    body = await read_body(request)
    sale = parse_customer_sale(body, await _customer(ctx, merchant, body))
    record = await run_sale(
        ctx,
        merchant,
        sale,
        through="API",
        from_ip=client_ip(request),
        transaction_type="AUTHORIZATION",
    )
    return _approved_or_declined(record, vault=True)


@router.post("/authorization/capture")
async def capture(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Capture an authorization, fully or for a smaller ``amount`` (code 112, same id)."""
    body = await read_body(request)
    transaction_id = require_id(body, "transaction_id", errors.INVALID_TRANSACTION_ID)
    amount = optional_amount(body)
    now_us = to_micros(ctx.now())
    record = await ctx.db(ctx.state.capture, merchant, transaction_id, amount, now_us)
    return PayTraceJSONResponse(
        {
            "success": True,
            "response_code": codes.CAPTURED,
            "status_message": codes.STATUS[codes.CAPTURED],
            "transaction_id": record.transaction_id,
            "external_transaction_id": record.external_transaction_id,
        }
    )


@router.post("/void")
async def void(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Void an unsettled transaction (code 109, same id); a settled one must be refunded."""
    body = await read_body(request)
    transaction_id = require_id(body, "transaction_id", errors.INVALID_TRANSACTION_ID)
    record = await ctx.db(ctx.state.void, merchant, transaction_id)
    return PayTraceJSONResponse(
        {
            "success": True,
            "response_code": codes.VOIDED,
            "status_message": codes.STATUS[codes.VOIDED],
            "transaction_id": record.transaction_id,
        }
    )


def _refund_response(record: TransactionRecord) -> Response:
    return PayTraceJSONResponse(
        {
            "success": True,
            "response_code": codes.REFUNDED,
            "status_message": codes.STATUS[codes.REFUNDED],
            "transaction_id": record.transaction_id,
            "external_transaction_id": record.external_transaction_id,
            "masked_card_number": record.masked_number,
        }
    )


_REFUND_FIELDS: dict[str, Any] = {
    "transaction_type": "REFUND",
    "response_code": codes.REFUNDED,
    "status_message": codes.STATUS[codes.REFUNDED],
    "approval_code": "",
    "approval_message": "",
    "avs_response": "",
    "csc_response": "",
    "tax_amount": Decimal("0.00"),
    "created_through": "API",
}
"""What every refund record carries, whether it refunds a sale or stands alone."""


def refund_of(
    original: TransactionRecord, amount: Decimal, now_us: int, ip: str
) -> TransactionRecord:
    """Build the refund of a settled sale (a new transaction; v1 and v3 both use this)."""
    return replace(
        original,
        **_REFUND_FIELDS,
        amount=amount,
        created_from_ip=ip,
        created_at_us=now_us,
        ready_at_us=now_us,
        settled_at_us=None,
        batch_number=None,
        authorized_amount=None,
        original_transaction_id=original.transaction_id,
        transaction_id=0,
    )


@router.post("/refund/for_transaction")
async def refund_for_transaction(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Refund a settled sale or capture, all that is left or a partial ``amount`` (code 106).

    Unsettled: error 817 (void instead). Refunds of one sale never add up to more than it.
    """
    body = await read_body(request)
    transaction_id = require_id(body, "transaction_id", errors.INVALID_TRANSACTION_ID)
    amount = optional_amount(body)
    now_us, ip = to_micros(ctx.now()), client_ip(request)
    record = await ctx.db(
        ctx.state.refund_transaction,
        merchant,
        transaction_id,
        amount,
        lambda original, wanted: refund_of(original, wanted, now_us, ip),
    )
    return _refund_response(record)


def _standalone_refund(
    merchant: str,
    body: dict[str, object],
    amount: Decimal,
    card: MaskedCard,
    *,
    now_us: int,
    ip: str,
    customer_id: str = "",
    billing_address: dict[str, str] | None = None,
) -> TransactionRecord:
    return TransactionRecord(
        merchant=merchant,
        **_REFUND_FIELDS,
        amount=amount,
        card_type=card.card_type,
        masked_number=card.masked_number,
        expiration_month=card.expiry.month_text,
        expiration_year=card.expiry.year_text,
        invoice_id=text(body.get("invoice_id")),
        customer_reference_id=text(body.get("customer_reference_id")),
        customer_id=customer_id,
        description=text(body.get("description")),
        email=text(body.get("email")),
        billing_address=(
            billing_address
            if billing_address is not None
            else parse_address(body.get("billing_address"))
        ),
        shipping_address=parse_address(body.get("shipping_address")),
        created_by=merchant,
        created_from_ip=ip,
        created_at_us=now_us,
    )


def _refund_amount(body: dict[str, object], found: list[int]) -> Decimal | None:
    # A refund carries no tax: its tax_amount is not read, so it is not checked either.
    common, amount, _tax = common_codes({k: v for k, v in body.items() if k != "tax_amount"})
    found.extend(common)
    return amount


@router.post("/refund/keyed")
async def refund_keyed(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Refund to a keyed card with no original transaction (code 106)."""
    body = await read_body(request)
    found, card = parse_card(body.get("credit_card"))
    amount = _refund_amount(body, found)
    if found:
        raise errors.ApiError(found)
    assert card is not None and amount is not None
    record = _standalone_refund(
        merchant, body, amount, card, now_us=to_micros(ctx.now()), ip=client_ip(request)
    )
    return _refund_response(await ctx.db(ctx.state.add_transaction, record))


@router.post("/refund/to_customer")
async def refund_to_customer(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Refund to a vault customer's stored card (code 106)."""
    body = await read_body(request)
    found: list[int] = []
    amount = _refund_amount(body, found)
    if found:
        raise errors.ApiError(found)
    customer = await _customer(ctx, merchant, body)
    assert amount is not None
    card = MaskedCard.stored(
        customer.card_type,
        customer.masked_number,
        customer.expiration_month,
        customer.expiration_year,
    )
    record = _standalone_refund(
        merchant,
        body,
        amount,
        card,
        now_us=to_micros(ctx.now()),
        ip=client_ip(request),
        customer_id=customer.customer_id,
        billing_address=dict(customer.billing_address),
    )
    return _refund_response(await ctx.db(ctx.state.add_transaction, record))


@router.post("/settle")
async def settle(ctx: Ctx, merchant: Merchant) -> Response:
    """Settle the open batch now (PayTrace's sandbox endpoint).

    Returns:
        200 with ``batch_number`` (None when nothing was waiting) and ``transaction_count``.
    """
    number = await settle_now(ctx, merchant)
    summary = None if number is None else await ctx.db(ctx.state.batch, merchant, number)
    return completed(
        batch_number=number,
        transaction_count=0 if summary is None else summary.transaction_count,
    )
