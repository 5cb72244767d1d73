"""OAuth password-grant tokens (``POST /oauth/token``) and the bearer check on ``/v1``."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from connectors.paytrace.simulator.context import Ctx
from connectors.paytrace.simulator.jsonio import JsonBodyError, PayTraceJSONResponse, loads_object
from connectors.paytrace.simulator.settlement import settle_due

router = APIRouter()

INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)
UNSUPPORTED_GRANT_TYPE = (
    "The authorization grant type is not supported by the authorization server."
)
INVALID_REQUEST = (
    "The request is missing a required parameter, includes an unsupported parameter value, "
    "or is otherwise malformed."
)
INVALID_BEARER_DESCRIPTION = (
    "The access token provided is expired, revoked, malformed, or invalid for other reasons."
)
_WWW_AUTHENTICATE = (
    f'Bearer realm="PayTrace", error="invalid_token", '
    f'error_description="{INVALID_BEARER_DESCRIPTION}"'
)
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class InvalidTokenError(Exception):
    """The request carried no usable bearer token; answered with HTTP 401 ``invalid_token``."""


def invalid_token_response() -> Response:
    """Build PayTrace's 401 answer for a missing, unknown or expired token."""
    return PayTraceJSONResponse(
        {"error": "invalid_token", "error_description": INVALID_BEARER_DESCRIPTION},
        status_code=401,
        headers={"WWW-Authenticate": _WWW_AUTHENTICATE},
    )


def hash_token(token: str) -> str:
    """Return the sha256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def require_merchant(request: Request, ctx: Ctx) -> str:
    """Resolve the bearer token to its API user, or refuse the request.

    Args:
        request: the incoming request.
        ctx: the simulator context.

    Returns:
        The API user (merchant) the token was issued to, after any batch whose daily cut-off
        has passed was settled.

    Raises:
        InvalidTokenError: when the token is missing, unknown or expired.
    """
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidTokenError
    now = int(ctx.now().timestamp())
    owner = await ctx.db(ctx.state.token_owner, hash_token(token), now)
    if owner is None or owner not in ctx.config.merchants:
        raise InvalidTokenError
    await settle_due(ctx, owner)
    return owner


Merchant = Annotated[str, Depends(require_merchant)]


def _oauth_error(error: str, description: str) -> Response:
    return PayTraceJSONResponse(
        {"error": error, "error_description": description}, status_code=400, headers=_NO_STORE
    )


async def _token_params(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body = loads_object(await request.body())
        except JsonBodyError:
            return {}
        return {key: value for key, value in body.items() if isinstance(value, str)}
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


@router.post("/oauth/token")
async def issue_token(request: Request, ctx: Ctx) -> Response:
    """Issue a bearer token for ``grant_type=password``.

    Args:
        request: form-urlencoded ``grant_type``, ``username``, ``password`` (JSON also read).
        ctx: the simulator context.

    Returns:
        200 with the token, or 400 with an OAuth error.
    """
    params = await _token_params(request)
    grant_type = params.get("grant_type", "")
    if not grant_type:
        return _oauth_error("invalid_request", INVALID_REQUEST)
    if grant_type != "password":
        return _oauth_error("unsupported_grant_type", UNSUPPORTED_GRANT_TYPE)
    username, password = params.get("username", ""), params.get("password", "")
    expected = ctx.config.merchants.get(username)
    if expected is None or not hmac.compare_digest(
        expected.encode("utf-8"), password.encode("utf-8")
    ):
        return _oauth_error("invalid_grant", INVALID_GRANT)
    token = secrets.token_urlsafe(32)
    created_at = int(ctx.now().timestamp())
    ttl = ctx.config.token_ttl_seconds
    await ctx.db(ctx.state.save_token, hash_token(token), username, created_at, created_at + ttl)
    return PayTraceJSONResponse(
        {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": ttl,
            "created_at": created_at,
        },
        headers=_NO_STORE,
    )


@router.get("/v1/ping")
async def ping() -> Response:
    """Answer PayTrace's unauthenticated health check."""
    return PayTraceJSONResponse({"status": "success"})
