"""``/v1/level_three/visa`` and ``/mastercard``: enhanced data on an approved, unsettled sale."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from connectors.paytrace.simulator import codes, errors
from connectors.paytrace.simulator.auth import Merchant, require_merchant
from connectors.paytrace.simulator.bodies import read_body, require_id
from connectors.paytrace.simulator.clock import to_micros
from connectors.paytrace.simulator.context import Ctx
from connectors.paytrace.simulator.jsonio import PayTraceJSONResponse
from connectors.paytrace.wire import dumps

router = APIRouter(prefix="/v1/level_three", dependencies=[Depends(require_merchant)])

_BRANDS = {"visa": "VISA", "mastercard": "MASTERCARD"}


@router.post("/{network}")
async def add_level_three(network: str, request: Request, ctx: Ctx, merchant: Merchant) -> Response:
    """Attach level 3 data (170); only to an approved, unsettled sale of that network (815)."""
    brand = _BRANDS.get(network)
    if brand is None:
        return PayTraceJSONResponse({"error": "not_found"}, status_code=404)
    body = await read_body(request)
    transaction_id = require_id(body, "transaction_id", errors.INVALID_TRANSACTION_ID)
    raw_items = body.get("line_items")
    items = raw_items if isinstance(raw_items, list) else []
    await ctx.db(
        ctx.state.add_level_three,
        merchant,
        transaction_id,
        brand,
        dumps(body),
        to_micros(ctx.now()),
    )
    message = codes.STATUS[codes.LEVEL3_ADDED].format(tid=transaction_id)
    return PayTraceJSONResponse(
        {
            "success": True,
            "response_code": codes.LEVEL3_ADDED,
            "status_message": f"{message} {len(items)} line item records were created.",
            "transaction_id": transaction_id,
        }
    )
