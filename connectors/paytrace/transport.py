"""The PayTrace v1 transport: one connection pool, a shared token, one error taxonomy.

Money-moving requests (sales, refunds, voids) are never retried here: when their answer is lost
the call raises :class:`PaytraceAmbiguousError` and the caller reads back before deciding to try
again. Nothing sensitive reaches a log or an exception text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from connectors.paytrace.errors import (
    PaytraceAmbiguousError,
    PaytraceAuthError,
    PaytraceDeclined,
    PaytraceError,
    PaytraceRateLimited,
    PaytraceTransientError,
    PaytraceValidationError,
)
from connectors.paytrace.models import (
    DECLINE_CODES,
)
from connectors.paytrace.wire import as_int, json_or_none, retry_after

log = logging.getLogger(__name__)

AUTH_ERROR_CODES = frozenset({"981"})
TOKEN_TEXT = re.compile(r"[\x21-\x7e]{1,4096}")
"""A bearer token as it can go into an Authorization header: visible ASCII."""
M = TypeVar("M", bound=BaseModel)
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=10.0)
TOKEN_REFRESH_MARGIN = 300.0


class PooledClient:
    """One httpx connection pool with TLS verification, closed by ``aclose`` or ``async with``.

    Args:
        base_url: the API's base URL.
        timeout: connect/read/write timeouts.
        transport: an httpx transport, for tests.
        headers: headers sent with every request.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: httpx.Timeout,
        transport: httpx.AsyncBaseTransport | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            verify=True,
            headers=headers,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class PaytraceTransport(PooledClient):
    """Authentication and transport of the PayTrace v1 API; operations live in subclasses.

    Args:
        base_url: ``https://api.paytrace.com``, the sandbox, or the simulator.
        username: the PayTrace API user.
        password: its password (kept only in memory).
        integrator_id: sent in every JSON body when set.
        timeout: connect/read/write timeouts.
        transport: an httpx transport, for tests.
        clock: a monotonic clock, for tests of token expiry.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        integrator_id: str = "",
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(base_url, timeout=timeout, transport=transport)
        self._username = username
        self._password = password
        self._integrator_id = integrator_id
        self._clock = clock
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self.token_fetches = 0

    # -- authentication -------------------------------------------------------------------

    async def _bearer(self, *, stale: str | None = None) -> str:
        """Return a valid token, fetching one when missing, expiring, or equal to ``stale``."""
        async with self._token_lock:
            fresh = self._token is not None and self._token != stale
            if fresh and self._clock() < self._token_expires:
                assert self._token is not None
                return self._token
            form = {"grant_type": "password", "username": self._username}
            form["password"] = self._password
            try:
                resp = await self._http.post("/oauth/token", data=form)
            except httpx.TransportError as exc:
                raise PaytraceTransientError(
                    f"token request failed: {type(exc).__name__}"
                ) from None
            body = json_or_none(resp)
            if resp.status_code == 429:
                raise PaytraceRateLimited(
                    "token request rate limited", retry_after=retry_after(resp)
                )
            if resp.status_code >= 500 or body is None:
                raise PaytraceTransientError(f"token request failed with HTTP {resp.status_code}")
            if resp.status_code != 200 or "access_token" not in body:
                error = body.get("error", "unknown")
                raise PaytraceAuthError(f"PayTrace refused the API credentials ({error})")
            token = body["access_token"]
            if not isinstance(token, str) or not TOKEN_TEXT.fullmatch(token):
                raise PaytraceTransientError("token answer without a usable access_token")
            self._token = token
            lifetime = token_lifetime(body.get("expires_in"), 7200.0)
            self._token_expires = self._clock() + max(lifetime - TOKEN_REFRESH_MARGIN, 1.0)
            self.token_fetches += 1
            return self._token

    # -- transport ------------------------------------------------------------------------

    async def _post(self, path: str, body: dict[str, Any], *, money_moving: bool) -> dict[str, Any]:
        if self._integrator_id:
            body = {**body, "integrator_id": self._integrator_id}
        payload = json.dumps(body, default=_json_default)
        token = await self._bearer()
        for attempt in (1, 2):
            resp = await send_json(self._http, path, payload, token, money_moving=money_moving)
            data = json_or_none(resp)
            if resp.status_code == 401 or (
                data is not None and data.get("error") == "invalid_token"
            ):
                if attempt == 1:
                    log.info("paytrace token rejected on %s; re-authenticating", path)
                    token = await self._bearer(stale=token)
                    continue
                raise PaytraceAuthError(f"PayTrace rejected a fresh token on {path}")
            try:
                return _classify(path, resp, data, money_moving=money_moving)
            except PaytraceError as exc:
                exc.scrub(sensitive_values(body))
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def ping(self) -> bool:
        """Check that the API answers (no authentication needed).

        Returns:
            True when PayTrace answered ``success``.
        """
        try:
            resp = await self._http.get("/v1/ping")
        except httpx.TransportError as exc:
            raise PaytraceTransientError(f"ping failed: {type(exc).__name__}") from None
        data = json_or_none(resp)
        return resp.status_code == 200 and data is not None and data.get("status") == "success"

    async def _money(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post(path, body, money_moving=True)

    @staticmethod
    def _parse(model: type[M], data: Any, path: str, *, money_moving: bool) -> M:
        """Read a success answer into its model; a malformed one joins the error taxonomy.

        Args:
            model: the response model.
            data: the answer (or the part of it the model describes).
            path: the API path, for the message.
            money_moving: whether the request charged, refunded, captured or voided.

        Returns:
            The parsed answer.

        Raises:
            PaytraceAmbiguousError: a money-moving answer does not have the documented shape:
                the money may have moved, so read back.
            PaytraceTransientError: a read's answer does not have the documented shape.
        """
        try:
            return model.model_validate(data)
        except (ValidationError, TypeError, ValueError, ArithmeticError) as exc:
            raise malformed_answer(path, exc, money_moving=money_moving) from None

    @classmethod
    def _parse_list(cls, model: type[M], data: dict[str, Any], key: str, path: str) -> list[M]:
        """Read the list ``data[key]`` of a read's answer (missing, null or empty: none).

        Raises:
            PaytraceTransientError: the value is not a list, or an item is malformed.
        """
        items = data.get(key)
        if items is None or items == "" or items == {}:
            return []
        if not isinstance(items, list):
            raise PaytraceTransientError(f"{path}: malformed answer ({key}: not a list)")
        return [cls._parse(model, item, path, money_moving=False) for item in items]


async def send_json(
    http: httpx.AsyncClient, path: str, payload: str, token: str, *, money_moving: bool
) -> httpx.Response:
    """POST a JSON body with a bearer token, turning transport failures into the taxonomy.

    A failure before the request left (connect, pool) is transient; after it left, the answer
    is lost: ambiguous for a money-moving call, transient for a read.

    Args:
        http: the connection pool.
        path: the API path.
        payload: the JSON text.
        token: the bearer token.
        money_moving: whether the request charges, refunds, captures or voids.

    Returns:
        The HTTP response, whatever its status.
    """
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        return await http.post(path, content=payload, headers=headers)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise PaytraceTransientError(f"{path}: not sent ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        what = f"{path}: sent, answer lost ({type(exc).__name__})"
        if money_moving:
            raise PaytraceAmbiguousError(what) from None
        raise PaytraceTransientError(what) from None


def malformed_answer(path: str, exc: Exception, *, money_moving: bool) -> PaytraceError:
    """The error for a success answer that does not have the documented shape.

    Only the fields and pydantic's error types are named, never the values PayTrace sent.

    Args:
        path: the API path.
        exc: what parsing raised.
        money_moving: whether the request charged, refunded, captured or voided.

    Returns:
        :class:`PaytraceAmbiguousError` for a money-moving request (read back: the money may
        have moved), else :class:`PaytraceTransientError` (like an unreadable body).
    """
    if isinstance(exc, ValidationError):
        where = ", ".join(
            f"{'.'.join(_loc_part(p) for p in e['loc']) or 'answer'}: {e['type']}"
            for e in exc.errors(include_input=False, include_url=False)[:5]
        )
    else:
        where = type(exc).__name__
    what = f"{path}: malformed answer ({where})"
    return PaytraceAmbiguousError(what) if money_moving else PaytraceTransientError(what)


_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


def _loc_part(part: str | int) -> str:
    """One step of a pydantic error location: a field name or list index; any other key is ``?``.

    A key of a dict-typed field is text PayTrace sent, so it is not repeated.
    """
    if isinstance(part, int) or _FIELD_NAME.fullmatch(part):
        return str(part)
    return "?"


def token_lifetime(value: Any, default: float) -> float:
    """A token's ``expires_in`` in seconds.

    Args:
        value: what the token answer held (None when it held nothing).
        default: the lifetime to assume when the value is missing, malformed, not finite or not
            positive.

    Returns:
        The lifetime in seconds.
    """
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return seconds if math.isfinite(seconds) and seconds > 0 else default


_SENSITIVE_KEYS = frozenset(
    {"number", "csc", "account_number", "encrypted_number", "encrypted_csc"}
)


def sensitive_values(body: Any) -> tuple[str, ...]:
    """The card numbers, CSCs and account numbers a request body carries.

    Args:
        body: a JSON request body (nested objects are searched).

    Returns:
        The values, for :meth:`PaytraceError.scrub`.
    """
    found: list[str] = []
    if isinstance(body, dict):
        for key, value in body.items():
            if key in _SENSITIVE_KEYS and isinstance(value, str) and len(value.strip()) >= 3:
                found.append(value.strip())
            else:
                found.extend(sensitive_values(value))
    return tuple(found)


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _classify(
    path: str, resp: httpx.Response, data: dict[str, Any] | None, *, money_moving: bool
) -> dict[str, Any]:
    status = resp.status_code
    if status == 429:
        raise PaytraceRateLimited(f"{path}: rate limited", retry_after=retry_after(resp))
    if data is None and 400 <= status < 500 and status != 408:
        # A proxy or firewall refused the request before PayTrace saw it (403, 404, 413 ...):
        # retrying will not help, so stop and let an operator look.
        raise PaytraceError(f"{path}: HTTP {status} without a PayTrace answer")
    if status >= 500 or data is None:
        what = f"{path}: HTTP {status}" + ("" if data is not None else ", unreadable body")
        if money_moving:
            raise PaytraceAmbiguousError(what)
        raise PaytraceTransientError(what)
    if data.get("success") is True:
        return data
    code = as_int(data.get("response_code"))
    message = str(data.get("status_message", ""))
    errors = data.get("errors")
    if isinstance(errors, dict) and errors:
        clean = {
            str(k): [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in errors.items()
        }
        if AUTH_ERROR_CODES & clean.keys():
            raise PaytraceAuthError(f"{path}: {message} {clean}")
        raise PaytraceValidationError(f"{path}: {message}", errors=clean)
    if code in DECLINE_CODES:
        approval = str(data.get("approval_message", ""))
        raise PaytraceDeclined(
            f"{path}: declined ({code}) {approval.strip()}",
            response_code=code,
            transaction_id=as_int(data.get("transaction_id") or data.get("check_transaction_id"))
            or None,
            approval_message=approval,
        )
    raise PaytraceError(f"{path}: unexpected answer HTTP {status} code {code}: {message}")
