"""Fault injection: slow answers, 429s, 5xx, dropped connections and lost answers on PayTrace paths.

A :class:`FaultRule` names a kind of fault, the path prefix it applies to and how often it fires
(``rate``, a probability, and/or ``count``, the next N matching requests; neither means once).
:class:`FaultInjector` holds the active rules and decides, request by request, which one fires:
the first rule, in the order they were added, whose path prefix matches and whose rate roll
succeeds. A rule whose count is used up is dropped. Rate rolls come from one ``random.Random``
seeded with ``SimulatorConfig.fault_seed``, so a run of the same requests in the same order fails
the same way every time; clearing all rules restarts that sequence.

Rules never apply to the simulator's own ``/_sim`` paths. ``/oauth/token`` is affected only by a
rule whose prefix matches it (the default prefix ``/v1/`` does not).

:class:`FaultMiddleware` is plain ASGI middleware (not ``BaseHTTPMiddleware``), so nothing is
buffered or re-timed except where a fault says so. What each kind does:

- ``latency``: read the request body, sleep ``latency_ms``, then handle the request normally
  with that body. A client that gives up during the delay still leaves the request handled (a
  sale is stored), as with a slow server that had the whole request.
- ``rate_limit``: HTTP 429 with ``Retry-After: <retry_after>`` and a JSON body; the handler does
  not run.
- ``http_error``: ``status`` (500, 502, 503 or 504) with a small HTML body, as a load balancer
  would send; the handler does not run.
- ``reset``: the connection is aborted before a single byte of response is written; the handler
  does not run.
- ``lost_response``: the handler runs (the sale is stored), its status line and headers, with
  their ``Content-Length``, are written, and the connection is closed before the body.

How a connection is dropped. ASGI has no message for "drop this connection": an app that returns
without starting a response gets a 500 from uvicorn, and an exception before the response starts
becomes a 500 in Starlette's ``ServerErrorMiddleware``. So the middleware reaches the connection
itself: under uvicorn (h11 or httptools), ``receive`` is a method of the request cycle object,
whose ``transport`` attribute is the connection's asyncio transport. For ``reset`` it sets
``SO_LINGER`` to zero and aborts the transport, so the kernel sends a TCP RST (the client sees
``httpx.ReadError``, "connection reset", or ``httpx.RemoteProtocolError``, "server disconnected
without sending a response"). For ``lost_response`` it sends the handler's
``http.response.start`` (uvicorn writes the status line and headers at once) and then closes the
transport: the client sees ``httpx.RemoteProtocolError``, "peer closed connection without sending
complete message body" (with an empty body or a HEAD request nothing is written at all, or the
headers alone would be a complete answer). Either way the middleware then awaits
``http.disconnect`` from ``receive``, which uvicorn delivers once the transport is gone, and
returns; uvicorn sees a disconnected client and neither sends a 500 nor logs an error.

When there is no such transport (``httpx.ASGITransport`` in tests, another ASGI server), the
middleware starts the response (the handler's own start for ``lost_response``, a ``502`` with
``Content-Length: 1`` for ``reset``) and raises :class:`SimulatedConnectionDrop`, a subclass of
``httpx.RemoteProtocolError``. ``httpx.ASGITransport`` re-raises it into the client, so an httpx
client classifies it as the same transport error a real drop gives; a real server closes the
connection mid-response (and logs the exception).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors.paytrace.simulator.jsonio import PayTraceJSONResponse

FaultKind = Literal["latency", "rate_limit", "http_error", "reset", "lost_response"]
SIM_PREFIX = "/_sim"
DISCONNECT_WAIT_SECONDS = 5.0

_STATUS_PHRASES = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def is_sim_path(path: str) -> bool:
    """Tell whether a path is the simulator's own test surface, which faults never touch.

    Args:
        path: a request path or a rule's path prefix.

    Returns:
        True for ``/_sim`` and everything under ``/_sim/``.
    """
    return path == SIM_PREFIX or path.startswith(SIM_PREFIX + "/")


class FaultRule(BaseModel):
    """One fault to inject into matching PayTrace requests.

    Attributes:
        kind: ``latency``, ``rate_limit``, ``http_error``, ``reset`` or ``lost_response``.
        path: a path prefix (plain string prefix, so ``/v1/transactions/sale`` covers
            ``/v1/transactions/sale/keyed``); must start with ``/`` and not be under ``/_sim``.
        rate: probability, in (0, 1], that a matching request triggers the fault.
        count: fire on at most this many matching requests, then the rule is dropped. With
            neither ``rate`` nor ``count`` the rule fires once.
        status: for ``http_error`` only: 500, 502, 503 or 504 (default 503).
        retry_after: for ``rate_limit`` only: the ``Retry-After`` seconds (default 1).
        latency_ms: for ``latency`` only: the delay in milliseconds (default 1000, at most 60000).
        id: assigned by the simulator when the rule is added.
    """

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    path: str = "/v1/"
    rate: float | None = Field(default=None, gt=0, le=1)
    count: int | None = Field(default=None, ge=1)
    status: Literal[500, 502, 503, 504] | None = None
    retry_after: int | None = Field(default=None, ge=0, le=86400)
    latency_ms: int | None = Field(default=None, ge=0, le=60000)
    id: str | None = Field(default=None, min_length=1, max_length=64)

    @field_validator("path")
    @classmethod
    def _api_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("path must start with '/'")
        if is_sim_path(value):
            raise ValueError("faults never apply to the simulator's own /_sim paths")
        return value

    @model_validator(mode="after")
    def _fields_for_kind(self) -> FaultRule:
        only = {"status": "http_error", "retry_after": "rate_limit", "latency_ms": "latency"}
        for field, kind in only.items():
            if getattr(self, field) is not None and self.kind != kind:
                raise ValueError(f"{field} applies only to kind {kind!r}, not {self.kind!r}")
        if self.kind == "http_error" and self.status is None:
            self.status = 503
        if self.kind == "rate_limit" and self.retry_after is None:
            self.retry_after = 1
        if self.kind == "latency" and self.latency_ms is None:
            self.latency_ms = 1000
        if self.rate is None and self.count is None:
            self.count = 1
        return self

    def matches(self, path: str) -> bool:
        """Tell whether this rule's prefix covers a request path (never a ``/_sim`` path).

        Args:
            path: the request path.

        Returns:
            True when the rule may fire for it.
        """
        return not is_sim_path(path) and path.startswith(self.path)


@dataclass
class _Active:
    rule: FaultRule
    remaining: int | None
    fired: int = 0


class FaultInjector:
    """The active fault rules of one simulator and the seeded dice that decide when they fire.

    Args:
        rules: rules to start with (e.g. ``SimulatorConfig.faults``).
        seed: seed of the random sequence behind ``rate`` rolls; None seeds from the OS.

    Raises:
        ValueError: if two starting rules carry the same id.
    """

    def __init__(self, rules: Iterable[FaultRule] = (), *, seed: int | None = None) -> None:
        self._seed = seed
        self._random = random.Random(seed)  # noqa: S311 - test dice, not cryptography
        self._lock = threading.Lock()
        self._active: list[_Active] = []
        self._next_id = 1
        for rule in rules:
            self.add(rule)

    @property
    def seed(self) -> int | None:
        """The seed of the rate sequence."""
        return self._seed

    def add(self, rule: FaultRule) -> FaultRule:
        """Activate a rule after the existing ones.

        Args:
            rule: the rule; an id is assigned unless it carries an unused one.

        Returns:
            The active rule, with its id.

        Raises:
            ValueError: if the rule carries an id already in use.
        """
        with self._lock:
            if rule.id is None:
                while any(a.rule.id == f"f{self._next_id}" for a in self._active):
                    self._next_id += 1
                rule = rule.model_copy(update={"id": f"f{self._next_id}"})
                self._next_id += 1
            elif any(a.rule.id == rule.id for a in self._active):
                raise ValueError(f"fault id {rule.id!r} is already in use")
            else:
                rule = rule.model_copy()
            self._active.append(_Active(rule=rule, remaining=rule.count))
            return rule

    def remove(self, fault_id: str) -> bool:
        """Deactivate one rule.

        Args:
            fault_id: the rule's id.

        Returns:
            False when no active rule has that id.
        """
        with self._lock:
            for active in self._active:
                if active.rule.id == fault_id:
                    self._active.remove(active)
                    return True
            return False

    def clear(self) -> int:
        """Deactivate every rule and restart the rate sequence from the seed.

        Returns:
            How many rules were active.
        """
        with self._lock:
            cleared = len(self._active)
            self._active.clear()
            self._random.seed(self._seed)
            return cleared

    def rules(self) -> list[dict[str, Any]]:
        """Describe the active rules, in the order they are tried.

        Returns:
            Each rule's fields plus ``remaining`` (count left, None when unlimited) and
            ``fired`` (how many requests it has hit).
        """
        with self._lock:
            return [
                {**a.rule.model_dump(mode="json"), "remaining": a.remaining, "fired": a.fired}
                for a in self._active
            ]

    def pick(self, path: str) -> FaultRule | None:
        """Decide which fault, if any, hits a request now, and count it.

        Args:
            path: the request path.

        Returns:
            The first matching rule whose rate roll succeeds (its count is used up by one), or
            None to handle the request normally.
        """
        if is_sim_path(path):
            return None
        with self._lock:
            for active in self._active:
                rule = active.rule
                if not rule.matches(path):
                    continue
                if rule.rate is not None and self._random.random() >= rule.rate:
                    continue
                active.fired += 1
                if active.remaining is not None:
                    active.remaining -= 1
                    if active.remaining <= 0:
                        self._active.remove(active)
                return rule
            return None


class SimulatedConnectionDrop(httpx.RemoteProtocolError):
    """Raised through the app where the connection cannot be dropped for real (in-process tests).

    Args:
        what: which fault dropped the connection.
    """

    def __init__(self, what: str) -> None:
        super().__init__(f"simulated fault: connection dropped ({what})")


@runtime_checkable
class _Transport(Protocol):
    def close(self) -> None: ...

    def abort(self) -> None: ...

    def is_closing(self) -> bool: ...

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...


def _connection_transport(*callables: object) -> _Transport | None:
    """Find the connection's transport behind uvicorn's bound ``receive``/``send``, if any."""
    for fn in callables:
        transport = getattr(getattr(fn, "__self__", None), "transport", None)
        if isinstance(transport, _Transport):
            return transport
    return None


def _rst(transport: _Transport) -> None:
    """Abort a connection so the peer gets a TCP RST rather than an orderly close."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _await_disconnect(receive: Receive) -> None:
    """Consume ``receive`` until the server reports the connection gone (bounded wait)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DISCONNECT_WAIT_SECONDS):
            while (await receive())["type"] != "http.disconnect":
                pass


async def _read_request(receive: Receive) -> list[Message]:
    """Receive the whole request body now, as the messages that carried it."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive channel that gives back already received messages, then the real ones."""
    pending = deque(messages)

    async def replay() -> Message:
        return pending.popleft() if pending else await receive()

    return replay


