"""``/v1/checks/*``: ACH sales by account, refunds, voids and exports.

The account number is masked to its last four digits before anything is stored. Amounts ending
in ``.51`` are not processed (125), like the card declines. ``/_sim/checks/{id}/return`` (in
:mod:`sim_checks`) simulates the bank returning a debit after the fact.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from connectors.paytrace.simulator import codes, errors
from connectors.paytrace.simulator.auth import Merchant, require_merchant
from connectors.paytrace.simulator.bodies import (
    optional_amount,
    parse_transaction_id,
    read_body,
    require_id,
)
from connectors.paytrace.simulator.check_state import CheckRecord
from connectors.paytrace.simulator.clock import (
    format_local,
    from_micros,
    local_day_bounds,
    to_micros,
)
from connectors.paytrace.simulator.context import Ctx, SimContext
from connectors.paytrace.simulator.jsonio import PayTraceJSONResponse, completed
from connectors.paytrace.simulator.sales import parse_address, parse_amount, text
from connectors.paytrace.simulator.transaction_exports import parse_date_range

router = APIRouter(prefix="/v1/checks", dependencies=[Depends(require_merchant)])

NOT_PROCESSED_CENTS = 51
_ABA_WEIGHTS = (3, 7, 1, 3, 7, 1, 3, 7, 1)


def valid_routing_number(value: str) -> bool:
    """Check an ABA routing number: nine digits with a good checksum."""
    if len(value) != 9 or not value.isascii() or not value.isdigit():
        return False
    return sum(int(d) * w for d, w in zip(value, _ABA_WEIGHTS, strict=True)) % 10 == 0


def mask_account(value: str) -> str:
    """Mask a bank account number to its last four digits."""
    return "x" * (len(value) - 4) + value[-4:]


def render_check(record: CheckRecord, ctx: SimContext) -> dict[str, object]:
    """Render a check as the check exports list it (masked account only)."""
    settled = record.settled_at_us
    return {
        "check_transaction_id": record.check_transaction_id,
        "transaction_type": record.check_type,
        "status_code": record.response_code,
        "status_message": record.status_message,
        "ach_code": record.ach_code,
        "ach_message": record.ach_message,
        "amount": record.amount,
        "check": {
            "masked_account_number": record.masked_account,
            "routing_number": record.routing_number,
        },
        "customer_id": record.customer_id,
        "invoice_id": record.invoice_id,
        "description": record.description,
        "email": record.email,
        "billing_address": dict(record.billing_address),
        "created": {"at": format_local(from_micros(record.created_at_us), ctx.tz)},
        "settled": "" if settled is None else format_local(from_micros(settled), ctx.tz),
        "original_check_transaction_id": record.original_check_id,
    }


def _answer(record: CheckRecord) -> Response:
    ok = record.response_code != codes.CHECK_DECLINED
    return PayTraceJSONResponse(
        {
            "success": ok,
            "response_code": record.response_code,
            "status_message": record.status_message,
            "check_transaction_id": record.check_transaction_id,
            "ach_code": record.ach_code,
            "ach_message": record.ach_message,
        },
        status_code=200 if ok else 400,
    )


@router.post("/sale/by_account")
async def sale_by_account(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Debit a bank account (120; not processed: 125 with ``ach_code``/``ach_message``)."""
    return await _debit(request, ctx, merchant, "SALE")


