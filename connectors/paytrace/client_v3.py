"""Async client of North's PayTrace v3 "B2B API", behind the same interface as the v1 client.

It satisfies :class:`connectors.paytrace.gateway.PaytraceGateway` and returns the v1 models
(``SaleResponse``, ``TransactionResponse``, ``ExportedTransaction``), so activities never know
which API generation answered. What differs on the wire:

- a client-credentials token from ``POST /v3/token`` (HTTP 201, ``data`` envelope), refreshed
  with its refresh token, falling back to the credentials when the refresh token is refused;
- an ``X-Integrator-Id`` header on every request and an integer ``merchant_id`` in every body;
- amounts as JSON numbers, v3 field names (``invoice_number``, ``card``, ``billing_name``),
  ISO 8601 dates and timestamps;
- capture, refund and void through ``/v3/card/batch/*`` with one item, whose per-item failure
  carries v1's error code (817 refund before settlement...).

The error taxonomy is v1's: 422 → :class:`PaytraceValidationError` (errors kept, keyed by field
path or, for batch items, by v1 error code), a declined sale → :class:`PaytraceDeclined`, 429 →
:class:`PaytraceRateLimited`, 5xx/transport → :class:`PaytraceTransientError`, or
:class:`PaytraceAmbiguousError` for the money-moving calls (sale, capture, refund, void), which
are never retried here. Nothing sensitive reaches a log or an exception text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
from pydantic import ValidationError

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
    CustomerSaleRequest,
    ExportedTransaction,
    KeyedSaleRequest,
    SaleResponse,
    TransactionResponse,
)
from connectors.paytrace.readback import ReadBack
from connectors.paytrace.transport import (
    AUTH_ERROR_CODES,
    DEFAULT_TIMEOUT,
    TOKEN_REFRESH_MARGIN,
    TOKEN_TEXT,
    PooledClient,
    send_json,
    sensitive_values,
    token_lifetime,
)
from connectors.paytrace.wire import as_int, dumps, json_or_none, retry_after

log = logging.getLogger(__name__)

NOT_FOUND_CODE = "58"
"""v1's "invalid transaction id": what a v3 404 is reported as, so both clients agree."""
DEFAULT_TOKEN_LIFETIME = 900.0
MAX_INTEGRATOR_ID = 12

# v1 request field -> v3 request field; fields not listed keep their name.
_SALE_FIELDS = {"credit_card": "card", "invoice_id": "invoice_number"}
_SALE_AMOUNTS = frozenset({"amount", "tax_amount"})


