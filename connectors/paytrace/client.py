"""Async client of the PayTrace v1 JSON API: one connection pool, a shared token, one error taxonomy.

Money-moving requests (sales, refunds, voids) are never retried here: when their answer is lost the
client raises :class:`PaytraceAmbiguousError` and the caller reads back (``find_transactions``)
before deciding to try again. Nothing sensitive reaches a log or an exception text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

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
    BatchSummary,
    CheckResponse,
    CheckSaleRequest,
    CustomerRefundRequest,
    CustomerRequest,
    CustomerResponse,
    CustomerSaleRequest,
    ExportedCustomer,
    ExportedTransaction,
    KeyedRefundRequest,
    KeyedSaleRequest,
    LevelThreeRequest,
    Recurrence,
    RecurrenceRequest,
    SaleResponse,
    SimpleResponse,
    TransactionResponse,
)
from connectors.paytrace.wire import as_int, json_or_none, retry_after, select_read_back
from domain.money import format_amount

log = logging.getLogger(__name__)

AUTH_ERROR_CODES = frozenset({"981"})
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=10.0)
TOKEN_REFRESH_MARGIN = 300.0


class PaytraceClient:
    """PayTrace v1 API client.

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
        self._username = username
        self._password = password
        self._integrator_id = integrator_id
        self._clock = clock
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport, verify=True
        )
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self.token_fetches = 0

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> PaytraceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

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
            self._token = str(body["access_token"])
            lifetime = float(body.get("expires_in", 7200))
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
            resp = await self._send(path, payload, token, money_moving=money_moving)
            data = json_or_none(resp)
            if resp.status_code == 401 or (
                data is not None and data.get("error") == "invalid_token"
            ):
                if attempt == 1:
                    log.info("paytrace token rejected on %s; re-authenticating", path)
                    token = await self._bearer(stale=token)
                    continue
                raise PaytraceAuthError(f"PayTrace rejected a fresh token on {path}")
            return _classify(path, resp, data, money_moving=money_moving)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self, path: str, payload: str, token: str, *, money_moving: bool
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        try:
            return await self._http.post(path, content=payload, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise PaytraceTransientError(f"{path}: not sent ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            what = f"{path}: sent, answer lost ({type(exc).__name__})"
            if money_moving:
                raise PaytraceAmbiguousError(what) from None
            raise PaytraceTransientError(what) from None

    # -- operations -----------------------------------------------------------------------

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

    async def sale_keyed(self, request: KeyedSaleRequest) -> SaleResponse:
        """Charge a card (``/v1/transactions/sale/keyed``).

        Args:
            request: the sale; the card number and CSC never leave this call except to PayTrace.

        Returns:
            The approval.

        Raises:
            PaytraceDeclined: the issuer declined; ``transaction_id`` says which transaction.
            PaytraceAmbiguousError: the answer was lost; read back before trying again.
        """
        body = request.model_dump(mode="json", exclude_none=True)
        data = await self._post("/v1/transactions/sale/keyed", body, money_moving=True)
        return SaleResponse.model_validate(data)

    async def export_by_id(self, transaction_id: int) -> ExportedTransaction | None:
        """Read one transaction (``/v1/transactions/export/by_id``).

        Args:
            transaction_id: PayTrace's transaction id.

        Returns:
            The transaction, or None when PayTrace does not know it (error 58).
        """
        body = {"transaction_id": transaction_id, "include_bin": False}
        try:
            data = await self._post("/v1/transactions/export/by_id", body, money_moving=False)
        except PaytraceValidationError as exc:
            if 58 in exc.codes:
                return None
            raise
        records = data.get("transactions") or []
        return ExportedTransaction.model_validate(records[0]) if records else None

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
        body: dict[str, Any] = {
            "start_date": start.strftime("%m/%d/%Y"),
            "end_date": end.strftime("%m/%d/%Y"),
            "include_bin": False,
        }
        if transaction_type:
            body["transaction_type"] = transaction_type
        if transaction_id is not None:
            body["transaction_id"] = transaction_id
        if customer_id:
            body["customer_id"] = customer_id
        if including_text:
            body["including_text"] = including_text
        data = await self._post("/v1/transactions/export/by_date_range", body, money_moving=False)
        return [ExportedTransaction.model_validate(r) for r in data.get("transactions") or []]

    async def find_transactions(
        self,
        on: date,
        *,
        amount: Decimal | None = None,
        invoice_id: str = "",
        transaction_type: str = "",
    ) -> list[ExportedTransaction]:
        """Read back: transactions of one day matching an amount and invoice, after a lost answer.

        Args:
            on: the merchant-local day the request was sent.
            amount: the amount sent, if any.
            invoice_id: the invoice id sent, if any.
            transaction_type: e.g. ``SALE``.

        Returns:
            Matching transactions; an empty list means the first attempt did not happen.
        """
        found = await self.export_by_date_range(
            on, on, transaction_type=transaction_type, including_text=invoice_id
        )
        return select_read_back(found, amount=amount, invoice_id=invoice_id)

    # -- more card operations -------------------------------------------------------------

    async def _money(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post(path, body, money_moving=True)

    async def sale_by_customer(self, request: CustomerSaleRequest) -> SaleResponse:
        """Charge a vault customer's stored card (``/v1/transactions/sale/by_customer``).

        Raises:
            PaytraceDeclined: the issuer declined.
            PaytraceAmbiguousError: the answer was lost; read back before trying again.
        """
        body = request.model_dump(mode="json", exclude_none=True)
        return SaleResponse.model_validate(
            await self._money("/v1/transactions/sale/by_customer", body)
        )

    async def authorize_keyed(self, request: KeyedSaleRequest) -> SaleResponse:
        """Authorize a keyed card without capturing it (``/v1/transactions/authorization/keyed``)."""
        body = request.model_dump(mode="json", exclude_none=True)
        return SaleResponse.model_validate(
            await self._money("/v1/transactions/authorization/keyed", body)
        )

    async def authorize_by_customer(self, request: CustomerSaleRequest) -> SaleResponse:
        """Authorize a vault customer's card (``/v1/transactions/authorization/by_customer``)."""
        body = request.model_dump(mode="json", exclude_none=True)
        return SaleResponse.model_validate(
            await self._money("/v1/transactions/authorization/by_customer", body)
        )

    async def capture(
        self, transaction_id: int, amount: Decimal | None = None
    ) -> TransactionResponse:
        """Capture an authorization, fully or for a smaller ``amount`` (code 112).

        Args:
            transaction_id: the authorization.
            amount: a partial capture; None captures the authorized amount.
        """
        body: dict[str, Any] = {"transaction_id": transaction_id}
        if amount is not None:
            body["amount"] = format_amount(amount)
        data = await self._money("/v1/transactions/authorization/capture", body)
        return TransactionResponse.model_validate(data)

    async def void(self, transaction_id: int) -> TransactionResponse:
        """Void an unsettled transaction (code 109); a settled one must be refunded.

        Args:
            transaction_id: the sale, authorization, capture or refund.
        """
        data = await self._money("/v1/transactions/void", {"transaction_id": transaction_id})
        return TransactionResponse.model_validate(data)

    async def refund_transaction(
        self, transaction_id: int, amount: Decimal | None = None
    ) -> TransactionResponse:
        """Refund a settled sale, fully or in part (code 106; unsettled: error 817).

        Args:
            transaction_id: the settled sale or capture.
            amount: a partial refund; None refunds what is left.

        Returns:
            The refund, with its own ``transaction_id``.
        """
        body: dict[str, Any] = {"transaction_id": transaction_id}
        if amount is not None:
            body["amount"] = format_amount(amount)
        data = await self._money("/v1/transactions/refund/for_transaction", body)
        return TransactionResponse.model_validate(data)

    async def refund_keyed(self, request: KeyedRefundRequest) -> TransactionResponse:
        """Refund to a keyed card with no original sale (``/v1/transactions/refund/keyed``)."""
        body = request.model_dump(mode="json", exclude_none=True)
        data = await self._money("/v1/transactions/refund/keyed", body)
        return TransactionResponse.model_validate(data)

    async def refund_to_customer(self, request: CustomerRefundRequest) -> TransactionResponse:
        """Refund to a vault customer's card (``/v1/transactions/refund/to_customer``)."""
        body = request.model_dump(mode="json", exclude_none=True)
        data = await self._money("/v1/transactions/refund/to_customer", body)
        return TransactionResponse.model_validate(data)

    async def settle(self) -> int | None:
        """Settle the open batch now: PayTrace's sandbox (and the simulator) only.

        Returns:
            The new batch number, or None when nothing was waiting.
        """
        data = await self._post("/v1/transactions/settle", {}, money_moving=False)
        number = data.get("batch_number")
        return None if number is None else int(number)

    async def add_level_three(self, network: str, request: LevelThreeRequest) -> SimpleResponse:
        """Add level 3 data to an approved, unsettled Visa or Mastercard sale (code 170).

        Args:
            network: ``visa`` or ``mastercard``.
            request: the enhanced data.
        """
        if network not in ("visa", "mastercard"):
            raise ValueError(f"level 3 data exists for visa and mastercard, not {network!r}")
        body = request.model_dump(mode="json", exclude_none=True)
        data = await self._post(f"/v1/level_three/{network}", body, money_moving=False)
        return SimpleResponse.model_validate(data)

    # -- ACH ------------------------------------------------------------------------------

    async def check_sale(self, request: CheckSaleRequest) -> CheckResponse:
        """Debit a bank account (``/v1/checks/sale/by_account``, code 120; not processed: 125).

        Raises:
            PaytraceDeclined: the check was not processed (125), with ``ach_code``.
            PaytraceAmbiguousError: the answer was lost; read back before trying again.
        """
        body = request.model_dump(mode="json", exclude_none=True)
        return CheckResponse.model_validate(await self._money("/v1/checks/sale/by_account", body))

    async def check_refund(self, check_id: int, amount: Decimal | None = None) -> CheckResponse:
        """Refund a settled check sale, fully or in part (code 122).

        Args:
            check_id: the check sale's ``check_transaction_id``.
            amount: a partial refund; None refunds what is left.
        """
        body: dict[str, Any] = {"check_transaction_id": check_id}
        if amount is not None:
            body["amount"] = format_amount(amount)
        return CheckResponse.model_validate(
            await self._money("/v1/checks/refund/by_transaction", body)
        )

    async def check_void(self, check_id: int) -> CheckResponse:
        """Void an unsettled check (code 124; settled or unknown: error 80)."""
        body = {"check_transaction_id": check_id}
        return CheckResponse.model_validate(await self._money("/v1/checks/manage/void", body))

    # -- vault and recurrences ------------------------------------------------------------

    async def create_customer(self, request: CustomerRequest) -> CustomerResponse:
        """Create a vault customer under our own ``customer_id`` (160; taken: error 171)."""
        if request.credit_card is None:
            raise ValueError("a new vault customer needs a credit_card")
        body = request.model_dump(mode="json", exclude_none=True)
        data = await self._post("/v1/customer/create", body, money_moving=False)
        return CustomerResponse.model_validate(data)

    async def update_customer(self, request: CustomerRequest) -> CustomerResponse:
        """Update the fields sent of a vault customer; ``new_id`` renames it (161)."""
        body = request.model_dump(mode="json", exclude_none=True)
        data = await self._post("/v1/customer/update", body, money_moving=False)
        return CustomerResponse.model_validate(data)

    async def delete_customer(self, customer_id: str) -> CustomerResponse:
        """Delete a vault customer (162; unknown: error 30)."""
        body = {"customer_id": customer_id}
        data = await self._post("/v1/customer/delete", body, money_moving=False)
        return CustomerResponse.model_validate(data)

    async def export_customers(self, customer_id: str = "") -> list[ExportedCustomer]:
        """List vault customers (masked cards only), or just ``customer_id``.

        Returns:
            The customers; an unknown ``customer_id`` gives an empty list.
        """
        body = {"customer_id": customer_id} if customer_id else {}
        try:
            data = await self._post("/v1/customer/export", body, money_moving=False)
        except PaytraceValidationError as exc:
            if customer_id and 30 in exc.codes:
                return []
            raise
        return [ExportedCustomer.model_validate(c) for c in data.get("customers") or []]

    async def create_recurrence(self, customer_id: str, spec: RecurrenceRequest) -> Recurrence:
        """Schedule recurring charges of a vault customer (``/v1/recurrence/create``)."""
        body = {"customer_id": customer_id, "recurrence": spec.model_dump(mode="json")}
        data = await self._post("/v1/recurrence/create", body, money_moving=False)
        return Recurrence.model_validate(data.get("recurrence") or {})

    async def delete_recurrence(self, recurrence_id: int) -> SimpleResponse:
        """Cancel a recurrence (``/v1/recurrence/delete``)."""
        body = {"recurrence": {"id": recurrence_id}}
        data = await self._post("/v1/recurrence/delete", body, money_moving=False)
        return SimpleResponse.model_validate(data)

    # -- batches --------------------------------------------------------------------------

    async def export_batch(self, batch_number: int | None = None) -> BatchSummary | None:
        """Summarize one settled batch, or the latest (``/v1/batches/export_one``).

        Returns:
            The batch, or None when PayTrace has no such batch.
        """
        body = {} if batch_number is None else {"batch_number": batch_number}
        try:
            data = await self._post("/v1/batches/export_one", body, money_moving=False)
        except PaytraceValidationError as exc:
            if 90 in exc.codes:
                return None
            raise
        return BatchSummary.model_validate(data.get("batch") or {})

    async def export_batches(self, start: date, end: date) -> list[BatchSummary]:
        """List the batches settled between two merchant-local dates (``/v1/batches/export``)."""
        body = {"start_date": start.strftime("%m/%d/%Y"), "end_date": end.strftime("%m/%d/%Y")}
        data = await self._post("/v1/batches/export", body, money_moving=False)
        return [BatchSummary.model_validate(b) for b in data.get("batches") or []]

    async def batch_transactions(self, batch_number: int) -> list[ExportedTransaction]:
        """List the transactions settled in a batch (``/v1/batches/transaction_list``)."""
        body = {"batch_number": batch_number}
        data = await self._post("/v1/batches/transaction_list", body, money_moving=False)
        return [ExportedTransaction.model_validate(r) for r in data.get("transactions") or []]


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
