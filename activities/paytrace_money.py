"""Activities that move money in PayTrace, each exactly once.

A charge, refund or void whose answer was lost (``PaytraceAmbiguousError``), or any attempt after
the first (the worker may have died after sending), reads PayTrace back before sending again:
if the first attempt happened, its result is returned and nothing is sent twice. A read-back that
itself fails is retried; the money-moving call is never sent blind.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from activities.errors import to_application_error
from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.errors import (
    PaytraceAmbiguousError,
    PaytraceDeclined,
    PaytraceError,
    PaytraceValidationError,
)
from connectors.paytrace.models import CustomerSaleRequest, ExportedTransaction
from domain.activity_io import (
    ChargeRequest,
    ChargeResult,
    RefundRequest,
    RefundResult,
    VoidResult,
)

CHARGE_MARK = "tracepost charge"
"""Prefix of a charge's ``description``; the charge key follows it."""
READ_BACK_SLACK = timedelta(minutes=5)
"""Clock difference tolerated between tracepost and PayTrace when reading a refund back."""


class PaytraceMoneyActivities:
    """Charges, refunds and voids with read-back, the PayTrace client injected.

    Args:
        client: the shared PayTrace client.
        timezone: the merchant's time zone, in which PayTrace reports dates and times.
    """

    def __init__(self, client: PaytraceClient, timezone: str) -> None:
        self._client = client
        self._tz = ZoneInfo(timezone)

    def _today(self) -> date:
        return datetime.now(UTC).astimezone(self._tz).date()

    # -- charge -----------------------------------------------------------------------------

    @activity.defn(name=names.CHARGE_CUSTOMER)
    async def charge_customer(self, request: ChargeRequest) -> ChargeResult:
        """Charge a vault customer's card once; a decline is a result, not an error.

        Args:
            request: who, how much, for which invoice, and the charge's unique key.

        Returns:
            The approved or declined charge.
        """
        if activity.info().attempt > 1:
            prior = await self._charged_before(request)
            if prior is not None:
                return prior
        sale = CustomerSaleRequest(
            amount=request.amount,
            customer_id=request.customer_id,
            invoice_id=request.invoice_id,
            description=f"{CHARGE_MARK} {request.charge_key}",
        )
        try:
            resp = await self._client.sale_by_customer(sale)
        except PaytraceDeclined as declined:
            return ChargeResult(
                transaction_id=declined.transaction_id or 0,
                approved=False,
                response_code=declined.response_code,
                message=declined.approval_message,
            )
        except PaytraceAmbiguousError as exc:
            prior = await self._charged_before(request)
            if prior is not None:
                return prior
            raise to_application_error(exc) from None
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        return ChargeResult(
            transaction_id=resp.transaction_id,
            approved=True,
            response_code=resp.response_code,
            message=resp.approval_message.strip(),
        )

    async def _charged_before(self, request: ChargeRequest) -> ChargeResult | None:
        """Find an earlier attempt of this charge (yesterday or today, merchant time)."""
        today = self._today()
        try:
            found = await self._client.export_by_date_range(
                today - timedelta(days=1), today, including_text=request.charge_key
            )
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        mark = f"{CHARGE_MARK} {request.charge_key}"
        for record in sorted(found, key=lambda r: r.transaction_id):
            if record.description.strip() != mark or record.amount != request.amount:
                continue
            txn = record.to_domain()
            activity.logger.info("read-back found charge %s", record.transaction_id)
            return ChargeResult(
                transaction_id=record.transaction_id,
                approved=txn.approved or txn.transaction_type.value == "VOID",
                response_code=txn.status_code or 0,
                message=txn.approval_message,
                found_by_read_back=True,
            )
        return None

    # -- refund -----------------------------------------------------------------------------

    @activity.defn(name=names.REFUND_TRANSACTION)
    async def refund_transaction(self, request: RefundRequest) -> RefundResult:
        """Refund a settled transaction once (``refund/for_transaction``).

        Args:
            request: the transaction, the amount (None: what is left) and known refunds.

        Returns:
            The refund's own transaction id and amount.
        """
        if activity.info().attempt > 1:
            prior = await self._refunded_before(request)
            if prior is not None:
                return prior
        try:
            resp = await self._client.refund_transaction(request.transaction_id, request.amount)
        except PaytraceAmbiguousError as exc:
            prior = await self._refunded_before(request)
            if prior is not None:
                return prior
            raise to_application_error(exc) from None
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        amount = request.amount
        if amount is None:
            record = await self._export(resp.transaction_id)
            amount = record.amount
        return RefundResult(refund_transaction_id=resp.transaction_id, amount=amount)

    async def _export(self, transaction_id: int) -> ExportedTransaction:
        try:
            record = await self._client.export_by_id(transaction_id)
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        if record is None:
            raise ApplicationError(
                f"PayTrace has no transaction {transaction_id}", type="paytrace_unknown_transaction"
            )
        return record

    async def _refunded_before(self, request: RefundRequest) -> RefundResult | None:
        """Find a refund of this transaction made since the workflow asked for it."""
        original = await self._export(request.transaction_id)
        since = request.requested_at - READ_BACK_SLACK
        first_day = since.astimezone(self._tz).date()
        try:
            refunds = await self._client.export_by_date_range(
                first_day, max(self._today(), first_day), transaction_type="REFUND"
            )
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        for record in sorted(refunds, key=lambda r: r.transaction_id):
            txn = record.to_domain()
            if (
                record.transaction_id in request.known_refund_ids
                or record.transaction_id <= request.transaction_id
                or record.invoice_id.strip() != original.invoice_id.strip()
                or (request.amount is not None and record.amount != request.amount)
                or txn.created_at is None
                or txn.created_at.replace(tzinfo=self._tz).astimezone(UTC) < since
            ):
                continue
            activity.logger.info("read-back found refund %s", record.transaction_id)
            return RefundResult(
                refund_transaction_id=record.transaction_id,
                amount=record.amount,
                found_by_read_back=True,
            )
        return None

    # -- void -------------------------------------------------------------------------------

    @activity.defn(name=names.VOID_TRANSACTION)
    async def void_transaction(self, transaction_id: int) -> VoidResult:
        """Void an unsettled transaction once; a void that already happened is success.

        Args:
            transaction_id: the sale, capture or refund to void.

        Returns:
            The voided transaction.
        """
        if activity.info().attempt > 1 and await self._is_void(transaction_id):
            return VoidResult(transaction_id=transaction_id, already_void=True)
        try:
            await self._client.void(transaction_id)
        except (PaytraceAmbiguousError, PaytraceValidationError) as exc:
            if await self._is_void(transaction_id):
                return VoidResult(transaction_id=transaction_id, already_void=True)
            raise to_application_error(exc) from None
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        return VoidResult(transaction_id=transaction_id)

    async def _is_void(self, transaction_id: int) -> bool:
        record = await self._export(transaction_id)
        return record.transaction_type.upper() == "VOID"