class PaytraceV3Client(PooledClient, ReadBack):
    """PayTrace v3 API client.

    Args:
        base_url: ``https://api.paytrace.com``, the sandbox, or the simulator.
        client_id: the PayTrace API user.
        client_secret: its password (kept only in memory).
        merchant_id: the integer merchant id every v3 body carries.
        integrator_id: the ``X-Integrator-Id`` header, 1 to 12 characters.
        merchant_timezone: IANA zone to read timestamps in; None keeps the wall time PayTrace
            sends (the simulator sends merchant-local times with their offset).
        timeout: connect/read/write timeouts.
        transport: an httpx transport, for tests.
        clock: a monotonic clock, for tests of token expiry.

    Raises:
        ValueError: for an integrator id or merchant id PayTrace would refuse.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        merchant_id: int,
        integrator_id: str,
        merchant_timezone: str | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= len(integrator_id.strip()) <= MAX_INTEGRATOR_ID:
            raise ValueError(f"integrator_id must be 1 to {MAX_INTEGRATOR_ID} characters")
        if isinstance(merchant_id, bool) or merchant_id <= 0:
            raise ValueError("merchant_id must be a positive integer")
        self._client_id = client_id
        self._client_secret = client_secret
        self._merchant_id = merchant_id
        self._tz = ZoneInfo(merchant_timezone) if merchant_timezone else None
        self._clock = clock
        super().__init__(
            base_url,
            timeout=timeout,
            transport=transport,
            headers={"X-Integrator-Id": integrator_id.strip(), "Accept": "application/json"},
        )
        self._token: str | None = None
        self._refresh_token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self.token_fetches = 0
        self.token_refreshes = 0

    # -- authentication -------------------------------------------------------------------

    async def _bearer(self, *, stale: str | None = None) -> str:
        """Return a valid token, getting one when missing, expiring, or equal to ``stale``.

        A held refresh token is tried first; when PayTrace refuses it (expired, revoked) the
        client credentials are used.
        """
        async with self._token_lock:
            fresh = self._token is not None and self._token != stale
            if fresh and self._clock() < self._token_expires:
                assert self._token is not None
                return self._token
            data: dict[str, Any] | None = None
            if self._refresh_token is not None:
                form = {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
                data = await self._grant(form, refreshing=True)
                if data is not None:
                    self.token_refreshes += 1
            if data is None:
                form = {"grant_type": "client_credentials", "client_id": self._client_id}
                form["client_secret"] = self._client_secret
                data = await self._grant(form, refreshing=False)
            assert data is not None
            token, refresh = data["access_token"], data.get("refresh_token")
            if not isinstance(token, str) or not TOKEN_TEXT.fullmatch(token):
                raise PaytraceTransientError("token answer without a usable access_token")
            self._token = token
            usable_refresh = isinstance(refresh, str) and TOKEN_TEXT.fullmatch(refresh)
            self._refresh_token = refresh if usable_refresh else None
            lifetime = token_lifetime(data.get("expires_in"), DEFAULT_TOKEN_LIFETIME)
            margin = min(TOKEN_REFRESH_MARGIN, lifetime / 3)
            self._token_expires = self._clock() + max(lifetime - margin, 1.0)
            self.token_fetches += 1
            return self._token

    async def _grant(self, form: dict[str, str], *, refreshing: bool) -> dict[str, Any] | None:
        """Ask ``/v3/token`` for tokens.

        Returns:
            The ``data`` object, or None when a refresh token was refused (use the credentials).

        Raises:
            PaytraceAuthError: the credentials were refused.
        """
        what = "token refresh" if refreshing else "token request"
        try:
            resp = await self._http.post("/v3/token", data=form)
        except httpx.TransportError as exc:
            raise PaytraceTransientError(f"{what} failed: {type(exc).__name__}") from None
        if resp.status_code == 429:
            raise PaytraceRateLimited(f"{what} rate limited", retry_after=retry_after(resp))
        body = json_or_none(resp)
        if resp.status_code >= 500 or body is None:
            raise PaytraceTransientError(f"{what} failed with HTTP {resp.status_code}")
        data = body.get("data")
        if resp.status_code in (200, 201) and isinstance(data, dict) and data.get("access_token"):
            return data
        if refreshing:
            log.info("paytrace v3 refresh token refused; using the client credentials")
            return None
        message = str(body.get("message") or body.get("error") or "unknown")
        raise PaytraceAuthError(
            f"PayTrace refused the API credentials (HTTP {resp.status_code}: {message})"
        )

    # -- transport ------------------------------------------------------------------------

    async def _post(self, path: str, body: Mapping[str, Any], *, money_moving: bool) -> Any:
        """Send a v3 request and return its unwrapped ``data``."""
        payload = dumps({"merchant_id": self._merchant_id, **body})
        token = await self._bearer()
        for attempt in (1, 2):
            resp = await send_json(self._http, path, payload, token, money_moving=money_moving)
            if resp.status_code == 401:
                if attempt == 1:
                    log.info("paytrace v3 token rejected on %s; re-authenticating", path)
                    token = await self._bearer(stale=token)
                    continue
                raise PaytraceAuthError(f"PayTrace rejected a fresh token on {path}")
            try:
                return _classify(path, resp, money_moving=money_moving)
            except PaytraceError as exc:
                exc.scrub(sensitive_values(body))
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    # -- operations -----------------------------------------------------------------------

    async def ping(self) -> bool:
        """Check that the API answers; v3 has no ping, so this gets (or reuses) a token.

        Returns:
            True when PayTrace issued a token.

        Raises:
            PaytraceAuthError: PayTrace answered but refused the credentials.
            PaytraceTransientError: PayTrace did not answer.
        """
        await self._bearer()
        return True

    async def sale_keyed(self, request: KeyedSaleRequest) -> SaleResponse:
        """Charge a card (``/v3/card/sale/keyed``).

        The real v3 wants the card number and CSC e2ee-encrypted; this client sends what the
        request holds (the simulator takes plain published test numbers).

        Args:
            request: the sale; the card number and CSC never leave this call except to PayTrace.

        Returns:
            The approval.

        Raises:
            PaytraceDeclined: the issuer declined; ``transaction_id`` says which transaction.
            PaytraceValidationError: PayTrace refused the request; nothing was charged.
            PaytraceAmbiguousError: the answer was lost; read back before trying again.
        """
        path = "/v3/card/sale/keyed"
        return _sale_answer(path, await self._post(path, _sale_body(request), money_moving=True))

    async def sale_by_customer(self, request: CustomerSaleRequest) -> SaleResponse:
        """Charge a vault customer's stored card (``/v3/card/sale/customer/{customer_id}``).

        Args:
            request: the customer, amount and invoice.

        Returns:
            The approval (no masked card number, as in v1).

        Raises:
            PaytraceDeclined: the issuer declined.
            PaytraceValidationError: unknown customer or bad request; nothing was charged.
            PaytraceAmbiguousError: the answer was lost; read back before trying again.
        """
        path = f"/v3/card/sale/customer/{quote(request.customer_id, safe='')}"
        v1 = request.model_dump(mode="json", exclude_none=True)
        body: dict[str, Any] = {"amount": Decimal(v1["amount"])}
        for v1_name, v3_name in (
            ("invoice_id", "invoice_number"),
            ("customer_reference_id", "customer_reference_id"),
            ("description", "description"),
        ):
            if v1.get(v1_name):
                body[v3_name] = v1[v1_name]
        return _sale_answer(path, await self._post(path, body, money_moving=True))

    async def _batch_one(
        self, operation: str, transaction_id: int, amount: Decimal | None
    ) -> TransactionResponse:
        """Run one capture, refund or void through ``/v3/card/batch/{operation}``."""
        path = f"/v3/card/batch/{operation}"
        item: dict[str, Any] = {"transaction_id": transaction_id}
        if amount is not None:
            item["amount"] = amount
        data = await self._post(path, {"batch_items": [item]}, money_moving=True)
        results = data if isinstance(data, list) else []
        result = results[0] if len(results) == 1 and isinstance(results[0], dict) else None
        if result is None or as_int(result.get("transaction_id")) != transaction_id:
            raise PaytraceAmbiguousError(f"{path}: no result for transaction {transaction_id}")
        code = as_int(result.get("response_code"))
        message = str(result.get("message", ""))
        if result.get("status") == "success":
            produced = as_int(result.get("refund_transaction_id")) or transaction_id
            return TransactionResponse(
                success=True,
                response_code=code,
                status_message=message,
                transaction_id=produced,
                masked_card_number=str(result.get("masked_card_number", "")),
            )
        if code in DECLINE_CODES:
            raise PaytraceDeclined(
                f"{path}: declined ({code}) {message}",
                response_code=code,
                transaction_id=transaction_id,
                approval_message=message,
            )
        if result.get("status") == "failed":
            raise PaytraceValidationError(
                f"{path}: transaction {transaction_id} failed", errors={str(code): [message]}
            )
        raise PaytraceAmbiguousError(f"{path}: unexpected item status for {transaction_id}")

    async def capture(
        self, transaction_id: int, amount: Decimal | None = None
    ) -> TransactionResponse:
        """Capture an authorization, fully or for ``amount`` (``/v3/card/batch/capture``).

        Args:
            transaction_id: the authorization.
            amount: a partial capture; None captures the authorized amount.

        Returns:
            The capture (code 112, same transaction id).

        Raises:
            PaytraceValidationError: not capturable (812), amount too high (813), unknown (58).
            PaytraceAmbiguousError: the answer was lost; read back before trying again.
        """
        return await self._batch_one("capture", transaction_id, amount)

    async def void(self, transaction_id: int) -> TransactionResponse:
        """Void an unsettled transaction (``/v3/card/batch/void``).

        Args:
            transaction_id: the sale, authorization, capture or refund.

        Returns:
            The void (code 109, same transaction id).

        Raises:
            PaytraceValidationError: settled or not voidable (816), unknown (58).
            PaytraceAmbiguousError: the answer was lost; read back before trying again.
        """
        return await self._batch_one("void", transaction_id, None)

    async def refund_transaction(
        self, transaction_id: int, amount: Decimal | None = None
    ) -> TransactionResponse:
        """Refund a settled transaction, fully or for ``amount`` (``/v3/card/batch/refund``).

        Args:
            transaction_id: the settled sale or capture.
            amount: a partial refund; None refunds what is left.

        Returns:
            The refund, with its own ``transaction_id`` (code 106).

        Raises:
            PaytraceValidationError: not settled yet (817: void instead), too much (814),
                not refundable (818), unknown (58).
            PaytraceAmbiguousError: the answer was lost; read back before trying again.
        """
        return await self._batch_one("refund", transaction_id, amount)

    async def export_by_id(self, transaction_id: int) -> ExportedTransaction | None:
        """Read one transaction (``/v3/transaction/export/{transaction_id}``).

        Args:
            transaction_id: PayTrace's transaction id.

        Returns:
            The transaction, or None when PayTrace does not know it (HTTP 404).
        """
        path = f"/v3/transaction/export/{int(transaction_id)}"
        try:
            data = await self._post(path, {}, money_moving=False)
        except PaytraceValidationError as exc:
            if int(NOT_FOUND_CODE) in exc.codes:
                return None
            raise
        if not isinstance(data, dict):
            raise PaytraceTransientError(f"{path}: answer without a record")
        return self._exported(path, data)

    async def export_by_date_range(
        self,
        start: date,
        end: date,
        *,
        transaction_type: str = "",
        transaction_id: int | None = None,
        customer_id: str = "",
        including_text: str = "",
    ) -> list[ExportedTransaction]:
        """List transactions created between two merchant-local dates, inclusive.

        Args:
            start: first day.
            end: last day.
            transaction_type: e.g. ``SALE``; empty for all.
            transaction_id: only this transaction.
            customer_id: only this vault customer.
            including_text: text the record must contain.

        Returns:
            The transactions, as PayTrace lists them.
        """
        path = "/v3/transactions/export/by-date"
        body: dict[str, Any] = {"start_date": start.isoformat(), "end_date": end.isoformat()}
        if transaction_type:
            body["transaction_type"] = transaction_type
        if transaction_id is not None:
            body["transaction_id"] = transaction_id
        if customer_id:
            body["customer_id"] = customer_id
        if including_text:
            body["including_text"] = including_text
        data = await self._post(path, body, money_moving=False)
        if not isinstance(data, list):
            raise PaytraceTransientError(f"{path}: answer without a list of records")
        return [self._exported(path, r) for r in data]

    # -- mapping --------------------------------------------------------------------------

    def _exported(self, path: str, record: object) -> ExportedTransaction:
        """Map a v3 export record onto the v1 model ``ExportedTransaction``."""
        if not isinstance(record, dict):
            raise PaytraceTransientError(f"{path}: a record is not an object")
        tax = record.get("tax_amount")
        try:
            return ExportedTransaction.model_validate(
                {
                    "transaction_id": record.get("transaction_id"),
                    "transaction_type": str(record.get("transaction_type") or ""),
                    "amount": record.get("amount"),
                    "tax_amount": "" if tax is None else str(tax),
                    "status_code": record.get("status_code"),
                    "status_message": str(record.get("status_message") or ""),
                    "approval_code": str(record.get("approval_code") or ""),
                    "approval_message": str(record.get("approval_message") or ""),
                    "avs_response": str(record.get("avs_response") or ""),
                    "csc_response": str(record.get("csc_response") or ""),
                    "invoice_id": record.get("invoice_number"),
                    "customer_reference_id": record.get("customer_reference_id"),
                    "customer_id": record.get("customer_id"),
                    "description": record.get("description"),
                    "email": record.get("email"),
                    "credit_card": {
                        "masked_number": str(record.get("masked_card_number") or ""),
                        "expiration_month": str(record.get("expiration_month") or ""),
                        "expiration_year": str(record.get("expiration_year") or ""),
                    },
                    "created": {"at": self._v1_timestamp(record.get("created_at"))},
                    "settled": self._v1_timestamp(record.get("settled_at")),
                    "batch_number": record.get("batch_number"),
                }
            )
        except (ValidationError, ValueError, TypeError):
            raise PaytraceTransientError(f"{path}: unreadable transaction record") from None

    def _v1_timestamp(self, value: object) -> str:
        """Turn a v3 ISO 8601 timestamp into v1's merchant-local ``M/D/YYYY h:mm:ss AM``."""
        if not isinstance(value, str) or not value.strip():
            return ""
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return value
        if moment.tzinfo is not None and self._tz is not None:
            moment = moment.astimezone(self._tz)
        hour = moment.hour % 12 or 12
        meridiem = "AM" if moment.hour < 12 else "PM"
        return (
            f"{moment.month}/{moment.day}/{moment.year} "
            f"{hour}:{moment.minute:02d}:{moment.second:02d} {meridiem}"
        )


