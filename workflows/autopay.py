"""RecurringAutopay: charge the due invoices of autopay customers by their stored card.

``AutopaySweep`` runs daily (a Schedule): it lists the open invoices of autopay customers due
that day or earlier and starts one ``AutopayCharge`` per invoice (``autopay-<customer>-<invoice>``,
so an invoice is charged by one workflow however often the sweep runs).

``AutopayCharge``: before every attempt re-read the ERP (paid another way → stop; customer left
autopay → stop) and the stored card (expired → tell finance and the customer, wait for a
person); charge the invoice's balance once (``paytrace.charge_customer`` reads PayTrace back
before any retry); approved → start the payment's PaymentPosting, which applies it to the
invoice; declined → tell finance (and the customer if configured) and try again after the
configured days (1, 3 and 7 after the first attempt by default); after the last decline, wait
for a person.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.activity_io import ChargeRequest, ChargeResult
    from domain.autopay_io import (
        AttemptRecord,
        AutopayInput,
        AutopayOutcome,
        AutopayResult,
        AutopaySweepInput,
        AutopaySweepResult,
        CardOnFile,
        CardOnFileRequest,
        DueInvoices,
        DueRequest,
        Standing,
        StandingRequest,
        attempt_days,
        is_expired_card_decline,
    )
    from domain.chargeback_io import OpenCases, OpenCasesRequest
    from domain.search_attributes import ERP_CUSTOMER_ID, TRACEPOST_STATUS
    from domain.start_io import (
        StartKind,
        StartWorkflowsRequest,
        StartWorkflowsResult,
        WorkflowStart,
    )
    from domain.store_io import AlertKind, AlertRequest
    from workflows import options
    from workflows.attention import RETRY_OR_HANDLED, AttentionWorkflow, Handled


@workflow.defn(name="AutopaySweep")
class AutopaySweep:
    """The day's autopay: start the charge of every due invoice of every autopay customer."""

    @workflow.run
    async def run(self, request: AutopaySweepInput) -> AutopaySweepResult:
        """List what is due and start (or join) each invoice's AutopayCharge."""
        due: DueInvoices = await workflow.execute_activity(
            names.AUTOPAY_DUE,
            DueRequest(at=workflow.now(), day=request.day),
            result_type=DueInvoices,
            **_erp_options(),
        )
        if not due.policy.enabled:
            return AutopaySweepResult(
                day=due.day, enabled=False, notes=("autopay.enabled is false in the mapping",)
            )
        cases: OpenCases = await workflow.execute_activity(
            names.OPEN_CHARGEBACKS, OpenCasesRequest(), result_type=OpenCases, **options.STORE
        )
        skipped = list(due.skipped)
        invoices = []
        for invoice in due.invoices:
            open_cases = cases.by_customer.get(invoice.customer_id, ())
            if open_cases:
                skipped.append(
                    f"{invoice.customer_id} invoice {invoice.invoice_number}: open chargeback"
                    f" {', '.join(open_cases)}; autopay waits for its decision"
                )
            else:
                invoices.append(invoice)
        started = already = 0
        for invoice in invoices:
            try:
                await workflow.start_child_workflow(
                    AutopayCharge.run,
                    AutopayInput(invoice=invoice, policy=due.policy, source="schedule"),
                    id=invoice.workflow_id,
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    search_attributes=TypedSearchAttributes(
                        [
                            SearchAttributePair(TRACEPOST_STATUS, "received"),
                            SearchAttributePair(ERP_CUSTOMER_ID, invoice.customer_id),
                        ]
                    ),
                )
                started += 1
            except WorkflowAlreadyStartedError:
                already += 1
        return AutopaySweepResult(
            day=due.day,
            due=len(due.invoices),
            started=started,
            already=already,
            skipped=tuple(skipped),
        )


def _erp_options() -> dict[str, Any]:
    return {**options.ERP, "task_queue": options.erp_queue(workflow.info().task_queue)}


