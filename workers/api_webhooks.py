"""The webhook starter: PayTrace Silent Post and signed JSON events.

Both only name things; the workflows re-read PayTrace before they write. An event is answered
202 with its workflow id only after Temporal accepted the start, and 503 with ``Retry-After``
when Temporal cannot be reached, so the sender retries and nothing is lost. Every receipt,
accepted or refused, is written to the store's event log; a body holding what looks like a card
number is refused and never stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from temporalio.service import RPCError

from activities.starter import payment_workflow_id, start_payment_posting
from connectors.store import Store
from domain.events import (
    EventEnvelope,
    EventReceipt,
    EventType,
    SignatureError,
    openapi_schemas,
    parse_data,
    parse_secrets,
    verify,
)
from domain.input_bounds import MAX_ID
from domain.redaction import contains_card_number
from workers.event_starts import EventAnswer, dispatch
from workers.gateway import TemporalGateway, TemporalUnavailableError
from workers.settings import Settings

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
RETRY_AFTER_SECONDS = "5"
CARD_REFUSAL = "body contains what looks like a card number; it was not stored"
_TRANSACTION_ID = re.compile(r"[0-9]{1,19}")
_NETWORKS = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


class ErrorBody(BaseModel):
    """Why a request was refused."""

    error: str
    fields: list[dict[str, str]] | None = None


class Accepted(BaseModel):
    """An accepted event: the workflow that will act on it."""

    workflow_id: str
    started: bool
    outcome: str


class BodyTooLargeError(Exception):
    """The body is over the limit."""


def _problem(
    status: int,
    reason: str,
    headers: dict[str, str] | None = None,
    fields: list[dict[str, str]] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": reason}
    if fields is not None:
        body["fields"] = fields
    return JSONResponse(body, status_code=status, headers=headers)


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """Read a request body, stopping as soon as it passes the limit.

    Args:
        request: the request.
        limit: the most bytes accepted.

    Returns:
        The body.

    Raises:
        BodyTooLargeError: the declared or the actual length is over the limit.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLargeError
    return bytes(body)


def parse_networks(values: Sequence[str]) -> _NETWORKS:
    """The Silent Post allow-list as networks (a bare address is a /32 or /128).

    Args:
        values: addresses or CIDR networks.

    Returns:
        The networks.

    Raises:
        ValueError: an entry is neither.
    """
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"TRACEPOST_SILENT_POST_ALLOWED_IPS: {value!r} is not an address or network"
            ) from None
    return tuple(networks)


def _allowed(networks: _NETWORKS, host: str) -> bool:
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)


def _field_errors(exc: ValidationError, prefix: str) -> list[dict[str, str]]:
    # Only the location and the message: pydantic's "input" would echo what was sent.
    return [
        {
            "field": ".".join([prefix, *(str(part) for part in error["loc"])]).strip("."),
            "reason": error["msg"],
        }
        for error in exc.errors(include_input=False, include_url=False)
    ]