def _sale_answer(path: str, data: Any) -> SaleResponse:
    """Read a v3 sale's ``data``: an approval, or raise for a decline or an unreadable answer."""
    if not isinstance(data, dict):
        raise PaytraceAmbiguousError(f"{path}: answer without a sale")
    status = str(data.get("status", "")).lower()
    code = as_int(data.get("response_code"))
    if status == "declined" or code in DECLINE_CODES:
        approval = str(data.get("approval_message", ""))
        raise PaytraceDeclined(
            f"{path}: declined ({code}) {approval.strip()}",
            response_code=code,
            transaction_id=as_int(data.get("transaction_id")) or None,
            approval_message=approval,
        )
    if status != "approved":
        raise PaytraceAmbiguousError(f"{path}: unexpected sale status {status!r} ({code})")
    try:
        return SaleResponse(
            success=True,
            response_code=code,
            status_message=str(data.get("status_message", "")),
            transaction_id=data.get("transaction_id"),
            approval_code=str(data.get("approval_code", "")),
            approval_message=str(data.get("approval_message", "")),
            avs_response=str(data.get("avs_response", "")),
            csc_response=str(data.get("csc_response", "")),
            masked_card_number=str(data.get("masked_card_number", "")),
        )
    except ValidationError:
        raise PaytraceAmbiguousError(f"{path}: approval without a transaction id") from None


