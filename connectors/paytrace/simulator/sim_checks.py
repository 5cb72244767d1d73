"""``/_sim/checks/{id}/return``: the bank returns an ACH debit (test surface, not PayTrace's)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from connectors.paytrace.simulator.checks import render_check
from connectors.paytrace.simulator.clock import to_micros
from connectors.paytrace.simulator.context import Ctx
from connectors.paytrace.simulator.errors import ApiError
from connectors.paytrace.simulator.jsonio import PayTraceJSONResponse

router = APIRouter(prefix="/_sim/checks")


class AchReturn(BaseModel):
    """The return: the merchant (API user), an ACH return code and its reason."""

    merchant: str = "demo"
    ach_code: int = Field(default=1, ge=1, le=99)
    ach_message: str = Field(default="R01 Insufficient Funds", max_length=100)


@router.post("/{check_id}/return")
async def return_check(check_id: int, ret: AchReturn, ctx: Ctx) -> Response:
    """Mark a check sale returned: it becomes code 125 with the return code and reason.

    Returns:
        200 with the check as exported, or 404 when the merchant has no such check sale.
    """
    try:
        record = await ctx.db(
            ctx.checks.mark_returned,
            ret.merchant,
            check_id,
            ret.ach_code,
            ret.ach_message,
            to_micros(ctx.now()),
        )
    except ApiError:
        return PayTraceJSONResponse({"error": "no such check sale"}, status_code=404)
    return PayTraceJSONResponse(render_check(record, ctx))
