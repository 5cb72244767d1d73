"""The interface tracepost's activities use, whichever PayTrace API generation answers.

``PaytraceClient`` (JSON v1, production today) and ``PaytraceV3Client`` (North's v3 "B2B API",
spoken so far only by the simulator) both satisfy it, so the activities never know which one
they hold.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Protocol

from connectors.paytrace.models import (
    CustomerSaleRequest,
    ExportedTransaction,
    KeyedSaleRequest,
    SaleResponse,
    TransactionResponse,
)


class PaytraceGateway(Protocol):
    """Card operations and exports, with one error taxonomy (``connectors.paytrace.errors``)."""

    async def ping(self) -> bool:
        """Tell whether the API answers."""
        ...

    async def sale_keyed(self, request: KeyedSaleRequest) -> SaleResponse:
        """Charge a keyed card; declines raise ``PaytraceDeclined``."""
        ...

    async def sale_by_customer(self, request: CustomerSaleRequest) -> SaleResponse:
        """Charge a vault customer's stored card; declines raise ``PaytraceDeclined``."""
        ...

    async def capture(
        self, transaction_id: int, amount: Decimal | None = None
    ) -> TransactionResponse:
        """Capture an authorization, fully or for ``amount``."""
        ...

    async def void(self, transaction_id: int) -> TransactionResponse:
        """Void an unsettled transaction."""
        ...

    async def refund_transaction(
        self, transaction_id: int, amount: Decimal | None = None
    ) -> TransactionResponse:
        """Refund a settled transaction, fully or for ``amount``."""
        ...

    async def export_by_id(self, transaction_id: int) -> ExportedTransaction | None:
        """Read one transaction; None when PayTrace does not know it."""
        ...

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
        """List transactions created between two merchant-local dates, inclusive."""
        ...

    async def find_transactions(
        self,
        on: date,
        *,
        amount: Decimal | None = None,
        invoice_id: str = "",
        transaction_type: str = "",
    ) -> list[ExportedTransaction]:
        """Read back after a lost answer: one day's transactions matching amount and invoice."""
        ...

    async def aclose(self) -> None:
        """Close the connection pool."""
        ...
