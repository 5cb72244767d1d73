"""The simulator's own test surface under ``/_sim/``, outside PayTrace's paths.

Fault injection (``/_sim/faults``) adds and removes :class:`~.faults.FaultRule` s at run time;
faults never apply to ``/_sim`` paths themselves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.responses import JSONResponse, Response

from connectors.paytrace.simulator.context import Ctx
from connectors.paytrace.simulator.faults import FaultInjector, FaultRule
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


def get_faults(request: Request) -> FaultInjector:
    """Return the fault injector of the app serving this request."""
    faults: FaultInjector = request.app.state.faults
    return faults


Faults = Annotated[FaultInjector, Depends(get_faults)]


def _invalid(reasons: list[str]) -> Response:
    return JSONResponse({"detail": reasons}, status_code=422)


@router.post("/faults", status_code=201)
async def add_fault(request: Request, faults: Faults) -> Response:
    """Activate a fault rule, tried after the rules already active.

    The body is a :class:`FaultRule` without ``id``, e.g.
    ``{"kind": "http_error", "path": "/v1/transactions/sale", "status": 502, "count": 2}``.

    Returns:
        201 ``{"id": "f1", "rule": {...}}``; 422 ``{"detail": ["<field>: <reason>", ...]}`` for a
        body that is not a valid rule.
    """
    try:
        rule = FaultRule.model_validate_json(await request.body() or b"{}")
    except ValidationError as exc:
        return _invalid(
            [
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e["loc"] else e["msg"]
                for e in exc.errors(include_url=False, include_input=False)
            ]
        )
    if rule.id is not None:
        return _invalid(["id: assigned by the simulator; leave it out"])
    added = faults.add(rule)
    return JSONResponse({"id": added.id, "rule": added.model_dump(mode="json")}, status_code=201)


@router.get("/faults")
async def list_faults(faults: Faults) -> Response:
    """List the active fault rules in the order they are tried.

    Returns:
        ``{"seed": <fault_seed or null>, "faults": [{...rule, "remaining": n|null,
        "fired": n}]}``; ``remaining`` is the count left (null: no count limit), ``fired`` how
        many requests the rule has hit so far. Rules whose count ran out are gone.
    """
    return JSONResponse({"seed": faults.seed, "faults": faults.rules()})


@router.delete("/faults")
async def clear_faults(faults: Faults) -> Response:
    """Deactivate every fault rule and restart the rate sequence from ``fault_seed``.

    Returns:
        ``{"cleared": <how many rules were active>}``.
    """
    return JSONResponse({"cleared": faults.clear()})


@router.delete("/faults/{fault_id}")
async def delete_fault(fault_id: str, faults: Faults) -> Response:
    """Deactivate one fault rule.

    Returns:
        ``{"deleted": "<id>"}``, or 404 when no active rule has that id.
    """
    if not faults.remove(fault_id):
        return JSONResponse({"detail": f"no active fault rule {fault_id!r}"}, status_code=404)
    return JSONResponse({"deleted": fault_id})
