"""The api process: health probes, the webhook starter, the ops pages and the codec server.

PayTrace signs nothing, so a Silent Post is trusted for one thing only: it names a transaction id.
Signed JSON events name a business key. Either way the workflow re-reads PayTrace before acting.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from temporalio.service import RPCError

from connectors.paytrace.client import PaytraceClient
from connectors.store import Store
from domain.events import openapi_schemas
from domain.models import PaytraceTransaction
from workers.api_webhooks import MAX_BODY_BYTES, WebhookRoutes
from workers.codec import codec_from_settings
from workers.codec_server import install_codec
from workers.gateway import TemporalGateway, TemporalUnavailableError
from workers.ops_chargebacks import OpsChargebacks
from workers.ops_pages import CardNumberInForm, OpsPages, TransactionReader
from workers.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["MAX_BODY_BYTES", "TemporalGateway", "create_api", "transaction_reader"]


def transaction_reader(paytrace: PaytraceClient) -> TransactionReader:
    """Read a transaction for the ops pages (masked card number only).

    Args:
        paytrace: the PayTrace client.

    Returns:
        An async function from transaction id to the transaction, or None when unknown.
    """

    async def read(transaction_id: int) -> PaytraceTransaction | None:
        exported = await paytrace.export_by_id(transaction_id)
        return exported.to_domain() if exported is not None else None

    return read


def _publish_event_schemas(app: FastAPI) -> None:
    """Add the event data models to the OpenAPI components the events body refers to."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                openapi_schemas()[1]
            )
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_api(
    settings: Settings,
    store: Store,
    gateway: TemporalGateway,
    read_transaction: TransactionReader | None = None,
) -> FastAPI:
    """Build the api application.

    Args:
        settings: tracepost settings.
        store: the store (event log, ops pages, readiness).
        gateway: access to Temporal.
        read_transaction: reads PayTrace transactions for the ops pages (None: not shown).

    Returns:
        The FastAPI app.

    Raises:
        CodecKeyError: payload encryption is on and no key is configured.
    """
    app = FastAPI(
        title="tracepost api",
        version="0.1.0",
        description="Webhook starter (PayTrace Silent Post, signed JSON events) and probes.",
    )
    app.include_router(WebhookRoutes(settings, store, gateway).router())
    _publish_event_schemas(app)
    ops = OpsPages(settings, store, gateway, read_transaction)
    app.include_router(ops.router())
    app.add_exception_handler(CardNumberInForm, ops.card_refused)
    app.include_router(OpsChargebacks(ops, settings, store, gateway).router())
    codec = codec_from_settings(settings)
    if codec is not None:
        install_codec(app, settings, codec, session_user=ops.session_user)
    app.state.ops = ops

    @app.get("/healthz", tags=["probes"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["probes"])
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

    return app
