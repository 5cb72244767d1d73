"""Vault customers and recurrences of the PayTrace v1 API."""

from __future__ import annotations

from typing import Any

from connectors.paytrace.errors import (
    PaytraceValidationError,
)
from connectors.paytrace.models import (
    CustomerRequest,
    CustomerResponse,
    ExportedCustomer,
    Recurrence,
    RecurrenceRequest,
    SimpleResponse,
)
from connectors.paytrace.transport import PaytraceTransport


class VaultOperations(PaytraceTransport):
    """``/v1/customer/*`` and ``/v1/recurrence/*``."""

    async def create_customer(self, request: CustomerRequest) -> CustomerResponse:
        """Create a vault customer under our own ``customer_id`` (160; taken: error 171)."""
        if request.credit_card is None:
            raise ValueError("a new vault customer needs a credit_card")
        body = request.model_dump(mode="json", exclude_none=True)
        path = "/v1/customer/create"
        data = await self._post(path, body, money_moving=False)
        return self._parse(CustomerResponse, data, path, money_moving=False)

    async def create_customer_from_transaction(
        self, transaction_id: int, customer_id: str, *, email: str = ""
    ) -> CustomerResponse:
        """Save the card of an approved transaction as a vault customer (160).

        Args:
            transaction_id: the approved sale whose card is kept.
            customer_id: our id for the new profile (taken: error 171).
            email: the customer's e-mail, if known.
        """
        body: dict[str, Any] = {"transaction_id": transaction_id, "customer_id": customer_id}
        if email:
            body["email"] = email
        path = "/v1/customer/create_from_transaction"
        data = await self._post(path, body, money_moving=False)
        return self._parse(CustomerResponse, data, path, money_moving=False)

    async def update_customer(self, request: CustomerRequest) -> CustomerResponse:
        """Update the fields sent of a vault customer; ``new_id`` renames it (161)."""
        body = request.model_dump(mode="json", exclude_none=True)
        path = "/v1/customer/update"
        data = await self._post(path, body, money_moving=False)
        return self._parse(CustomerResponse, data, path, money_moving=False)

    async def delete_customer(self, customer_id: str) -> CustomerResponse:
        """Delete a vault customer (162; unknown: error 30)."""
        body = {"customer_id": customer_id}
        path = "/v1/customer/delete"
        data = await self._post(path, body, money_moving=False)
        return self._parse(CustomerResponse, data, path, money_moving=False)

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
        return self._parse_list(ExportedCustomer, data, "customers", "/v1/customer/export")

    async def create_recurrence(self, customer_id: str, spec: RecurrenceRequest) -> Recurrence:
        """Schedule recurring charges of a vault customer (``/v1/recurrence/create``)."""
        body = {"customer_id": customer_id, "recurrence": spec.model_dump(mode="json")}
        path = "/v1/recurrence/create"
        data = await self._post(path, body, money_moving=False)
        return self._parse(Recurrence, data.get("recurrence") or {}, path, money_moving=False)

    async def delete_recurrence(self, recurrence_id: int) -> SimpleResponse:
        """Cancel a recurrence (``/v1/recurrence/delete``)."""
        body = {"recurrence": {"id": recurrence_id}}
        path = "/v1/recurrence/delete"
        data = await self._post(path, body, money_moving=False)
        return self._parse(SimpleResponse, data, path, money_moving=False)