def _error_page(status: int) -> bytes:
    phrase = _STATUS_PHRASES[status]
    return (
        f"<html><head><title>{status} {phrase}</title></head>"
        f"<body><h1>{status} {phrase}</h1><p>simulated fault</p></body></html>\n"
    ).encode()


class FaultMiddleware:
    """ASGI middleware that applies the injector's faults to matching HTTP requests.

    Args:
        app: the app to wrap.
        injector: the rules and dice (the same object the ``/_sim/faults`` routes change).
    """

    def __init__(self, app: ASGIApp, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection scope, injecting a fault when a rule fires.

        Args:
            scope: the ASGI scope.
            receive: the ASGI receive channel.
            send: the ASGI send channel.
        """
        rule = self.injector.pick(scope["path"]) if scope["type"] == "http" else None
        if rule is None:
            await self.app(scope, receive, send)
        elif rule.kind == "latency":
            # Read the request first: the delay is the server's, after the request arrived. A
            # handler that read the body only after the delay would see a client that has given
            # up as a disconnect, and a timed-out sale would never happen.
            received = await _read_request(receive)
            await asyncio.sleep((rule.latency_ms or 0) / 1000)
            await self.app(scope, _replay(received, receive), send)
        elif rule.kind == "rate_limit":
            seconds = rule.retry_after if rule.retry_after is not None else 1
            response = PayTraceJSONResponse(
                {
                    "success": False,
                    "status_message": f"Too many requests. Retry after {seconds} seconds.",
                },
                status_code=429,
                headers={"Retry-After": str(seconds)},
            )
            await response(scope, receive, send)
        elif rule.kind == "http_error":
            status = rule.status or 503
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(b"content-type", b"text/html; charset=utf-8")],
                }
            )
            await send({"type": "http.response.body", "body": _error_page(status)})
        elif rule.kind == "reset":
            await self._reset(receive, send)
        else:
            await self._lose_response(scope, receive, send)

    async def _reset(self, receive: Receive, send: Send) -> None:
        transport = _connection_transport(receive, send)
        if transport is None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 502,
                    "headers": [(b"content-length", b"1")],
                }
            )
            raise SimulatedConnectionDrop("reset")
        _rst(transport)
        await _await_disconnect(receive)

    async def _lose_response(self, scope: Scope, receive: Receive, send: Send) -> None:
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        transport = _connection_transport(receive, send)
        if transport is None:
            await send(
                start
                or {
                    "type": "http.response.start",
                    "status": 502,
                    "headers": [(b"content-length", b"1")],
                }
            )
            raise SimulatedConnectionDrop("lost_response")
        has_body = any(m.get("body") for m in messages if m["type"] == "http.response.body")
        if start is not None and has_body and scope.get("method") != "HEAD":
            await send(start)
        transport.close()
        await _await_disconnect(receive)
