"""``/v1/batches/*``: settled batch summaries and a batch's transactions."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from connectors.paytrace.simulator import errors
from connectors.paytrace.simulator.auth import Merchant, require_merchant
from connectors.paytrace.simulator.bodies import parse_transaction_id, read_body, require_id
from connectors.paytrace.simulator.clock import (
    format_local,
    from_micros,
    local_day_bounds,
    to_micros,
)
from connectors.paytrace.simulator.context import Ctx
from connectors.paytrace.simulator.exports import render_record
from connectors.paytrace.simulator.jsonio import completed
from connectors.paytrace.simulator.state import BatchSummary
from connectors.paytrace.simulator.transaction_exports import parse_date_range

router = APIRouter(prefix="/v1/batches", dependencies=[Depends(require_merchant)])


def render_batch(batch: BatchSummary, tz: ZoneInfo) -> dict[str, object]:
    """Render a batch summary (field names follow the legacy BATCHRECORD, in snake case)."""
    return {
        "number": batch.batch_number,
        "settled": format_local(from_micros(batch.settled_at_us), tz),
        "transaction_count": batch.transaction_count,
        "net_amount": batch.net_amount,
        "sales_count": batch.sales_count,
        "sales_amount": batch.sales_amount,
        "refund_count": batch.refund_count,
        "refund_amount": batch.refund_amount,
    }


@router.post("/export_one")
async def export_one(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Summarize one batch by ``batch_number``, or the latest settled one (none: error 90)."""
    body = await read_body(request)
    raw = body.get("batch_number")
    number = None if raw in (None, "") else parse_transaction_id(raw)
    if raw not in (None, "") and number is None:
        raise errors.ApiError([errors.INVALID_BATCH_NUMBER])
    batch = await ctx.db(ctx.state.batch, merchant, number)
    if batch is None:
        raise errors.ApiError([errors.INVALID_BATCH_NUMBER])
    return completed(batch=render_batch(batch, ctx.tz))


@router.post("/export")
async def export_batches(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """List the batches settled on local dates ``start_date``..``end_date``."""
    body = await read_body(request)
    found: list[int] = []
    first, last = parse_date_range(body, found)
    if found:
        raise errors.ApiError(found)
    assert first is not None and last is not None
    start, end = local_day_bounds(first, last, ctx.tz)
    batches = await ctx.db(ctx.state.batches_between, merchant, to_micros(start), to_micros(end))
    return completed(batches=[render_batch(b, ctx.tz) for b in batches])


@router.post("/transaction_list")
async def transaction_list(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """List the transactions settled in ``batch_number`` (unknown batch: error 90)."""
    body = await read_body(request)
    number = require_id(body, "batch_number", errors.INVALID_BATCH_NUMBER)
    batch = await ctx.db(ctx.state.batch, merchant, number)
    if batch is None:
        raise errors.ApiError([errors.INVALID_BATCH_NUMBER])
    records = await ctx.db(ctx.state.batch_transactions, merchant, number)
    return completed(
        batch=render_batch(batch, ctx.tz), transactions=[render_record(r, ctx.tz) for r in records]
    )
