"""PaymentPosting: one PayTrace payment becomes one cash receipt applied in the ERP.

re-read the transaction → validate (a payment, approved, not already posted) → load the ERP context
→ match → write the pending receipt batch with its applications → post → record → done. Whatever
cannot be decided or written parks the workflow in needs-attention until an operator sends the
``resolve`` update; nothing fails silently and nothing is posted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.activity_io import (
        AttentionInfo,
        AuditEvent,
        DeadLetterRequest,
        DeadLetterResolution,
        InvoiceLookup,
        MatchContext,
        MatchRequest,
        PaymentPostingInput,
        PaymentPostingResult,
        PostingOutcome,
        PostingRecordRequest,
        PostingStatus,
        Resolution,
        ResolutionAction,
    )
    from domain.matching import MatchDecision, MatchOutcome, decide
    from domain.models import (
        NON_PAYMENT_TYPES,
        Application,
        CashReceipt,
        OpenInvoice,
        PaytraceTransaction,
        ReceiptRecord,
        ReceiptStatus,
        TransactionType,
    )
    from domain.search_attributes import (
        ERP_CUSTOMER_ID,
        ERP_DOCUMENT,
        PAYTRACE_TXN_ID,
        TRACEPOST_STATUS,
    )
    from workflows import options

# An authorization is re-read until captured or voided; card authorizations expire after ~7 days.
AUTH_RECHECK = timedelta(hours=1)
AUTH_WAIT = timedelta(days=8)
CENT = Decimal("0.01")
ALL_ACTIONS = tuple(ResolutionAction)
RETRY_OR_HANDLED = (ResolutionAction.RETRY, ResolutionAction.MARK_HANDLED)
ZERO = Decimal("0.00")


class _Handled(Exception):
    """An operator marked the item handled; the workflow ends without posting."""

    def __init__(self, note: str) -> None:
        super().__init__(note)
        self.note = note


@workflow.defn(name="PaymentPosting")
class PaymentPosting:
    """Post one PayTrace payment to the ERP, exactly once."""

    def __init__(self) -> None:
        self._transaction_id = 0
        self._stage = "received"
        self._attention: AttentionInfo | None = None
        self._allowed: tuple[ResolutionAction, ...] = ()
        self._resolution: Resolution | None = None
        self._result: PaymentPostingResult | None = None
        self._audit_seq = 0

    # -- operator interface ---------------------------------------------------------------

    @workflow.query
    def status(self) -> PostingStatus:
        """Where the posting stands, and why it waits if it does."""
        return PostingStatus(
            transaction_id=self._transaction_id,
            stage=self._stage,
            attention=self._attention,
            result=self._result,
        )

    @workflow.update
    async def resolve(self, resolution: Resolution) -> str:
        """Resolve the needs-attention item: retry, apply to invoices, post on account, or close.

        Args:
            resolution: the operator's decision.

        Returns:
            A short acknowledgment; the workflow carries the decision out right after.
        """
        self._resolution = resolution
        return f"accepted: {resolution.action.value}"

    @resolve.validator
    def _validate_resolve(self, resolution: Resolution) -> None:
        if self._attention is None or self._resolution is not None:
            raise ValueError("this payment is not waiting for an operator")
        if resolution.action not in self._allowed:
            allowed = ", ".join(a.value for a in self._allowed)
            raise ValueError(
                f"{resolution.action.value} is not possible here; choose one of {allowed}"
            )
        if resolution.action is ResolutionAction.APPLY_TO:
            if not resolution.invoices:
                raise ValueError("apply_to needs at least one invoice")
            if any(i.amount <= ZERO for i in resolution.invoices):
                raise ValueError("apply_to amounts must be positive")
            if any(i.amount != i.amount.quantize(CENT) for i in resolution.invoices):
                raise ValueError("apply_to amounts are in whole cents, e.g. 80.50")
        if resolution.action is ResolutionAction.MARK_HANDLED and not resolution.note.strip():
            raise ValueError("mark_handled needs a note saying what was done")

    # -- the flow -------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: PaymentPostingInput) -> PaymentPostingResult:
        """Post the payment; park for an operator on anything undecidable."""
        self._transaction_id = request.transaction_id
        workflow.upsert_search_attributes([PAYTRACE_TXN_ID.value_set(str(request.transaction_id))])
        self._set_stage("processing")
        await self._audit("received", {"source": request.source})
        try:
            result = await self._post(request)
        except _Handled as handled:
            result = self._finish(PostingOutcome.HANDLED, reason=handled.note)
        await self._audit("finished", result.model_dump(mode="json"))
        return result

    async def _post(self, request: PaymentPostingInput) -> PaymentPostingResult:
        txn = await self._payment(request.transaction_id)
        if isinstance(txn, PaymentPostingResult):
            return txn

        record = await self._call_erp(names.FIND_RECEIPT, txn.transaction_id, ReceiptRecord | None)
        if record is not None:
            await self._audit("read_back", {"erp_document": record.erp_document})
            rule, reason = (
                "read_back",
                "the ERP already held this receipt; it was not written again",
            )
        else:
            record, decision = await self._match_and_write(txn)
            rule, reason = decision.rule, decision.reason
        if record.status is not ReceiptStatus.POSTED:
            record = await self._call_erp(names.POST_RECEIPT, txn.transaction_id, ReceiptRecord)
        await self._call(
            names.RECORD_POSTING,
            PostingRecordRequest(record=record, workflow_id=workflow.info().workflow_id),
            type(None),
            options.STORE,
        )
        workflow.upsert_search_attributes(
            [
                ERP_CUSTOMER_ID.value_set(record.customer_id),
                ERP_DOCUMENT.value_set(record.erp_document),
            ]
        )
        outcome = (
            PostingOutcome.POSTED
            if record.status is ReceiptStatus.POSTED
            else PostingOutcome.PENDING_MANUAL_POST
        )
        await self._audit(
            outcome.value, {"erp_document": record.erp_document, "batch": record.batch}
        )
        return self._finish(
            outcome,
            rule=rule,
            reason=reason,
            customer_id=record.customer_id,
            erp_document=record.erp_document,
            batch=record.batch,
        )

    async def _payment(self, transaction_id: int) -> PaytraceTransaction | PaymentPostingResult:
        """Re-read the transaction until it is clearly an approved payment, or end the workflow.

        Declines and non-payments end it; an authorization is re-read every
        ``AUTH_RECHECK`` until it is captured, voided or expires (``AUTH_WAIT``); any status
        tracepost cannot interpret parks it (retry re-reads it).
        """
        waited = timedelta()
        while True:
            txn: PaytraceTransaction = await self._call(
                names.FETCH_TRANSACTION, transaction_id, PaytraceTransaction, options.PAYTRACE
            )
            kind = txn.transaction_type
            if kind in NON_PAYMENT_TYPES:
                return self._finish(
                    PostingOutcome.NOT_A_PAYMENT,
                    reason=f"transaction type {kind.value} is not a payment",
                )
            if txn.declined:
                await self._audit(
                    "declined",
                    {
                        "approval_message": txn.approval_message,
                        "status_message": txn.status_message,
                    },
                )
                return self._finish(
                    PostingOutcome.DECLINED, reason=txn.approval_message or txn.status_message
                )
            if txn.money_received:
                if self._stage != "processing":
                    self._set_stage("processing")
                return txn
            if kind is TransactionType.AUTHORIZATION and txn.approved:
                if waited < AUTH_WAIT:
                    if self._stage != "awaiting_capture":
                        self._set_stage("awaiting_capture")
                    await workflow.sleep(AUTH_RECHECK)
                    waited += AUTH_RECHECK
                    continue
                await self._park(
                    "paytrace_uncaptured",
                    f"authorization of {txn.amount} was not captured within {AUTH_WAIT.days}"
                    " days; retry reads it again (and waits again), mark_handled closes it",
                    (),
                    RETRY_OR_HANDLED,
                )
                waited = timedelta()
                continue
            await self._park(
                "paytrace_status",
                f"PayTrace reports {kind.value} with status {txn.status_code}"
                f" ({txn.status_message or 'no message'}); tracepost cannot tell whether money was"
                " received",
                (),
                RETRY_OR_HANDLED,
            )

    async def _match_and_write(
        self, txn: PaytraceTransaction
    ) -> tuple[ReceiptRecord, MatchDecision]:
        """Decide, write the receipt, and return it with the decision that was carried out."""
        decision = await self._decide(txn)
        while True:
            if decision.outcome is MatchOutcome.NEEDS_ATTENTION:
                resolution = await self._park(
                    f"match_{decision.rule}", decision.reason, decision.candidates, ALL_ACTIONS
                )
                decision = await self._resolve_decision(txn, decision, resolution)
                continue
            receipt = self._receipt(txn, decision)
            try:
                written: ReceiptRecord = await self._erp(
                    names.WRITE_RECEIPT, receipt, ReceiptRecord
                )
                return written, decision
            except ActivityError as err:
                _reraise_cancellation(err)
                kind, reason = _describe(err)
                resolution = await self._park(kind, reason, decision.candidates, ALL_ACTIONS)
                decision = await self._resolve_decision(txn, decision, resolution)

    async def _decide(self, txn: PaytraceTransaction) -> MatchDecision:
        request = MatchRequest(
            amount=txn.amount,
            invoice_id=txn.invoice_id,
            paytrace_customer_id=txn.customer_id,
            customer_id=txn.customer_reference_id,
        )
        try:
            context: MatchContext = await self._erp(names.LOAD_MATCH_INPUT, request, MatchContext)
        except ActivityError as err:
            # e.g. an invoice number that matches several invoices: every resolution is open
            _reraise_cancellation(err)
            kind, reason = _describe(err)
            return MatchDecision(outcome=MatchOutcome.NEEDS_ATTENTION, rule=kind, reason=reason)
        decision = decide(context.match_input, context.policy)
        await self._audit(
            "matched",
            {
                "outcome": decision.outcome.value,
                "rule": decision.rule,
                "reason": decision.reason,
                "applications": [a.model_dump(mode="json") for a in decision.applications],
                "on_account": str(decision.on_account),
            },
        )
        return decision

    async def _resolve_decision(
        self, txn: PaytraceTransaction, previous: MatchDecision, resolution: Resolution
    ) -> MatchDecision:
        """Turn an operator's resolution into the next decision to carry out."""
        if resolution.action is ResolutionAction.RETRY:
            return await self._decide(txn)
        if resolution.action is ResolutionAction.POST_ON_ACCOUNT:
            customer_id = resolution.customer_id or previous.customer_id
            if not customer_id:
                return _attention(
                    "operator", "post_on_account needs a customer id: none is known", previous
                )
            return MatchDecision(
                outcome=MatchOutcome.APPLY,
                rule="operator_on_account",
                reason=f"operator {resolution.operator or '?'} posted it on account",
                customer_id=customer_id,
                on_account=txn.amount,
            )
        return await self._operator_applications(txn, previous, resolution)

    async def _operator_applications(
        self, txn: PaytraceTransaction, previous: MatchDecision, resolution: Resolution
    ) -> MatchDecision:
        numbers = [i.invoice_number for i in resolution.invoices]
        try:
            lookup: InvoiceLookup = await self._erp(
                names.INVOICES_BY_NUMBER, numbers, InvoiceLookup
            )
        except ActivityError as err:
            _reraise_cancellation(err)
            return _attention("operator", _describe(err)[1], previous)
        if lookup.missing:
            return _attention(
                "operator", f"invoices not found: {', '.join(lookup.missing)}", previous
            )
        customers = {i.customer_id for i in lookup.found}
        if len(customers) != 1:
            return _attention(
                "operator", f"invoices belong to several customers: {sorted(customers)}", previous
            )
        applications = tuple(
            Application(invoice_number=inv.invoice_number, amount=choice.amount)
            for inv, choice in zip(lookup.found, resolution.invoices, strict=True)
        )
        applied = sum((a.amount for a in applications), ZERO)
        if applied > txn.amount:
            return _attention(
                "operator",
                f"applications total {applied}, more than the payment {txn.amount}",
                previous,
            )
        return MatchDecision(
            outcome=MatchOutcome.APPLY,
            rule="operator_apply_to",
            reason=f"operator {resolution.operator or '?'} applied it to {', '.join(numbers)}",
            customer_id=customers.pop(),
            applications=applications,
            on_account=txn.amount - applied,
            candidates=lookup.found,
        )

    # -- needs-attention ------------------------------------------------------------------

    async def _park(
        self,
        reason_kind: str,
        reason: str,
        candidates: Sequence[OpenInvoice],
        allowed: tuple[ResolutionAction, ...],
    ) -> Resolution:
        """Wait in needs-attention until an operator resolves; return the resolution.

        ``mark_handled`` ends the workflow from here (``_Handled``), wherever it parked.
        """
        info = workflow.info()
        self._attention = AttentionInfo(
            reason_kind=reason_kind,
            reason=reason,
            since=workflow.now(),
            candidates=tuple(candidates),
        )
        self._allowed = allowed
        self._set_stage("needs_attention")
        dead_letter_id = await workflow.execute_activity(
            names.OPEN_DEAD_LETTER,
            DeadLetterRequest(
                workflow_id=info.workflow_id,
                run_id=info.run_id,
                paytrace_transaction_id=self._transaction_id,
                reason_kind=reason_kind,
                reason=reason,
                detail={"candidates": [c.model_dump(mode="json") for c in candidates]},
                at=workflow.now(),
            ),
            result_type=int,
            **options.STORE,
        )
        await self._audit("needs_attention", {"reason_kind": reason_kind, "reason": reason})
        await workflow.wait_condition(lambda: self._resolution is not None)
        resolution = self._resolution
        assert resolution is not None
        self._resolution = None
        self._attention = None
        self._allowed = ()
        summary = f"{resolution.action.value} by {resolution.operator or 'operator'}"
        if resolution.note:
            summary += f": {resolution.note}"
        await workflow.execute_activity(
            names.RESOLVE_DEAD_LETTER,
            DeadLetterResolution(
                dead_letter_id=dead_letter_id, resolution=summary, at=workflow.now()
            ),
            **options.STORE,
        )
        await self._audit("resolved", resolution.model_dump(mode="json"))
        self._set_stage("processing")
        if resolution.action is ResolutionAction.MARK_HANDLED:
            raise _Handled(resolution.note)
        return resolution

    # -- helpers --------------------------------------------------------------------------

    async def _call(self, name: str, arg: Any, result_type: Any, opts: dict[str, Any]) -> Any:
        """Run an activity; when it fails for good, park (retry or mark handled only)."""
        while True:
            try:
                return await workflow.execute_activity(name, arg, result_type=result_type, **opts)
            except ActivityError as err:
                _reraise_cancellation(err)
                kind, reason = _describe(err)
                await self._park(kind, f"{name}: {reason}", (), RETRY_OR_HANDLED)

    async def _call_erp(self, name: str, arg: Any, result_type: Any) -> Any:
        """Run an ERP activity; when it fails for good, park (retry or mark handled only)."""
        return await self._call(name, arg, result_type, _erp_options())

    async def _erp(self, name: str, arg: Any, result_type: Any) -> Any:
        """Run an ERP activity; a failure reaches the caller as ``ActivityError``."""
        return await workflow.execute_activity(name, arg, result_type=result_type, **_erp_options())

    async def _audit(self, event: str, detail: dict[str, Any]) -> None:
        info = workflow.info()
        self._audit_seq += 1
        await workflow.execute_activity(
            names.RECORD_AUDIT,
            AuditEvent(
                event_key=f"{info.workflow_id}/{info.run_id}/{self._audit_seq}",
                workflow_id=info.workflow_id,
                event=event,
                detail=detail,
                paytrace_transaction_id=self._transaction_id,
                at=workflow.now(),
            ),
            result_type=bool,
            **options.STORE,
        )

    def _set_stage(self, stage: str) -> None:
        self._stage = stage
        workflow.upsert_search_attributes([TRACEPOST_STATUS.value_set(stage)])

    def _receipt(self, txn: PaytraceTransaction, decision: MatchDecision) -> CashReceipt:
        when = txn.created_at.date() if txn.created_at else workflow.now().date()
        return CashReceipt(
            paytrace_transaction_id=txn.transaction_id,
            customer_id=decision.customer_id,
            amount=txn.amount,
            receipt_date=when,
            reference=f"PT {txn.transaction_id}",
            payment_method=txn.masked_card_number,
            applications=decision.applications,
            on_account=decision.on_account,
        )

    def _finish(self, outcome: PostingOutcome, **fields: str) -> PaymentPostingResult:
        self._result = PaymentPostingResult(
            transaction_id=self._transaction_id, outcome=outcome, **fields
        )
        self._set_stage(outcome.value)
        return self._result


def _attention(rule: str, reason: str, previous: MatchDecision) -> MatchDecision:
    return MatchDecision(
        outcome=MatchOutcome.NEEDS_ATTENTION,
        rule=rule,
        reason=reason,
        customer_id=previous.customer_id,
        candidates=previous.candidates,
    )


def _erp_options() -> dict[str, Any]:
    """Activity options of ERP calls: their own rate-limited task queue."""
    return {**options.ERP, "task_queue": options.erp_queue(workflow.info().task_queue)}


def _reraise_cancellation(err: ActivityError) -> None:
    """A cancelled workflow must end cancelled, not park: re-raise when the cause is a cancel."""
    if isinstance(err.cause, CancelledError):
        raise err


def _describe(err: ActivityError) -> tuple[str, str]:
    """The error kind and message behind a failed activity."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return cause.type or "activity_failed", cause.message
    if cause is not None:
        return type(cause).__name__, str(cause)
    return "activity_failed", str(err)