@workflow.defn(name="AutopayCharge")
class AutopayCharge(AttentionWorkflow):
    """Charge one due invoice by the customer's stored card, with dunning on declines."""

    def __init__(self) -> None:
        super().__init__()
        self._attempts: list[AttemptRecord] = []

    @workflow.query
    def attempts(self) -> list[AttemptRecord]:
        """Every charge attempt so far."""
        return list(self._attempts)

    @workflow.run
    async def run(self, request: AutopayInput) -> AutopayResult:
        """Charge the invoice once; dun on declines; stop when it no longer should be charged."""
        invoice = request.invoice
        self._subject = f"autopay of invoice {invoice.invoice_number} ({invoice.customer_id})"
        workflow.upsert_search_attributes([ERP_CUSTOMER_ID.value_set(invoice.customer_id)])
        self._set_stage("processing")
        await self._audit("received", request.model_dump(mode="json"))
        try:
            result = await self._charge(request)
        except Handled as handled:
            result = self._result(request, AutopayOutcome.HANDLED, handled.note)
        self._set_stage(result.outcome.value)
        await self._audit("finished", result.model_dump(mode="json"))
        return result

    async def _charge(self, request: AutopayInput) -> AutopayResult:
        invoice = request.invoice
        days = attempt_days(request.policy.retry_days)
        first: datetime | None = None
        asked: dict[str, datetime] = {}
        attempt = 0
        while True:
            standing: Standing = await self._call_erp(
                names.AUTOPAY_STANDING,
                StandingRequest(
                    customer_id=invoice.customer_id, invoice_number=invoice.invoice_number
                ),
                Standing,
            )
            stop = self._stop_reason(standing)
            if stop is not None:
                return self._result(request, stop[0], stop[1])
            card: CardOnFile = await self._call(
                names.CARD_ON_FILE,
                CardOnFileRequest(
                    paytrace_customer_id=standing.paytrace_customer_id, at=workflow.now()
                ),
                CardOnFile,
                options.PAYTRACE,
            )
            if not card.found or card.expired_now:
                await self._card_problem(request, standing, card)
                continue
            if await self._disputed(invoice.customer_id):
                continue
            key = f"{workflow.info().workflow_id}-a{len(self._attempts) + 1}"
            first = first or workflow.now()
            charge: ChargeResult = await self._call(
                names.CHARGE_CUSTOMER,
                ChargeRequest(
                    customer_id=standing.paytrace_customer_id,
                    amount=standing.balance,
                    invoice_id=invoice.invoice_number,
                    charge_key=key,
                    # read PayTrace back by the key before sending: after a park and retry,
                    # or a restarted run, an earlier request of this key may have gone through
                    first_requested_at=asked.setdefault(key, workflow.now()),
                ),
                ChargeResult,
                options.PAYTRACE_MONEY,
            )
            self._attempts.append(
                AttemptRecord(
                    attempt=len(self._attempts) + 1,
                    day=workflow.now().date(),
                    approved=charge.approved,
                    transaction_id=charge.transaction_id,
                    amount=standing.balance,
                    message=charge.message,
                )
            )
            await self._audit(
                "charged" if charge.approved else "declined", charge.model_dump(mode="json")
            )
            if charge.approved:
                await self._post(charge.transaction_id)
                return self._result(
                    request,
                    AutopayOutcome.CHARGED,
                    f"{standing.balance} charged to {card.label} as PayTrace"
                    f" {charge.transaction_id}; its posting applies it to the invoice",
                    charge.transaction_id,
                )
            if charge.found_by_read_back and charge.message == "voided":
                await self._park(
                    "autopay_voided",
                    f"autopay charge {charge.transaction_id} of invoice {invoice.invoice_number}"
                    " was voided in PayTrace (by a person?); dunning does not charge again on"
                    " its own: retry to charge now, or mark_handled",
                    (),
                    RETRY_OR_HANDLED,
                )
                continue
            if is_expired_card_decline(charge.message):
                await self._card_problem(request, standing, card, declined=charge.message)
                continue
            attempt += 1
            last = attempt >= len(days)
            await self._declined(request, standing, card, charge, None if last else days[attempt])
            if last:
                await self._park(
                    "autopay_declined",
                    f"every autopay attempt on invoice {invoice.invoice_number} was declined"
                    f" (last: {charge.message.strip() or charge.response_code}); ask the"
                    " customer for another card, then retry (one more attempt now), or"
                    " mark_handled",
                    (),
                    RETRY_OR_HANDLED,
                )
                continue
            wait = (first or workflow.now()) + timedelta(days=days[attempt]) - workflow.now()
            self._set_stage("dunning")
            if wait > timedelta(0):
                await workflow.sleep(wait)
            self._set_stage("processing")

    async def _disputed(self, customer_id: str) -> bool:
        """Park while the customer has an open chargeback: autopay must not charge it again."""
        cases: OpenCases = await self._call(
            names.OPEN_CHARGEBACKS,
            OpenCasesRequest(customer_id=customer_id),
            OpenCases,
            options.STORE,
        )
        open_cases = cases.by_customer.get(customer_id, ())
        if not open_cases:
            return False
        await self._park(
            "autopay_disputed",
            f"customer {customer_id} has an open chargeback ({', '.join(open_cases)}): autopay"
            " does not charge a disputing customer; retry once the case is decided, or"
            " mark_handled",
            (),
            RETRY_OR_HANDLED,
        )
        return True

    def _stop_reason(self, standing: Standing) -> tuple[AutopayOutcome, str] | None:
        if not standing.invoice_found or standing.balance <= 0:
            return AutopayOutcome.PAID_ELSEWHERE, "the invoice is paid (or gone): nothing to charge"
        if not standing.active or not standing.autopay:
            return AutopayOutcome.LEFT_AUTOPAY, "the customer is no longer on autopay"
        if not standing.paytrace_customer_id:
            return AutopayOutcome.LEFT_AUTOPAY, "the customer has no linked PayTrace profile now"
        return None

    async def _post(self, transaction_id: int) -> None:
        await self._call(
            names.START_WORKFLOWS,
            StartWorkflowsRequest(
                starts=(
                    WorkflowStart(
                        kind=StartKind.PAYMENT, transaction_id=transaction_id, source="autopay"
                    ),
                )
            ),
            StartWorkflowsResult,
            options.STARTER,
        )

    async def _card_problem(
        self, request: AutopayInput, standing: Standing, card: CardOnFile, declined: str = ""
    ) -> None:
        invoice = request.invoice
        what = (
            "profile has no stored card"
            if not card.found
            else f"card {card.label} has expired"
            + (f" (declined: {declined.strip()})" if declined else "")
        )
        subject = f"Autopay: invoice {invoice.invoice_number} not charged: the {what}"
        message = (
            f"Invoice {invoice.invoice_number} ({standing.balance}) was not charged: the {what}"
            f" (PayTrace profile {standing.paytrace_customer_id})."
        )
        key = f"card-{len(self._attempts)}-{card.expiration_year}{card.expiration_month:02d}"
        await self._notify(request, standing, key, subject, message)
        await self._park(
            "card_expired",
            f"{message} Update the card in PayTrace, then retry; or mark_handled if the invoice"
            " is settled another way.",
            (),
            RETRY_OR_HANDLED,
        )

    async def _declined(
        self,
        request: AutopayInput,
        standing: Standing,
        card: CardOnFile,
        charge: ChargeResult,
        next_day: int | None,
    ) -> None:
        invoice = request.invoice
        reason = charge.message.strip() or f"response {charge.response_code}"
        then = (
            f"tracepost tries again {next_day} day(s) after the first attempt."
            if next_day is not None
            else "that was the last attempt; it now waits for a person."
        )
        await self._notify(
            request,
            standing,
            f"declined-{len(self._attempts)}",
            f"Autopay declined: invoice {invoice.invoice_number} ({invoice.customer_id})",
            f"The charge of {standing.balance} to {card.label} was declined ({reason}); {then}",
        )

    async def _notify(
        self, request: AutopayInput, standing: Standing, key: str, subject: str, message: str
    ) -> None:
        info = workflow.info()
        alerts = [
            AlertRequest(
                alert_key=f"{info.workflow_id}/{key}",
                kind=AlertKind.NOTICE,
                subject=subject,
                message=message,
                workflow_id=info.workflow_id,
                at=workflow.now(),
            )
        ]
        if request.policy.notify_customer and standing.email:
            alerts.append(
                AlertRequest(
                    alert_key=f"{info.workflow_id}/{key}/customer",
                    kind=AlertKind.CUSTOMER_NOTICE,
                    severity="info",
                    subject=f"Your automatic payment of invoice {request.invoice.invoice_number}",
                    message=f"{message} Please update your card on file with us.",
                    workflow_id=info.workflow_id,
                    detail={"to": standing.email},
                    at=workflow.now(),
                )
            )
        for alert in alerts:
            await self._call(names.RAISE_ALERT, alert, bool, options.STORE)

    def _result(
        self,
        request: AutopayInput,
        outcome: AutopayOutcome,
        reason: str,
        transaction_id: int = 0,
    ) -> AutopayResult:
        return AutopayResult(
            customer_id=request.invoice.customer_id,
            invoice_number=request.invoice.invoice_number,
            outcome=outcome,
            reason=reason,
            transaction_id=transaction_id,
            attempts=tuple(self._attempts),
        )
