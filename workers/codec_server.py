"""The codec server: ``POST /codec/encode`` and ``POST /codec/decode`` for the Web UI and CLI.

They speak the Temporal codec-server protocol: the body and the answer are
``{"payloads": [<Payload in protobuf JSON>]}``, each payload ``{"metadata": {name: base64},
"data": base64}``. The Web UI calls ``<endpoint>/decode`` to show a history and
``<endpoint>/encode`` for input typed into it. CORS headers go to the configured Web UI origins
only, and only on these paths. A request is served when it carries the codec token
(``Authorization: Bearer <TRACEPOST_CODEC_TOKEN>``) or the session cookie of an ops user allowed
to see decrypted payloads (the Web UI sends it with "Include cross-origin credentials" on).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from workers.settings import Settings

log = logging.getLogger(__name__)

CODEC_PREFIX = "/codec"
MAX_CODEC_BODY_BYTES = 8 * 1024 * 1024
"""Bodies above this are refused (Temporal's own payload limit is 2 MiB a blob)."""
MAX_PAYLOADS = 10_000
ALLOWED_HEADERS = "Content-Type, Authorization, X-Namespace"
ALLOWED_METHODS = "POST, OPTIONS"


class _BadBody(ValueError):
    """A codec request body that is not ``{"payloads": [...]}``."""


def _parse_payloads(body: bytes) -> list[Payload]:
    """The payloads of a codec request body.

    Raises:
        _BadBody: with the reason, naming the offending payload by index.
    """
    try:
        document: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _BadBody(f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise _BadBody("the body is nested too deeply to be codec payloads") from None
    if not isinstance(document, dict) or "payloads" not in document:
        raise _BadBody('the body must be an object {"payloads": [...]}')
    items = document["payloads"]
    if not isinstance(items, list):
        raise _BadBody('"payloads" must be a list')
    if len(items) > MAX_PAYLOADS:
        raise _BadBody(f"at most {MAX_PAYLOADS} payloads a request")
    payloads = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _BadBody(f"payloads[{index}] must be an object with metadata and data")
        try:
            payloads.append(json_format.ParseDict(item, Payload(), ignore_unknown_fields=True))
        except (json_format.ParseError, TypeError, ValueError) as exc:
            reason = str(exc).splitlines()[0][:200]
            raise _BadBody(f"payloads[{index}] is not a Temporal payload: {reason}") from None
    return payloads


def install_codec(
    app: FastAPI,
    settings: Settings,
    codec: PayloadCodec,
    *,
    session_user: Callable[[Request], str | None],
) -> None:
    """Add ``/codec/encode`` and ``/codec/decode`` (and their CORS preflights) to the api.

    Args:
        app: the api application.
        settings: tracepost settings (``codec_token``, ``codec_cors_origins``).
        codec: the payload codec the workers use.
        session_user: the ops user a request is signed in as when that user may see decrypted
            payloads, else None.
    """
    origins = frozenset(origin.rstrip("/") for origin in settings.codec_cors_origins)
    token = settings.codec_token.get_secret_value().strip().encode()

    def cors_headers(request: Request) -> dict[str, str]:
        origin = request.headers.get("origin", "")
        if not origin or origin.rstrip("/") not in origins:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        }

    def bearer_ok(request: Request) -> bool:
        if not token:
            return False
        scheme, _, offered = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(offered.strip().encode(), token)

    def refuse(request: Request, status: int, error: str) -> JSONResponse:
        headers = {**cors_headers(request), "Cache-Control": "no-store"}
        return JSONResponse({"error": error}, status_code=status, headers=headers)

    async def serve(
        request: Request, run: Callable[[Sequence[Payload]], Awaitable[list[Payload]]]
    ) -> Response:
        origin = request.headers.get("origin", "")
        if origin and origin.rstrip("/") not in origins:  # a browser on a page not the Web UI's
            return refuse(request, 403, f"origin {origin[:100]!r} may not call the codec server")
        if not (bearer_ok(request) or session_user(request) is not None):
            return refuse(
                request,
                401,
                "sign in to the ops pages as an operator (and turn on the Web UI's 'Include"
                " cross-origin credentials'), or send Authorization: Bearer <codec token>",
            )
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return refuse(request, 415, "send the payloads as Content-Type: application/json")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_CODEC_BODY_BYTES:
            return refuse(request, 413, f"the body is over {MAX_CODEC_BODY_BYTES} bytes")
        body = await request.body()
        if len(body) > MAX_CODEC_BODY_BYTES:
            return refuse(request, 413, f"the body is over {MAX_CODEC_BODY_BYTES} bytes")
        try:
            payloads = _parse_payloads(body)
        except _BadBody as exc:
            return refuse(request, 422, str(exc))
        try:
            result = await run(payloads)
        except ValueError as exc:  # PayloadDecryptError: unknown key id, altered payload
            log.warning("codec request refused: %s", exc)
            return refuse(request, 422, str(exc))
        answer = {"payloads": [json_format.MessageToDict(p) for p in result]}
        headers = {**cors_headers(request), "Cache-Control": "no-store"}
        return JSONResponse(answer, headers=headers)

    async def encode(request: Request) -> Response:
        """Encrypt payloads (input typed into the Web UI, e.g. a signal's argument)."""
        return await serve(request, codec.encode)

    async def decode(request: Request) -> Response:
        """Decrypt payloads for display."""
        return await serve(request, codec.decode)

    async def preflight(request: Request) -> Response:
        """Answer the browser's CORS preflight: the Web UI's origins only, no credentials."""
        headers = cors_headers(request)
        if not headers:
            return Response(status_code=403)
        return Response(status_code=204, headers=headers)

    for name, handler in (("encode", encode), ("decode", decode)):
        path = f"{CODEC_PREFIX}/{name}"
        app.add_api_route(path, handler, methods=["POST"], include_in_schema=False)
        app.add_api_route(path, preflight, methods=["OPTIONS"], include_in_schema=False)
