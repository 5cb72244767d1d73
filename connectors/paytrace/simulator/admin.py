"""The simulator's own test surface under ``/_sim/``, outside PayTrace's paths.

Later fault injection (forced declines, latency, 5xx) belongs here too.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from connectors.paytrace.simulator.context import Ctx
from connectors.paytrace.simulator.jsonio import PayTraceJSONResponse

router = APIRouter(prefix="/_sim")


@router.get("/healthz")
async def healthz() -> Response:
    """Report that the simulator is up."""
    return PayTraceJSONResponse({"status": "ok"})


@router.post("/tokens/expire")
async def expire_tokens(ctx: Ctx) -> Response:
    """Expire every issued access token now, so clients must authenticate again.

    Returns:
        ``{"expired": <how many live tokens were expired>}``.
    """
    expired = await ctx.db(ctx.state.expire_tokens, int(ctx.now().timestamp()))
    return PayTraceJSONResponse({"expired": expired})


@router.get("/silent-posts")
async def silent_posts(ctx: Ctx) -> Response:
    """List recent Silent Post deliveries (transaction ids and outcomes only).

    Returns:
        ``{"silent_post_url_set": bool, "deliveries": [...]}``.
    """
    return PayTraceJSONResponse(
        {"silent_post_url_set": ctx.poster.enabled, "deliveries": ctx.poster.deliveries()}
    )
