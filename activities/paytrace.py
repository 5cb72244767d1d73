"""Activities that read from PayTrace."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from activities.errors import to_application_error
from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.errors import PaytraceError
from domain.activity_io import SweepWindow, SweptTransaction
from domain.models import PaytraceTransaction


class PaytraceActivities:
    """PayTrace reads, with the client injected.

    Args:
        client: the shared PayTrace client.
        timezone: the merchant's time zone, in which PayTrace reports dates and times.
    """

    def __init__(self, client: PaytraceClient, timezone: str) -> None:
        self._client = client
        self._tz = ZoneInfo(timezone)

    def _as_utc(self, local: datetime) -> datetime:
        """A merchant-local, zone-less PayTrace timestamp as UTC.

        In the hour repeated when clocks go back, the later of the two instants is taken
        (``fold=1``): a transaction is then at worst read once more, never skipped.
        """
        return local.replace(tzinfo=self._tz, fold=1).astimezone(UTC)

    @activity.defn(name=names.FETCH_TRANSACTION)
    async def fetch_transaction(self, transaction_id: int) -> PaytraceTransaction:
        """Re-read a transaction from PayTrace; the event that announced it is never trusted.

        Args:
            transaction_id: PayTrace's transaction id.

        Returns:
            The transaction with the masked card number only.
        """
        try:
            found = await self._client.export_by_id(transaction_id)
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        if found is None:
            # Retryable: PayTrace's export can lag a Silent Post by a moment. After the retry
            # policy's attempts the workflow parks with this reason.
            raise ApplicationError(
                f"PayTrace has no transaction {transaction_id}", type="paytrace_unknown_transaction"
            )
        return found.to_domain()

    @activity.defn(name=names.EXPORT_SWEEP_WINDOW)
    async def export_sweep_window(self, window: SweepWindow) -> list[SweptTransaction]:
        """List the transactions PayTrace created in a window (read by merchant-local dates).

        Args:
            window: the UTC window and the transaction types wanted.

        Returns:
            The transactions created at or after the window's start, oldest first.
        """
        since = window.since.replace(microsecond=0)  # PayTrace timestamps have whole seconds
        first_day = since.astimezone(self._tz).date()
        last_day = window.until.astimezone(self._tz).date()
        try:
            records = await self._client.export_by_date_range(first_day, last_day)
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        wanted = {t.upper() for t in window.transaction_types}
        found = []
        for record in records:
            if record.transaction_type.upper() not in wanted:
                continue
            txn = record.to_domain()
            has_time = record.created is not None and ":" in record.created.at
            if has_time and txn.created_at is not None and self._as_utc(txn.created_at) < since:
                continue  # a record without a time of day is kept: re-reading it is harmless
            found.append(
                SweptTransaction(
                    transaction_id=txn.transaction_id,
                    transaction_type=record.transaction_type.upper(),
                )
            )
        found.sort(key=lambda t: t.transaction_id)
        return found
