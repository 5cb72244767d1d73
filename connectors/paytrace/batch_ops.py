"""Settled batches of the PayTrace v1 API."""

from __future__ import annotations

from datetime import date

from connectors.paytrace.errors import (
    PaytraceValidationError,
)
from connectors.paytrace.models import (
    BatchSummary,
    ExportedTransaction,
)
from connectors.paytrace.transport import PaytraceTransport


class BatchOperations(PaytraceTransport):
    """``/v1/batches/*``: batch summaries and a batch's transactions."""

    async def export_batch(self, batch_number: int | None = None) -> BatchSummary | None:
        """Summarize one settled batch, or the latest (``/v1/batches/export_one``).

        Returns:
            The batch, or None when PayTrace has no such batch.
        """
        body = {} if batch_number is None else {"batch_number": batch_number}
        path = "/v1/batches/export_one"
        try:
            data = await self._post(path, body, money_moving=False)
        except PaytraceValidationError as exc:
            if 90 in exc.codes:
                return None
            raise
        return self._parse(BatchSummary, data.get("batch") or {}, path, money_moving=False)

    async def export_batches(self, start: date, end: date) -> list[BatchSummary]:
        """List the batches settled between two merchant-local dates (``/v1/batches/export``)."""
        body = {"start_date": start.strftime("%m/%d/%Y"), "end_date": end.strftime("%m/%d/%Y")}
        data = await self._post("/v1/batches/export", body, money_moving=False)
        return self._parse_list(BatchSummary, data, "batches", "/v1/batches/export")

    async def batch_transactions(self, batch_number: int) -> list[ExportedTransaction]:
        """List the transactions settled in a batch (``/v1/batches/transaction_list``)."""
        body = {"batch_number": batch_number}
        data = await self._post("/v1/batches/transaction_list", body, money_moving=False)
        path = "/v1/batches/transaction_list"
        return self._parse_list(ExportedTransaction, data, "transactions", path)
