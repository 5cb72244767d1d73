"""Activities that move money in PayTrace, each exactly once.

A charge, refund or void whose answer was lost (``PaytraceAmbiguousError``), or any attempt after
the first (the worker may have died after sending), reads PayTrace back before sending again:
if the first attempt happened, its result is returned and nothing is sent twice.

Two timing rules make the read-back sound:

- A lost answer may mean the request is still being processed at PayTrace. When the immediate
  read-back finds nothing, the retry waits ``in_flight_grace`` (longer than any request can stay
  open) before it reads back again and only then sends.
- A worker that died mid-request is retried by Temporal after the activity's start-to-close
  timeout (``workflows.options.PAYTRACE_MONEY``), which is longer than the client's timeouts.

A read-back that fails is itself retried; a money-moving call is never sent blind.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from activities.errors import to_application_error
from connectors.paytrace.errors import (
    PaytraceAmbiguousError,
    PaytraceDeclined,
    PaytraceError,
    PaytraceValidationError,
)
from connectors.paytrace.gateway import PaytraceGateway
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
DEFAULT_IN_FLIGHT_GRACE = timedelta(seconds=90)


class PaytraceMoneyActivities:
    """Charges, refunds and voids with read-back, the PayTrace client injected.

    Args:
        client: the shared PayTrace client, v1 or v3 (any ``PaytraceGateway``).
        timezone: the merchant's time zone, in which PayTrace reports dates and times.
        in_flight_grace: how long a retry after a lost answer waits before reading back again.
    """

    def __init__(
        self,
        client: PaytraceGateway,
        timezone: str,
        *,
        in_flight_grace: timedelta = DEFAULT_IN_FLIGHT_GRACE,
    ) -> None:
        self._client = client
        self._tz = ZoneInfo(timezone)
        self._grace = in_flight_grace

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self._tz).date()

    def _as_utc(self, local: datetime) -> datetime:
        # In the repeated hour when clocks go back, take the later instant: never too early.
        return local.replace(tzinfo=self._tz, fold=1).astimezone(UTC)

    def _still_unknown(self, exc: PaytraceAmbiguousError) -> ApplicationError:
        """The answer was lost and nothing was found (yet): retry after the grace period."""
        return ApplicationError(
            f"{exc} (not found in PayTrace yet; reading back again in {self._grace})",
            type=exc.kind,
            next_retry_delay=self._grace,
        )

    # -- charge -----------------------------------------------------------------------------

    @activity.defn(name=names.CHARGE_CUSTOMER)
    async def charge_customer(self, request: ChargeRequest) -> ChargeResult:
        """Charge a vault customer's card once; a decline is a result, not an error.

        Args:
            request: who, how much, for which invoice, and the charge's unique key.

        Returns:
            The approved or declined charge (a charge voided since reads as not approved).
        """
        if activity.info().attempt > 1 or request.first_requested_at is not None:
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
            raise self._still_unknown(exc) from None
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        return ChargeResult(
            transaction_id=resp.transaction_id,
            approved=True,
            response_code=resp.response_code,
            message=resp.approval_message.strip(),
        )

    async def _charged_before(self, request: ChargeRequest) -> ChargeResult | None:
        """Find an earlier attempt of this charge, from the day before the first attempt on.

        The first attempt is the caller's ``first_requested_at`` when it gives one (a charge the
        workflow asked for before, in an earlier activity), else this activity's own schedule.
        """
        first = request.first_requested_at or activity.info().scheduled_time
        first_day = self._local_date(first) - timedelta(days=1)
        today = self._local_date(datetime.now(UTC))
        try:
            found = await self._client.export_by_date_range(
                first_day, max(today, first_day), including_text=request.charge_key
            )
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        mark = f"{CHARGE_MARK} {request.charge_key}"
        for record in sorted(found, key=lambda r: r.transaction_id):
            kind = record.transaction_type.upper()
            if (
                kind not in ("SALE", "VOID")
                or record.description.strip() != mark
                or record.amount != request.amount
                or record.customer_id.strip() != request.customer_id
            ):
                continue
            txn = record.to_domain()
            activity.logger.info("read-back found charge %s", record.transaction_id)
            return ChargeResult(
                transaction_id=record.transaction_id,
                approved=txn.approved and kind == "SALE",
                response_code=txn.status_code or 0,
                message="voided" if kind == "VOID" else txn.approval_message,
                found_by_read_back=True,
            )
        return None

    # -- refund -----------------------------------------------------------------------------

    @activity.defn(name=names.REFUND_TRANSACTION)
    async def refund_transaction(self, request: RefundRequest) -> RefundResult:
        """Refund a settled transaction once (``refund/for_transaction``, explicit amount).

        Args:
            request: the transaction, the amount (None: what is left) and known refunds.

        Returns:
            The refund's own transaction id and amount.
        """
        original = await self._export(request.transaction_id)
        amount = request.amount
        if amount is None:
            amount = original.amount - request.already_refunded
        if amount <= 0:
            raise ApplicationError(
                f"nothing left to refund of transaction {request.transaction_id}",
                type="paytrace_nothing_to_refund",
                non_retryable=True,
            )
        if activity.info().attempt > 1 or request.read_back_first:
            prior = await self._refunded_before(request, original, amount)
            if prior is not None:
                return prior
        try:
            resp = await self._client.refund_transaction(request.transaction_id, amount)
        except PaytraceAmbiguousError as exc:
            prior = await self._refunded_before(request, original, amount)
            if prior is not None:
                return prior
            raise self._still_unknown(exc) from None
        except PaytraceError as exc:
            raise to_application_error(exc) from None
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

    async def _refunded_before(
        self, request: RefundRequest, original: ExportedTransaction, amount: Decimal
    ) -> RefundResult | None:
        """Find the refund of this transaction made since the workflow asked for it.

        A candidate must carry the original's invoice, card and customer, the amount asked, and
        be newer than the request and unknown to the workflow. Two candidates cannot be told
        apart: that stops for a human rather than guessing.
        """
        since = request.requested_at - READ_BACK_SLACK
        first_day = self._local_date(since)
        today = self._local_date(datetime.now(UTC))
        try:
            refunds = await self._client.export_by_date_range(
                first_day, max(today, first_day), transaction_type="REFUND"
            )
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        card = original.credit_card.masked_number if original.credit_card else ""
        matches = []
        for record in refunds:
            txn = record.to_domain()
            if (
                record.transaction_id in request.known_refund_ids
                or record.transaction_id <= request.transaction_id
                or record.invoice_id.strip() != original.invoice_id.strip()
                or record.customer_id.strip() != original.customer_id.strip()
                or (record.credit_card.masked_number if record.credit_card else "") != card
                or record.amount != amount
                or txn.created_at is None
                or self._as_utc(txn.created_at) < since
            ):
                continue
            matches.append(record.transaction_id)
        if len(matches) > 1:
            raise ApplicationError(
                f"refund of {request.transaction_id} ({amount}): its answer was lost and PayTrace"
                f" shows several refunds that could be it ({sorted(matches)}); check them before"
                " retrying",
                type="paytrace_refund_unclear",
                non_retryable=True,
            )
        if not matches:
            return None
        activity.logger.info("read-back found refund %s", matches[0])
        return RefundResult(
            refund_transaction_id=matches[0], amount=amount, found_by_read_back=True
        )

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
        except PaytraceAmbiguousError as exc:
            if await self._is_void(transaction_id):
                return VoidResult(transaction_id=transaction_id, already_void=True)
            raise self._still_unknown(exc) from None
        except PaytraceValidationError as exc:
            if await self._is_void(transaction_id):
                return VoidResult(transaction_id=transaction_id, already_void=True)
            raise to_application_error(exc) from None
        except PaytraceError as exc:
            raise to_application_error(exc) from None
        return VoidResult(transaction_id=transaction_id)

    async def _is_void(self, transaction_id: int) -> bool:
        record = await self._export(transaction_id)
        return record.transaction_type.upper() == "VOID"