class WebhookRoutes:
    """The webhook endpoints and their event log.

    Args:
        settings: tracepost settings.
        store: where receipts are logged.
        gateway: access to Temporal.
    """

    def __init__(self, settings: Settings, store: Store, gateway: TemporalGateway) -> None:
        self._settings = settings
        self._store = store
        self._gateway = gateway
        self._silent_secret = settings.silent_post_secret.get_secret_value().encode()
        self._event_secrets = parse_secrets(settings.event_secrets.get_secret_value())
        self._networks = parse_networks(settings.silent_post_allowed_ips)

    def router(self) -> APIRouter:
        """The router to include in the api app."""
        router = APIRouter(tags=["webhooks"])
        refusals: dict[int | str, dict[str, Any]] = {
            code: {"model": ErrorBody} for code in (401, 403, 404, 409, 413, 415, 422, 503)
        }
        router.add_api_route(
            "/webhooks/events",
            self.events,
            methods=["POST"],
            status_code=202,
            response_model=Accepted,
            responses=refusals,
            summary="Accept a signed JSON event and start or join its workflow",
            openapi_extra={
                "parameters": [
                    {
                        "name": "X-Tracepost-Timestamp",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "X-Tracepost-Signature",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": openapi_schemas()[0]}},
                },
            },
        )
        router.add_api_route(
            "/webhooks/paytrace/silent-post/{token}",
            self.silent_post,
            methods=["POST"],
            status_code=202,
            response_model=Accepted,
            responses=refusals,
            summary="Accept PayTrace's hosted-checkout Silent Post",
            openapi_extra={
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "TRANSACTIONID": {"type": "string"},
                                    "ORDERID": {"type": "string"},
                                },
                                "required": ["TRANSACTIONID"],
                            }
                        }
                    },
                }
            },
        )
        return router

    async def _log(self, receipt: EventReceipt) -> bool:
        """Write a receipt to the event log; False (and an ERROR log line) when it failed."""
        try:
            await asyncio.to_thread(self._store.log_event, receipt)
        except Exception:  # logged with its traceback; the callers answer 503 for an accepted event
            log.exception("event log write failed for %s %s", receipt.channel, receipt.event_id)
            return False
        return True

    async def _answer(
        self,
        status: int,
        reason: str,
        *,
        base: dict[str, Any],
        fields: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> JSONResponse:
        """Log a refusal, then answer it (the refusal stands even if the log write failed)."""
        outcome = "unavailable" if status == 503 else "rejected"
        await self._log(EventReceipt(**base, outcome=outcome, status_code=status, reason=reason))
        return _problem(status, reason, headers, fields)

    async def _accepted(self, answer: EventAnswer, base: dict[str, Any]) -> JSONResponse:
        """Log what Temporal did with an event, then answer it.

        When the log cannot be written the sender gets 503 and retries; the retry joins the
        same workflow and is logged then, so every accepted event ends up in the log.
        """
        logged = await self._log(
            EventReceipt(
                **base,
                outcome=answer.outcome,
                status_code=answer.status_code,
                workflow_id=answer.workflow_id,
                reason=answer.reason,
            )
        )
        if not logged:
            return _problem(503, "the event log is unavailable; retry later", _retry_after())
        if answer.status_code != 202:
            return _problem(answer.status_code, answer.reason)
        payload = Accepted(
            workflow_id=answer.workflow_id,
            started=answer.outcome == "started",
            outcome=answer.outcome,
        )
        return JSONResponse(payload.model_dump(), status_code=202)

    async def events(self, request: Request) -> JSONResponse:
        """Accept a signed JSON event (see docs/operations.md, "Events")."""
        base: dict[str, Any] = {
            "received_at": datetime.now(UTC),
            "channel": "events",
            "body_sha256": "",
            "remote_addr": request.client.host if request.client else "",
        }
        try:
            body = await read_body(request)
        except BodyTooLargeError:
            return await self._answer(413, f"body over {MAX_BODY_BYTES} bytes", base=base)
        base["body_sha256"] = hashlib.sha256(body).hexdigest()
        try:
            verify(
                self._event_secrets,
                request.headers.get("x-tracepost-timestamp", ""),
                request.headers.get("x-tracepost-signature", ""),
                body,
                now=time.time(),
                window_seconds=self._settings.event_replay_window_seconds,
            )
        except SignatureError as exc:
            return await self._answer(401, str(exc), base=base)
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("application/json"):
            return await self._answer(415, "events must be application/json", base=base)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return await self._answer(422, "body is not UTF-8", base=base)
        if contains_card_number(text):
            return await self._answer(422, CARD_REFUSAL, base=base)
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError):
            return await self._answer(422, "body is not a JSON object", base=base)
        if any(contains_card_number(s) for s in _strings(raw)):  # e.g. written with \u escapes
            return await self._answer(422, CARD_REFUSAL, base=base)
        try:
            envelope = EventEnvelope.model_validate(raw)
        except ValidationError as exc:
            return await self._answer(
                422, "the event is malformed", base=base, fields=_field_errors(exc, "")
            )
        base["event_id"] = envelope.id
        base["event_type"] = envelope.type
        try:
            event_type = EventType(envelope.type)
        except ValueError:
            known = ", ".join(t.value for t in EventType)
            return await self._answer(
                422, f"unknown event type {envelope.type!r}; known: {known}", base=base
            )
        try:
            data = parse_data(event_type, envelope.data)
        except ValidationError as exc:
            return await self._answer(
                422, "the event's data is malformed", base=base, fields=_field_errors(exc, "data")
            )
        base["data"] = data.model_dump(mode="json")
        try:
            client = await self._gateway.client()
            answer = await dispatch(client, self._settings, data)
        except (TemporalUnavailableError, RPCError, TimeoutError) as exc:
            log.warning("event %s not accepted: Temporal unavailable (%s)", envelope.id, exc)
            return await self._answer(
                503, "Temporal is unavailable; retry later", base=base, headers=_retry_after()
            )
        log.info(
            "event %s %s: %s %s", envelope.id, event_type.value, answer.outcome, answer.workflow_id
        )
        return await self._accepted(answer, base)

    async def silent_post(self, token: str, request: Request) -> JSONResponse:
        """Accept PayTrace's hosted-checkout Silent Post and start the payment's posting."""
        remote = request.client.host if request.client else ""
        base: dict[str, Any] = {
            "received_at": datetime.now(UTC),
            "channel": "silent_post",
            "event_type": "silent_post",
            "body_sha256": "",
            "remote_addr": remote,
        }
        if not hmac.compare_digest(token.encode(), self._silent_secret):
            return await self._answer(404, "unknown webhook", base=base)
        if not _allowed(self._networks, remote):
            return await self._answer(403, "address not allowed to send Silent Posts", base=base)
        try:
            body = await read_body(request)
        except BodyTooLargeError:
            return await self._answer(413, f"body over {MAX_BODY_BYTES} bytes", base=base)
        base["body_sha256"] = hashlib.sha256(body).hexdigest()
        ctype = request.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" not in ctype:
            return await self._answer(
                415, "Silent Post must be application/x-www-form-urlencoded", base=base
            )
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return await self._answer(422, "body is not UTF-8 form data", base=base)
        if any(contains_card_number(v) for values in fields.values() for v in values):
            return await self._answer(422, CARD_REFUSAL, base=base)
        values = fields.get("TRANSACTIONID", [])
        if len(values) != 1 or not _TRANSACTION_ID.fullmatch(values[0].strip()):
            return await self._answer(
                422, "TRANSACTIONID is required and must be a number", base=base
            )
        transaction_id = int(values[0].strip())
        if not 0 < transaction_id <= MAX_ID:
            return await self._answer(422, "TRANSACTIONID is out of range", base=base)
        order_id = (fields.get("ORDERID") or [""])[0][:50]
        if contains_card_number(order_id):  # cut out of a longer run of digits
            return await self._answer(422, CARD_REFUSAL, base=base)
        base["event_id"] = str(transaction_id)
        base["data"] = {"transaction_id": transaction_id, "order_id": order_id}
        try:
            client = await self._gateway.client()
            started = await start_payment_posting(
                client, self._settings.task_queue, transaction_id, "silent_post"
            )
        except (TemporalUnavailableError, RPCError) as exc:
            log.warning(
                "silent post for %s not accepted: Temporal unavailable (%s)", transaction_id, exc
            )
            return await self._answer(
                503, "Temporal is unavailable; retry later", base=base, headers=_retry_after()
            )
        answer = EventAnswer(
            202, "started" if started else "joined", payment_workflow_id(transaction_id)
        )
        log.info(
            "silent post: transaction %s order %r %s", transaction_id, order_id, answer.outcome
        )
        return await self._accepted(answer, base)


def _strings(value: Any) -> Iterator[str]:
    """Every string of a decoded JSON document, keys included, depth first."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _retry_after() -> dict[str, str]:
    return {"Retry-After": RETRY_AFTER_SECONDS}
