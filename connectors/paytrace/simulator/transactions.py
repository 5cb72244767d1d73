"""``/v1/transactions/*`` routes: keyed sale and the transaction exports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from connectors.paytrace.simulator import errors
from connectors.paytrace.simulator.auth import Merchant, require_merchant
from connectors.paytrace.simulator.clock import local_day_bounds, parse_us_date, to_micros
from connectors.paytrace.simulator.context import Ctx, client_ip
from connectors.paytrace.simulator.exports import ExportFilter, export_envelope, render_record
from connectors.paytrace.simulator.jsonio import JsonBodyError, PayTraceJSONResponse, loads_object
from connectors.paytrace.simulator.sales import APPROVED, parse_sale, run_sale, sale_response

router = APIRouter(prefix="/v1/transactions", dependencies=[Depends(require_merchant)])


async def read_body(request: Request) -> dict[str, Any]:
    """Read a JSON object body with Decimal numbers.

    Args:
        request: the incoming request.

    Returns:
        The body.

    Raises:
        ApiError: code 1 when the body is not a JSON object.
    """
    try:
        return loads_object(await request.body())
    except JsonBodyError as exc:
        raise errors.ApiError([errors.INVALID_REQUEST_BODY]) from exc


def parse_transaction_id(value: object) -> int | None:
    """Read a transaction id given as a JSON integer or digit string; None if malformed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip()) or None
    return None


@router.post("/sale/keyed")
async def sale_keyed(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Run a keyed card sale.

    Returns:
        200 with the approval, 400 with a decline (code 102) or validation errors (code 1).
    """
    sale = parse_sale(await read_body(request))
    record = await run_sale(ctx, merchant, sale, through="API", from_ip=client_ip(request))
    status = 200 if record.response_code == APPROVED else 400
    return PayTraceJSONResponse(sale_response(record), status_code=status)


@router.post("/export/by_id")
async def export_by_id(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Export one of the merchant's transactions.

    Returns:
        200 with ``transactions`` holding the record, or 400 with error 58.
    """
    body = await read_body(request)
    transaction_id = parse_transaction_id(body.get("transaction_id"))
    record = (
        None
        if transaction_id is None
        else await ctx.db(ctx.state.get_transaction, merchant, transaction_id)
    )
    if record is None:
        raise errors.ApiError([errors.INVALID_TRANSACTION_ID])
    return PayTraceJSONResponse(export_envelope([render_record(record, ctx.tz)]))


@router.post("/export/by_date_range")
async def export_by_date_range(request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Export the merchant's transactions created on local dates ``start_date``..``end_date``.

    Returns:
        200 with the matching records (possibly none), or 400 with date or id errors.
    """
    body = await read_body(request)
    first, last = parse_us_date(body.get("start_date")), parse_us_date(body.get("end_date"))
    codes: list[int] = []
    if first is None:
        codes.append(errors.INVALID_START_DATE)
    if last is None:
        codes.append(errors.INVALID_END_DATE)
    raw_id = body.get("transaction_id")
    transaction_id = None if raw_id in (None, "") else parse_transaction_id(raw_id)
    if raw_id not in (None, "") and transaction_id is None:
        codes.append(errors.INVALID_TRANSACTION_ID)
    if first is not None and last is not None and last < first:
        codes.append(errors.INVALID_DATE_RANGE)
    if codes:
        raise errors.ApiError(codes)
    assert first is not None and last is not None
    start, end = local_day_bounds(first, last, ctx.tz)
    candidates = await ctx.db(
        ctx.state.transactions_between, merchant, to_micros(start), to_micros(end)
    )
    wanted = ExportFilter.from_payload(body, transaction_id)
    records = [render_record(r, ctx.tz) for r in candidates if wanted.matches(r)]
    return PayTraceJSONResponse(export_envelope(records))