def _sale_body(request: KeyedSaleRequest) -> dict[str, Any]:
    """Rewrite a v1 keyed sale in v3 field names, with amounts as numbers and no empty fields."""
    v1 = request.model_dump(mode="json", exclude_none=True)
    body: dict[str, Any] = {}
    for name, value in v1.items():
        if value in ("", {}, None):
            continue
        if name in _SALE_AMOUNTS:
            body[name] = Decimal(str(value))
        elif name == "billing_address" and isinstance(value, dict):
            address = {k: v for k, v in value.items() if v not in ("", None)}
            billing_name = address.pop("name", "")
            if billing_name:
                body["billing_name"] = billing_name
            if address:
                body["billing_address"] = address
        else:
            body[_SALE_FIELDS.get(name, name)] = value
    return body


def _classify(path: str, resp: httpx.Response, *, money_moving: bool) -> Any:
    """Return a response's ``data`` or raise the matching error of the taxonomy."""
    status = resp.status_code
    if status == 429:
        raise PaytraceRateLimited(f"{path}: rate limited", retry_after=retry_after(resp))
    body = json_or_none(resp)
    if status >= 500 or body is None:
        what = f"{path}: HTTP {status}" + ("" if body is not None else ", unreadable body")
        if money_moving:
            raise PaytraceAmbiguousError(what)
        raise PaytraceTransientError(what)
    if status in (200, 201):
        if "data" not in body:
            what = f"{path}: HTTP {status} without a data envelope"
            if money_moving:
                raise PaytraceAmbiguousError(what)
            raise PaytraceTransientError(what)
        return body["data"]
    message = str(body.get("message") or body.get("error") or "")
    if status == 403:
        raise PaytraceAuthError(f"{path}: forbidden: {message}")
    if status == 404 and body.get("error"):
        raise PaytraceValidationError(f"{path}: {message}", errors={NOT_FOUND_CODE: [message]})
    if status in (400, 422) and body.get("error"):
        errors = body.get("errors")
        clean = (
            {
                str(k): [str(m) for m in (v if isinstance(v, list) else [v])]
                for k, v in errors.items()
            }
            if isinstance(errors, dict) and errors
            else {"request": [message]}
        )
        if AUTH_ERROR_CODES & clean.keys():
            raise PaytraceAuthError(f"{path}: {message} {clean}")
        raise PaytraceValidationError(f"{path}: {message}", errors=clean)
    raise PaytraceError(f"{path}: unexpected answer HTTP {status}: {message}")
