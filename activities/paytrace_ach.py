"""Activities that read ACH (check) transactions from PayTrace: payments and bank returns."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from activities.errors import to_application_error
from activities.observability import tag_span
from activities.paytrace import local_days
from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.errors import PaytraceError
from domain.activity_io import SweepLookback, SweepWindow, SweptTransaction
from domain.mapping import DocumentAction, DocumentsMap
from domain.models import PaymentSource, PaytraceTransaction


class AchActivities:
    """ACH reads, with the client injected.

    Args:
        client: the shared PayTrace client (v1: the check exports).
        timezone: the merchant's time zone, in which PayTrace reports dates and times.
        documents: which document ACH debits and returns become (the mapping's ``documents``).
    """

    def __init__(
        self, client: PaytraceClient, timezone: str, documents: DocumentsMap | None = None
    ) -> None:
        self._client = client
        self._tz = ZoneInfo(timezone)
        self._documents = documents or DocumentsMap()

    @activity.defn(name=names.FETCH_CHECK)
    async def fetch_check(self, check_id: int) -> PaytraceTransaction:
        """Re-read an ACH transaction; its return, if the bank sent it back, is in the answer.

        Args:
            check_id: PayTrace's check transaction id.

        Returns:
            The check as a transaction with ``method`` ACH and the masked account only.
        """
        tag_span(transaction_id=check_id)
        try:
            found = await self._client.export_check(check_id)
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        if found is None:
            raise ApplicationError(
                f"PayTrace has no check transaction {check_id}",
                type="paytrace_unknown_transaction",
            )
        return found.to_domain()

    @activity.defn(name=names.EXPORT_CHECKS_WINDOW)
    async def export_checks_window(self, window: SweepWindow) -> list[SweptTransaction]:
        """List the ACH debits created in a window (merchant-local dates, like card sales).

        Args:
            window: the UTC window.

        Returns:
            The debits created at or after the window's start, oldest first; none when the
            mapping ignores ACH payments.
        """
        if self._documents.ach_sale is DocumentAction.IGNORE:
            return []
        since = window.since.replace(microsecond=0)
        first_day = since.astimezone(self._tz).date()
        last_day = window.until.astimezone(self._tz).date()
        try:
            checks = await self._client.export_checks(first_day, last_day)
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        found = []
        for check in checks:
            if check.transaction_type.upper() != "SALE":
                continue
            txn = check.to_domain()
            created = txn.created_at
            if created is not None and self._as_utc(created) < since:
                continue
            found.append(
                SweptTransaction(
                    transaction_id=check.check_transaction_id,
                    transaction_type="SALE",
                    action=DocumentAction.RECEIPT.value,
                    method=PaymentSource.ACH,
                )
            )
        return sorted(found, key=lambda t: t.transaction_id)

    @activity.defn(name=names.EXPORT_CHECK_REVERSALS)
    async def export_check_reversals(self, lookback: SweepLookback) -> list[SweptTransaction]:
        """List the ACH debits of the last days that the bank returned or that were voided.

        Args:
            lookback: up to when, and how many merchant-local days back (returns come days
                after the debit).

        Returns:
            The returned or voided debits, oldest first; none when the mapping ignores returns.
        """
        if self._documents.ach_return is DocumentAction.IGNORE:
            return []
        first_day, last_day = local_days(lookback, self._tz)
        try:
            checks = await self._client.export_checks(first_day, last_day)
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        reversed_ = [
            SweptTransaction(
                transaction_id=c.check_transaction_id,
                transaction_type="RETURN" if c.returned else "VOID",
                action=DocumentAction.REVERSAL.value,
                method=PaymentSource.ACH,
            )
            for c in checks
            if c.returned or c.transaction_type.upper() == "VOID"
        ]
        return sorted(reversed_, key=lambda t: t.transaction_id)

    def _as_utc(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self._tz, fold=1).astimezone(UTC)
