"""Activities that read card transactions and settlement batches from PayTrace."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from activities.errors import to_application_error
from activities.observability import tag_span
from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.errors import PaytraceError
from connectors.paytrace.models import ExportedTransaction, parse_timestamp
from domain.activity_io import SweepLookback, SweepWindow, SweptTransaction
from domain.mapping import DocumentAction, DocumentsMap, StatusesMap
from domain.models import PaytraceTransaction
from domain.settlement import BatchInfo
from domain.settlement_io import BatchQuery


def local_days(lookback: SweepLookback | BatchQuery, tz: ZoneInfo) -> tuple[date, date]:
    """The merchant-local calendar days a lookback covers: ``days`` back up to ``until``.

    Args:
        lookback: up to when, and how many days back.
        tz: the merchant's time zone.

    Returns:
        (first day, last day), both included.
    """
    last_day = lookback.until.astimezone(tz).date()
    return last_day - timedelta(days=lookback.days), last_day


class PaytraceActivities:
    """PayTrace reads, with the client injected.

    Args:
        client: the shared PayTrace client.
        timezone: the merchant's time zone, in which PayTrace reports dates and times.
        documents: which document each transaction type becomes (the mapping's ``documents``).
        statuses: how response codes read (the mapping's ``statuses``).
    """

    def __init__(
        self,
        client: PaytraceClient,
        timezone: str,
        documents: DocumentsMap | None = None,
        statuses: StatusesMap | None = None,
    ) -> None:
        self._client = client
        self._tz = ZoneInfo(timezone)
        self._documents = documents or DocumentsMap()
        statuses = statuses or StatusesMap()
        self._approved = frozenset(statuses.approved)
        self._declined = frozenset(statuses.declined)

    def _as_utc(self, local: datetime) -> datetime:
        """A merchant-local, zone-less PayTrace timestamp as UTC.

        In the hour repeated when clocks go back, the later of the two instants is taken
        (``fold=1``): a transaction is then at worst read once more, never skipped.
        """
        return local.replace(tzinfo=self._tz, fold=1).astimezone(UTC)

    def _domain(self, record: ExportedTransaction) -> PaytraceTransaction:
        return record.to_domain(self._approved, self._declined)

    @activity.defn(name=names.FETCH_TRANSACTION)
    async def fetch_transaction(self, transaction_id: int) -> PaytraceTransaction:
        """Re-read a transaction from PayTrace; the event that announced it is never trusted.

        Args:
            transaction_id: PayTrace's transaction id.

        Returns:
            The transaction with the masked card number only.
        """
        tag_span(transaction_id=transaction_id)
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
        return self._domain(found)

    @activity.defn(name=names.EXPORT_SWEEP_WINDOW)
    async def export_sweep_window(self, window: SweepWindow) -> list[SweptTransaction]:
        """List the transactions PayTrace created in a window (read by merchant-local dates).

        Args:
            window: the UTC window and the transaction types wanted.

        Returns:
            The transactions created at or after the window's start, oldest first, each with
            the action the mapping gives its type; types the mapping ignores are left out.
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
            kind = record.transaction_type.upper()
            action = self._documents.action(kind)
            if kind not in wanted or action is DocumentAction.IGNORE:
                continue
            txn = self._domain(record)
            has_time = record.created is not None and ":" in record.created.at
            if has_time and txn.created_at is not None and self._as_utc(txn.created_at) < since:
                continue  # a record without a time of day is kept: re-reading it is harmless
            found.append(
                SweptTransaction(
                    transaction_id=txn.transaction_id, transaction_type=kind, action=action.value
                )
            )
        found.sort(key=lambda t: t.transaction_id)
        return found

    @activity.defn(name=names.EXPORT_VOIDS)
    async def export_voids(self, lookback: SweepLookback) -> list[SweptTransaction]:
        """List the voided transactions of the last days (a void keeps its sale's date).

        Args:
            lookback: up to when, and how many merchant-local days back.

        Returns:
            The voids, oldest first; none when the mapping ignores voids.
        """
        action = self._documents.action("VOID")
        if action is DocumentAction.IGNORE:
            return []
        first_day, last_day = local_days(lookback, self._tz)
        try:
            records = await self._client.export_by_date_range(
                first_day, last_day, transaction_type="VOID"
            )
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        voids = [
            SweptTransaction(
                transaction_id=r.transaction_id, transaction_type="VOID", action=action.value
            )
            for r in records
            if r.transaction_type.upper() == "VOID"
        ]
        return sorted(voids, key=lambda t: t.transaction_id)

    @activity.defn(name=names.SETTLED_BATCHES)
    async def settled_batches(self, query: BatchQuery) -> list[BatchInfo]:
        """List the batches PayTrace settled in the last days, oldest first.

        Args:
            query: up to when, and how many merchant-local days back.

        Returns:
            Each batch's summary; ``settled_at`` is merchant-local time.
        """
        first_day, last_day = local_days(query, self._tz)
        try:
            batches = await self._client.export_batches(first_day, last_day)
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        found = [
            BatchInfo(
                number=b.number,
                settled_at=parse_timestamp(b.settled),
                transaction_count=b.transaction_count,
                sales_count=b.sales_count,
                sales_amount=b.sales_amount,
                refund_count=b.refund_count,
                refund_amount=b.refund_amount,
                net_amount=b.net_amount,
            )
            for b in batches
        ]
        return sorted(found, key=lambda b: b.number)
