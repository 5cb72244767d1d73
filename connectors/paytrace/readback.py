"""Read-back after a lost answer, shared by the v1 and v3 clients."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from connectors.paytrace.models import ExportedTransaction
from connectors.paytrace.wire import select_read_back


class ReadBack:
    """``find_transactions`` on top of a client's ``export_by_date_range``."""

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
        """List transactions created between two merchant-local dates (each client's own)."""
        raise NotImplementedError

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
