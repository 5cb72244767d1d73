"""``/v1/transactions/export/*``: one transaction by id, or a merchant-local date range."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from connectors.paytrace.simulator import errors
from connectors.paytrace.simulator.auth import Merchant, require_merchant
from connectors.paytrace.simulator.bodies import parse_transaction_id, read_body
from connectors.paytrace.simulator.clock import local_day_bounds, parse_us_date, to_micros
from connectors.paytrace.simulator.context import Ctx
from connectors.paytrace.simulator.exports import ExportFilter, render_record
from connectors.paytrace.simulator.jsonio import completed

router = APIRouter(prefix="/v1/transactions/export", dependencies=[Depends(require_merchant)])


@router.post("/by_id")
async def export_by_id(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Export one of the merchant's transactions: 200 with it, or 400 with error 58."""
    body = await read_body(request)
    transaction_id = parse_transaction_id(body.get("transaction_id"))
    record = (
        None
        if transaction_id is None
        else await ctx.db(ctx.state.get_transaction, merchant, transaction_id)
    )
    if record is None:
        raise errors.ApiError([errors.INVALID_TRANSACTION_ID])
    return completed(transactions=[render_record(record, ctx.tz)])


def parse_date_range(body: dict[str, object], found: list[int]) -> tuple[date | None, date | None]:
    """Read ``start_date``/``end_date`` (MM/DD/YYYY), adding 70, 71 or 72 to ``found``."""
    first, last = parse_us_date(body.get("start_date")), parse_us_date(body.get("end_date"))
    if first is None:
        found.append(errors.INVALID_START_DATE)
    if last is None:
        found.append(errors.INVALID_END_DATE)
    if first is not None and last is not None and last < first:
        found.append(errors.INVALID_DATE_RANGE)
    return first, last


@router.post("/by_date_range")
async def export_by_date_range(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Export the merchant's transactions created on local dates ``start_date``..``end_date``.

    Returns:
        200 with the matching records (possibly none), or 400 with date or id errors.
    """
    body = await read_body(request)
    found: list[int] = []
    first, last = parse_date_range(body, found)
    raw_id = body.get("transaction_id")
    transaction_id = None if raw_id in (None, "") else parse_transaction_id(raw_id)
    if raw_id not in (None, "") and transaction_id is None:
        found.append(errors.INVALID_TRANSACTION_ID)
    if found:
        raise errors.ApiError(found)
    assert first is not None and last is not None
    start, end = local_day_bounds(first, last, ctx.tz)
    candidates = await ctx.db(
        ctx.state.transactions_between, merchant, to_micros(start), to_micros(end)
    )
    wanted = ExportFilter.from_payload(body, transaction_id)
    records = [render_record(r, ctx.tz) for r in candidates if wanted.matches(r)]
    return completed(transactions=records)