@router.post("/hold/by_account")
async def hold_by_account(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Hold a debit until ``manage/fund`` (120); a held check does not settle."""
    return await _debit(request, ctx, merchant, "HOLD")


@router.post("/manage/fund")
async def fund_check(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Fund a held check, fully or for a smaller ``amount`` (124; not a held check: 80)."""
    body = await read_body(request)
    check_id = require_id(body, "check_transaction_id", errors.CHECK_NOT_FOUND)
    record = await ctx.db(
        ctx.checks.fund, merchant, check_id, optional_amount(body), to_micros(ctx.now())
    )
    return _answer(
        replace(
            record,
            response_code=codes.CHECK_MANAGED,
            status_message=codes.STATUS[codes.CHECK_MANAGED],
        )
    )


async def _debit(request: Request, ctx: SimContext, merchant: str, check_type: str) -> Response:
    body = await read_body(request)
    raw = body.get("check")
    check: dict[str, object] = raw if isinstance(raw, dict) else {}
    account, routing = (
        text(check.get("account_number")).strip(),
        text(check.get("routing_number")).strip(),
    )
    found: list[int] = []
    if not (account.isascii() and account.isdigit() and 4 <= len(account) <= 17):
        found.append(errors.INVALID_CHECK_ACCOUNT)
    if not valid_routing_number(routing):
        found.append(errors.INVALID_ROUTING_NUMBER)
    amount = parse_amount(body.get("amount"))
    if amount is None:
        found.append(errors.INVALID_AMOUNT)
    if len(text(body.get("invoice_id"))) > 50:
        found.append(errors.INVALID_INVOICE_ID)
    if found:
        raise errors.ApiError(found)
    assert amount is not None
    processed = int(amount * 100) % 100 != NOT_PROCESSED_CENTS
    code = codes.CHECK_PROCESSED if processed else codes.CHECK_DECLINED
    record = CheckRecord(
        merchant=merchant,
        check_type=check_type,
        response_code=code,
        status_message=codes.STATUS[code],
        ach_code=0,
        ach_message="",
        amount=amount,
        masked_account=mask_account(account),
        routing_number=routing,
        customer_id="",
        invoice_id=text(body.get("invoice_id")),
        description=text(body.get("description")),
        email=text(body.get("email")),
        billing_address=parse_address(body.get("billing_address")),
        created_at_us=to_micros(ctx.now()),
    )
    return _answer(await ctx.db(ctx.checks.add, record))


@router.post("/refund/by_transaction")
async def refund_by_transaction(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Refund a settled check sale, in full or in part (122, a new check id)."""
    body = await read_body(request)
    check_id = require_id(body, "check_transaction_id", errors.CHECK_NOT_FOUND)
    amount = optional_amount(body)
    now_us = to_micros(ctx.now())

    def make(original: CheckRecord, wanted: Decimal) -> CheckRecord:
        return replace(
            original,
            check_type="REFUND",
            response_code=codes.CHECK_REFUNDED,
            status_message=codes.STATUS[codes.CHECK_REFUNDED],
            amount=wanted,
            created_at_us=now_us,
            ready_at_us=now_us,
            settled_at_us=None,
            original_check_id=original.check_transaction_id,
            check_transaction_id=0,
        )

    record = await ctx.db(ctx.checks.refund, merchant, check_id, amount, make)
    return _answer(record)


@router.post("/manage/void")
async def void_check(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Void an unsettled check (124; settled, voided or unknown: 80)."""
    body = await read_body(request)
    check_id = require_id(body, "check_transaction_id", errors.CHECK_NOT_FOUND)
    return _answer(await ctx.db(ctx.checks.void, merchant, check_id))


@router.post("/export/by_id")
async def export_check(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Export one check (simulator assumption: see docs/paytrace.md)."""
    body = await read_body(request)
    check_id = parse_transaction_id(body.get("check_transaction_id"))
    record = None if check_id is None else await ctx.db(ctx.checks.get, merchant, check_id)
    if record is None:
        raise errors.ApiError([errors.CHECK_NOT_FOUND])
    return _export([render_check(record, ctx)])


@router.post("/export/by_date_range")
async def export_checks(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Export the checks created on local dates ``start_date``..``end_date``."""
    body = await read_body(request)
    found: list[int] = []
    first, last = parse_date_range(body, found)
    if found:
        raise errors.ApiError(found)
    assert first is not None and last is not None
    start, end = local_day_bounds(first, last, ctx.tz)
    records = await ctx.db(ctx.checks.between, merchant, to_micros(start), to_micros(end))
    return _export([render_check(r, ctx) for r in records])


def _export(records: list[dict[str, object]]) -> Response:
    return completed(checks=records)
