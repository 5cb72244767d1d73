"""The api process: health probes and the webhook starter (PayTrace Silent Post).

PayTrace signs nothing, so a Silent Post is trusted for one thing only: it names a transaction id.
The PaymentPosting workflow re-reads that transaction from the PayTrace API before acting. The
secret path segment keeps strangers from making tracepost read transactions on their behalf.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from temporalio.client import Client
from temporalio.service import RPCError

from activities.starter import payment_workflow_id, start_payment_posting
from connectors.store import Store
from domain.redaction import contains_card_number
from workers.settings import Settings
from workers.temporal_client import connect

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
MAX_TRANSACTION_ID = 2**63
_TRANSACTION_ID = re.compile(r"[0-9]{1,19}")


class TemporalUnavailableError(Exception):
    """Temporal could not be reached; the sender should retry later."""


class TemporalGateway:
    """A lazily connected Temporal client that reconnects after failures.

    Args:
        settings: tracepost settings.
        client: an already connected client (tests), else one is connected on first use.
    """

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        """The connected client; raises TemporalUnavailableError when Temporal is down."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(connect(self._settings), timeout=5)
                except (RuntimeError, OSError, TimeoutError) as exc:
                    raise TemporalUnavailableError(str(exc)) from exc
            return self._client


def _problem(status: int, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


def create_api(settings: Settings, store: Store, gateway: TemporalGateway) -> FastAPI:
    """Build the api application.

    Args:
        settings: tracepost settings.
        store: the store (readiness check).
        gateway: access to Temporal.

    Returns:
        The FastAPI app.
    """
    app = FastAPI(title="tracepost api", version="0.1.0")
    secret = settings.silent_post_secret.get_secret_value().encode()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Readiness: Temporal and the store answer."""
        checks: dict[str, str] = {}
        try:
            client = await gateway.client()
            await client.service_client.check_health(timeout=timedelta(seconds=3))
            checks["temporal"] = "ok"
        except (TemporalUnavailableError, RPCError, RuntimeError) as exc:
            checks["temporal"] = f"unavailable: {type(exc).__name__}"
        try:
            await asyncio.to_thread(store.ping)
            checks["store"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not swallowed: readiness fails
            checks["store"] = f"unavailable: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.post("/webhooks/paytrace/silent-post/{token}", status_code=202)
    async def silent_post(token: str, request: Request) -> JSONResponse:
        """Accept PayTrace's hosted-checkout Silent Post and start the payment's posting."""
        if not hmac.compare_digest(token.encode(), secret):
            return _problem(404, "unknown webhook")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return _problem(413, f"body over {MAX_BODY_BYTES} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return _problem(413, f"body over {MAX_BODY_BYTES} bytes")
        ctype = request.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" not in ctype:
            return _problem(415, "Silent Post must be application/x-www-form-urlencoded")
        try:
            fields = parse_qs(bytes(body).decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return _problem(422, "body is not UTF-8 form data")
        if any(contains_card_number(v) for values in fields.values() for v in values):
            return _problem(422, "body contains what looks like a card number; it was not stored")
        values = fields.get("TRANSACTIONID", [])
        if len(values) != 1 or not _TRANSACTION_ID.fullmatch(values[0].strip()):
            return _problem(422, "TRANSACTIONID is required and must be a number")
        transaction_id = int(values[0].strip())
        if not 0 < transaction_id < MAX_TRANSACTION_ID:
            return _problem(422, "TRANSACTIONID is out of range")
        order_id = (fields.get("ORDERID") or [""])[0][:50]
        try:
            client = await gateway.client()
            started = await start_payment_posting(
                client, settings.task_queue, transaction_id, "silent_post"
            )
        except (TemporalUnavailableError, RPCError) as exc:
            log.warning(
                "silent post for %s not accepted: Temporal unavailable (%s)", transaction_id, exc
            )
            return _problem(503, "Temporal is unavailable; retry later", {"Retry-After": "5"})
        log.info(
            "silent post: transaction %s order %r %s",
            transaction_id,
            order_id,
            "started" if started else "joined",
        )
        payload: dict[str, Any] = {
            "workflow_id": payment_workflow_id(transaction_id),
            "started": started,
        }
        return JSONResponse(payload, status_code=202)

    return app
