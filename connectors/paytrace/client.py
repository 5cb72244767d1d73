"""Async client of the PayTrace v1 JSON API: every operation tracepost uses.

Transport, token and error taxonomy are in :mod:`connectors.paytrace.transport`; ACH, vault and
batch operations in their own modules. Money-moving calls are never retried here: a lost answer
raises :class:`PaytraceAmbiguousError` and the caller reads back (``find_transactions``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from connectors.paytrace.ach_ops import AchOperations
from connectors.paytrace.batch_ops import BatchOperations
from connectors.paytrace.errors import (
    PaytraceValidationError,
)
from connectors.paytrace.models import (
    CustomerRefundRequest,
    CustomerSaleRequest,
    ExportedTransaction,
    KeyedRefundRequest,
    KeyedSaleRequest,
    LevelThreeRequest,
    SaleResponse,
    SettleResponse,
    SimpleResponse,
    TransactionResponse,
)
from connectors.paytrace.readback import ReadBack
from connectors.paytrace.vault_ops import VaultOperations
from domain.money import format_amount


class PaytraceClient(AchOperations, VaultOperations, BatchOperations, ReadBack):
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
        path = "/v1/transactions/sale/keyed"
        data = await self._post(path, body, money_moving=True)
        return self._parse(SaleResponse, data, path, money_moving=True)

    async def export_by_id(self, transaction_id: int) -> ExportedTransaction | None:
        """Read one transaction (``/v1/transactions/export/by_id``).

        Args:
            transaction_id: PayTrace's transaction id.

        Returns:
            The transaction, or None when PayTrace does not know it (error 58).
        """
        body = {"transaction_id": transaction_id, "include_bin": False}
        path = "/v1/transactions/export/by_id"
        try:
            data = await self._post(path, body, money_moving=False)
        except PaytraceValidationError as exc:
            if 58 in exc.codes:
                return None
            raise
        records = self._parse_list(ExportedTransaction, data, "transactions", path)
        return records[0] if records else None

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
        path = "/v1/transactions/export/by_date_range"
        return self._parse_list(ExportedTransaction, data, "transactions", path)

    async def sale_by_customer(self, request: CustomerSaleRequest) -> SaleResponse:
        """Charge a vault customer's stored card (``/v1/transactions/sale/by_customer``).

        Raises:
            PaytraceDeclined: the issuer declined.
            PaytraceAmbiguousError: the answer was lost; read back before trying again.
        """
        body = request.model_dump(mode="json", exclude_none=True)
        path = "/v1/transactions/sale/by_customer"
        return self._parse(SaleResponse, await self._money(path, body), path, money_moving=True)

    async def authorize_keyed(self, request: KeyedSaleRequest) -> SaleResponse:
        """Authorize a keyed card without capturing it (``/v1/transactions/authorization/keyed``)."""
        body = request.model_dump(mode="json", exclude_none=True)
        path = "/v1/transactions/authorization/keyed"
        return self._parse(SaleResponse, await self._money(path, body), path, money_moving=True)

    async def authorize_by_customer(self, request: CustomerSaleRequest) -> SaleResponse:
        """Authorize a vault customer's card (``/v1/transactions/authorization/by_customer``)."""
        body = request.model_dump(mode="json", exclude_none=True)
        path = "/v1/transactions/authorization/by_customer"
        return self._parse(SaleResponse, await self._money(path, body), path, money_moving=True)

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
        path = "/v1/transactions/authorization/capture"
        data = await self._money(path, body)
        return self._parse(TransactionResponse, data, path, money_moving=True)

    async def void(self, transaction_id: int) -> TransactionResponse:
        """Void an unsettled transaction (code 109); a settled one must be refunded.

        Args:
            transaction_id: the sale, authorization, capture or refund.
        """
        path = "/v1/transactions/void"
        data = await self._money(path, {"transaction_id": transaction_id})
        return self._parse(TransactionResponse, data, path, money_moving=True)

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
        path = "/v1/transactions/refund/for_transaction"
        data = await self._money(path, body)
        return self._parse(TransactionResponse, data, path, money_moving=True)

    async def refund_keyed(self, request: KeyedRefundRequest) -> TransactionResponse:
        """Refund to a keyed card with no original sale (``/v1/transactions/refund/keyed``)."""
        body = request.model_dump(mode="json", exclude_none=True)
        path = "/v1/transactions/refund/keyed"
        data = await self._money(path, body)
        return self._parse(TransactionResponse, data, path, money_moving=True)

    async def refund_to_customer(self, request: CustomerRefundRequest) -> TransactionResponse:
        """Refund to a vault customer's card (``/v1/transactions/refund/to_customer``)."""
        body = request.model_dump(mode="json", exclude_none=True)
        path = "/v1/transactions/refund/to_customer"
        data = await self._money(path, body)
        return self._parse(TransactionResponse, data, path, money_moving=True)

    async def settle(self) -> int | None:
        """Settle the open batch now: PayTrace's sandbox (and the simulator) only.

        Returns:
            The new batch number, or None when nothing was waiting.
        """
        path = "/v1/transactions/settle"
        data = await self._post(path, {}, money_moving=False)
        return self._parse(SettleResponse, data, path, money_moving=False).batch_number

    async def add_level_three(self, network: str, request: LevelThreeRequest) -> SimpleResponse:
        """Add level 3 data to an approved, unsettled Visa or Mastercard sale (code 170).

        Args:
            network: ``visa`` or ``mastercard``.
            request: the enhanced data.
        """
        if network not in ("visa", "mastercard"):
            raise ValueError(f"level 3 data exists for visa and mastercard, not {network!r}")
        body = request.model_dump(mode="json", exclude_none=True)
        path = f"/v1/level_three/{network}"
        data = await self._post(path, body, money_moving=False)
        return self._parse(SimpleResponse, data, path, money_moving=False)
