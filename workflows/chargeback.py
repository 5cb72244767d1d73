"""Chargeback: a dispute from the day it opens to the network's last word, months later.

Opening a case: read the payment's receipt back → reverse it (the invoices it paid reopen) →
charge the processor's fee to GL → optionally put the customer on credit hold → wait on a
durable timer until the response deadline, and for ``record_outcome`` updates. Won: apply the
payment again and take the fee back (if configured) and release the hold. Lost: leave the
invoices open, or write them off. The network can change its mind (pre-arbitration): each flip
is applied from where the ledger stands, so won→lost→won leaves the books as a single win.

A case on a payment tracepost never posted, a partial chargeback, or an ERP that refuses a
write parks for a person. The workflow continues as new between its phases (opened → past the
deadline → decided) and whenever Temporal suggests it, carrying its state, so a case that flips
for months keeps a short history.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.activity_io import InvoiceLookup, ResolutionAction
    from domain.chargeback_io import (
        CaseRecord,
        ChargebackCase,
        ChargebackInput,
        ChargebackOutcome,
        ChargebackPolicy,
        ChargebackResult,
        ChargebackStage,
        ChargebackState,
        ChargebackStatus,
        CreditHoldRequest,
        DisputeOutcome,
        LedgerState,
        LostPolicy,
        OpenCases,
        OpenCasesRequest,
        OutcomeUpdate,
    )
    from domain.erp_documents import (
        CustomerDetail,
        DocumentKind,
        DocumentStatus,
        ErpDocument,
        InvoiceWriteOff,
        JournalEntry,
        JournalLine,
        Reapplication,
        ReceiptReversal,
        ReversalReason,
    )
    from domain.models import PaymentSource, ReceiptRecord, ReceiptStatus, receipt_key
    from domain.reversal_io import DocumentQuery, ReceiptQuery
    from domain.search_attributes import ERP_CUSTOMER_ID, ERP_DOCUMENT, PAYTRACE_TXN_ID
    from domain.store_io import AlertKind, AlertRequest, DocumentRecordRequest
    from workflows import options
    from workflows.attention import (
        RETRY_OR_HANDLED,
        AttentionWorkflow,
        Handled,
        Interrupted,
        describe,
        reraise_cancellation,
    )

ZERO = Decimal("0.00")
CLOSED_PERIOD = "erp_closed_period"
WRITE_ACTIONS = (
    ResolutionAction.RETRY,
    ResolutionAction.POST_TODAY,
    ResolutionAction.MARK_HANDLED,
)
HANDLED_ONLY = (ResolutionAction.MARK_HANDLED,)
NO_DECISION = "chargeback_no_decision"
HISTORY_LIMIT = 2_000
"""Continue as new past this many history events even if Temporal does not suggest it yet."""


@workflow.defn(name="Chargeback")
class Chargeback(AttentionWorkflow):
    """One dispute against a PayTrace card payment, kept in step with the ERP until decided."""

    @workflow.init
    def __init__(self, request: ChargebackInput) -> None:
        super().__init__()
        self._case: ChargebackCase = request.case
        self._state: ChargebackState = request.state or ChargebackState()
        self._pending: list[OutcomeUpdate] = list(self._state.pending)
        self._closing = False
        decided = self._state.stage is ChargebackStage.DECIDED
        self._requested: DisputeOutcome | None = (
            self._pending[-1].outcome if self._pending else self._state.outcome if decided else None
        )

    # -- operator / event interface ----------------------------------------------------------

    @workflow.query
    def status(self) -> ChargebackStatus:
        """Where the case stands: phase, ledger, last decision and what was done."""
        return ChargebackStatus(
            case_id=self._case.case_id,
            transaction_id=self._case.transaction_id,
            stage=self._state.stage,
            ledger=self._state.ledger,
            outcome=self._state.outcome,
            respond_by=self._case.respond_by,
            customer_id=self._state.customer_id,
            history=self._state.history,
        )

    @workflow.update
    async def record_outcome(self, update: OutcomeUpdate) -> str:
        """Record the network's decision; the workflow applies it to the ERP right after.

        Args:
            update: won or lost, with the day and a note.

        Returns:
            ``accepted: won`` (or ``lost``), or ``unchanged: won`` when the case already
            stands decided that way (a re-imported report).
        """
        if update.outcome is self._requested:
            return f"unchanged: {update.outcome.value}"
        self._pending.append(update)
        self._requested = update.outcome
        if self._attention is not None and self._attention.reason_kind == NO_DECISION:
            self._interrupted = "a decision arrived"  # ends the wait for a person
        return f"accepted: {update.outcome.value}"

    @record_outcome.validator
    def _validate_outcome(self, update: OutcomeUpdate) -> None:
        if self._closing:
            raise ValueError(
                f"chargeback {self._case.case_id} is closing; book a later decision by hand"
            )

    # -- run ---------------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: ChargebackInput) -> ChargebackResult:
        """Open the case (first run) and follow its decisions until the flip window closes."""
        case = self._case
        self._transaction_id = case.transaction_id
        self._subject = f"chargeback {case.case_id} on PT {case.transaction_id}"
        workflow.upsert_search_attributes([PAYTRACE_TXN_ID.value_set(str(case.transaction_id))])
        self._set_stage(self._stage_label())
        try:
            if self._state.stage is ChargebackStage.OPENING:
                await self._audit("received", case.model_dump(mode="json"))
                opened = await self._open()
                if opened is not None:
                    return opened
            return await self._follow()
        except Handled as handled:
            self._closing = True
            self._step(f"marked handled: {handled.note}")
            return await self._finish(ChargebackOutcome.HANDLED, handled.note)

    async def _follow(self) -> ChargebackResult:
        """Apply decisions as they come; wait for the deadline, a decision or the flip window."""
        while True:
            while self._pending:
                await self._decide(self._pending.pop(0))
            if self._history_long():
                await self._continue_as_new(self._state.stage)
            stage = self._state.stage
            if stage is ChargebackStage.AWAITING_DEADLINE:
                if await self._wait_pending(self._case.deadline):
                    continue
                await self._deadline_passed()
                await self._continue_as_new(ChargebackStage.AWAITING_DECISION)
            elif stage is ChargebackStage.AWAITING_DECISION:
                wait = timedelta(days=self._state.policy.decision_wait_days)
                limit = self._state.waiting_until or self._case.deadline + wait
                if await self._wait_pending(limit):
                    continue
                try:
                    await self._park(
                        NO_DECISION,
                        f"no decision on chargeback {self._case.case_id} arrived within"
                        f" {self._state.policy.decision_wait_days} days of its deadline"
                        f" ({self._case.respond_by}); ask the processor and record the outcome"
                        " (import the report: that ends this wait), retry to wait as long"
                        " again, or mark_handled",
                        (),
                        RETRY_OR_HANDLED,
                    )
                except Interrupted:
                    self._interrupted = ""
                    continue
                self._state = self._state.model_copy(
                    update={"waiting_until": workflow.now() + wait}
                )
                await self._continue_as_new(ChargebackStage.AWAITING_DECISION)
            else:
                decided_at = self._state.decided_at or workflow.now()
                limit = decided_at + timedelta(days=self._state.policy.flip_window_days)
                if await self._wait_pending(limit):
                    continue
                self._closing = True
                outcome = (
                    ChargebackOutcome.WON
                    if self._state.outcome is DisputeOutcome.WON
                    else ChargebackOutcome.LOST
                )
                return await self._finish(outcome, f"decided {self._state.outcome}; no flip since")

    async def _wait_pending(self, until: datetime) -> bool:
        """Wait for a decision until ``until``; True when one is pending."""
        remaining = until - workflow.now()
        if self._pending:
            return True
        if remaining <= timedelta(0):
            return False
        try:
            await workflow.wait_condition(lambda: bool(self._pending), timeout=remaining)
        except TimeoutError:
            return False
        return True

    # -- opening -----------------------------------------------------------------------------

    async def _open(self) -> ChargebackResult | None:
        """Reverse the receipt, charge the fee, hold the customer; None when the case is open."""
        policy: ChargebackPolicy = await self._call_erp(
            names.CHARGEBACK_POLICY, self._case.case_id, ChargebackPolicy
        )
        self._state = self._state.model_copy(update={"policy": policy})
        receipt = await self._receipt()
        self._state = self._state.model_copy(update={"customer_id": receipt.customer_id})
        workflow.upsert_search_attributes([ERP_CUSTOMER_ID.value_set(receipt.customer_id)])
        await self._record_case()
        await self._reverse()
        await self._charge_fee()
        await self._hold(True)
        await self._alert(
            "opened",
            f"Chargeback {self._case.case_id} opened on PayTrace payment"
            f" {self._case.transaction_id}",
            f"{self._case.amount} taken back ({self._case.reason or 'no reason given'}); receipt"
            f" {receipt.erp_document} reversed, invoices reopened:"
            f" {', '.join(self._state.reversed_invoices) or 'none'}. Respond by"
            f" {self._case.respond_by}.",
        )
        self._state = self._state.model_copy(update={"stage": ChargebackStage.AWAITING_DEADLINE})
        self._set_stage(ChargebackStage.AWAITING_DEADLINE.value)
        await self._record_case()
        return None

    async def _receipt(self) -> ReceiptRecord:
        """The posted receipt of the disputed payment; park until there is one."""
        query = ReceiptQuery(transaction_id=self._case.transaction_id, method=PaymentSource.CARD)
        while True:
            receipt: ReceiptRecord | None = await self._call_erp(
                names.FIND_RECEIPT_OF, query, ReceiptRecord | None
            )
            if receipt is None:
                await self._park(
                    "chargeback_not_posted",
                    f"tracepost never posted PayTrace payment {self._case.transaction_id}, so"
                    f" chargeback {self._case.case_id} ({self._case.amount}) has no receipt to"
                    " reverse: post the payment first and retry, or book the chargeback in the"
                    " ERP by hand and mark_handled",
                    (),
                    RETRY_OR_HANDLED,
                )
                continue
            if receipt.amount != self._case.amount:
                await self._park(
                    "chargeback_partial",
                    f"chargeback {self._case.case_id} takes back {self._case.amount} of payment"
                    f" {self._case.transaction_id}'s {receipt.amount} (receipt"
                    f" {receipt.erp_document}); tracepost reverses whole receipts only: book"
                    " this one in the ERP by hand and mark_handled",
                    (),
                    HANDLED_ONLY,
                )
                continue
            if receipt.status is not ReceiptStatus.POSTED:
                await self._park(
                    "receipt_pending",
                    f"receipt {receipt.erp_document} (batch {receipt.batch}) of the disputed"
                    " payment is still pending in the ERP: post it there and retry",
                    (),
                    RETRY_OR_HANDLED,
                )
                continue
            self._state = self._state.model_copy(update={"receipt_document": receipt.erp_document})
            return receipt

    # -- decisions ---------------------------------------------------------------------------

    async def _decide(self, update: OutcomeUpdate) -> None:
        """Bring the ERP to what the decision means, from where the ledger stands."""
        ledger = self._state.ledger
        await self._audit("outcome", update.model_dump(mode="json"))
        if update.outcome is DisputeOutcome.WON:
            if ledger is LedgerState.APPLIED:
                self._step("won again: nothing to change")
            else:
                await self._reapply(after_write_off=ledger is LedgerState.WRITTEN_OFF)
                await self._reverse_fee()
                await self._hold(False)
        else:
            if ledger is LedgerState.APPLIED:
                await self._reverse()
                await self._charge_fee()
                await self._hold(True)
            if self._state.ledger is LedgerState.REVERSED:
                await self._lost()
            elif ledger is LedgerState.WRITTEN_OFF:
                self._step("lost again: nothing to change")
        self._state = self._state.model_copy(
            update={
                "stage": ChargebackStage.DECIDED,
                "outcome": update.outcome,
                "decided_at": workflow.now(),
            }
        )
        self._set_stage(self._stage_label())
        await self._record_case()

    async def _lost(self) -> None:
        if self._state.policy.lost is LostPolicy.LEAVE_OPEN:
            self._step("lost: invoices left open " + ", ".join(self._state.reversed_invoices))
            return
        reopened = dict(self._state.reopened)
        lookup: InvoiceLookup = await self._call_erp(
            names.INVOICES_BY_NUMBER, sorted(reopened), InvoiceLookup
        )
        cycle = self._state.cycle
        written = []
        for index, invoice in enumerate(lookup.found, start=1):
            # what this payment's reversal reopened, never debt the payment did not cover
            amount = min(invoice.balance, reopened.get(invoice.invoice_number, ZERO))
            if amount <= ZERO:
                continue
            write_off = InvoiceWriteOff(
                key=f"cb-{self._case.case_id}-w{cycle}-{index}",
                invoice_number=invoice.invoice_number,
                customer_id=invoice.customer_id,
                amount=amount,
                write_off_date=await self._today(),
                reference=f"chargeback {self._case.case_id} lost",
                paytrace_transaction_id=self._case.transaction_id,
            )
            await self._write(
                names.WRITE_OFF_INVOICE,
                DocumentKind.WRITE_OFF,
                write_off,
                functools.partial(_redated, write_off, "write_off_date"),
                "write_off",
            )
            written.append(f"{invoice.invoice_number} {amount}")
        if not written:
            self._step("lost: nothing to write off (the reopened invoices were paid since)")
            return
        self._state = self._state.model_copy(update={"ledger": LedgerState.WRITTEN_OFF})
        self._step("lost: written off " + ", ".join(written))

    # -- ERP steps ---------------------------------------------------------------------------

    async def _reverse(self) -> None:
        cycle = self._state.cycle + 1
        numbers = self._state.reversed_invoices or await self._paid_invoices()
        before = await self._balances(numbers)
        today = await self._today()
        reversal = ReceiptReversal(
            key=f"cb-{self._case.case_id}-r{cycle}",
            paytrace_transaction_id=self._case.transaction_id,
            reason=ReversalReason.CHARGEBACK,
            reversal_date=today,
            reference=f"chargeback {self._case.case_id}",
            source=PaymentSource.CARD,
        )
        document = await self._write(
            names.REVERSE_RECEIPT,
            DocumentKind.REVERSAL,
            reversal,
            functools.partial(_redated, reversal, "reversal_date"),
            "chargeback_reversal",
        )
        workflow.upsert_search_attributes([ERP_DOCUMENT.value_set(document.erp_document)])
        invoices = tuple(document.applied_to) or numbers
        after = await self._balances(invoices)
        reopened = {
            n: after[n] - before.get(n, ZERO) for n in after if after[n] > before.get(n, ZERO)
        }
        self._state = self._state.model_copy(
            update={
                "cycle": cycle,
                "ledger": LedgerState.REVERSED,
                "reversed_invoices": invoices,
                "reopened": reopened,
            }
        )
        self._step(
            f"receipt reversed by {document.erp_document}; reopened"
            f" {', '.join(f'{n} {a}' for n, a in sorted(reopened.items())) or 'nothing'}"
        )

    async def _paid_invoices(self) -> tuple[str, ...]:
        """The invoices the disputed payment's receipt paid."""
        receipt: ErpDocument | None = await self._call_erp(
            names.FIND_DOCUMENT,
            DocumentQuery(
                kind=DocumentKind.RECEIPT,
                key=receipt_key(self._case.transaction_id, PaymentSource.CARD),
            ),
            ErpDocument | None,
        )
        return tuple(receipt.applied_to) if receipt is not None else ()

    async def _balances(self, numbers: tuple[str, ...]) -> dict[str, Decimal]:
        if not numbers:
            return {}
        lookup: InvoiceLookup = await self._call_erp(
            names.INVOICES_BY_NUMBER, list(numbers), InvoiceLookup
        )
        return {i.invoice_number: i.balance for i in lookup.found}

    async def _reapply(self, *, after_write_off: bool) -> None:
        today = await self._today()
        reapplication = Reapplication(
            key=f"cb-{self._case.case_id}-a{self._state.cycle}",
            paytrace_transaction_id=self._case.transaction_id,
            reapply_date=today,
            reference=f"chargeback {self._case.case_id} won",
        )
        document = await self._write(
            names.REAPPLY_RECEIPT,
            DocumentKind.REAPPLICATION,
            reapplication,
            functools.partial(_redated, reapplication, "reapply_date"),
            "chargeback_reapplication",
        )
        self._state = self._state.model_copy(update={"ledger": LedgerState.APPLIED})
        self._step(
            f"won: payment applied again by {document.erp_document} to"
            f" {', '.join(document.applied_to) or 'account'}"
        )
        if after_write_off:
            await self._alert(
                f"won-after-write-off-{self._state.cycle}",
                f"Chargeback {self._case.case_id} won after its invoices were written off",
                f"The payment of {self._case.amount} went back on the customer's account"
                f" ({self._state.customer_id}) because the write-off closed the invoices;"
                " reverse the write-off in the ERP if the invoices should be paid by it.",
            )

    async def _charge_fee(self) -> None:
        if self._state.fee_charged or self._case.fee <= ZERO:
            return
        policy = self._state.policy
        if not policy.fee_account or not policy.bank_account:
            await self._alert(
                f"fee-not-journaled-{self._state.cycle}",
                f"Chargeback {self._case.case_id}: fee {self._case.fee} not journaled",
                "accounts.chargeback_fees and accounts.bank must both be set in the mapping for"
                " tracepost to journal chargeback fees; book this fee by hand.",
            )
            self._step(f"fee {self._case.fee} not journaled (accounts not configured)")
            return
        await self._journal_fee(charge=True)

    async def _reverse_fee(self) -> None:
        if not self._state.fee_charged or not self._state.policy.reverse_fee_when_won:
            return
        await self._journal_fee(charge=False)

    async def _journal_fee(self, *, charge: bool) -> None:
        """Charge the fee to its account (or take it back), exactly once per cycle."""
        suffix = "fee" if charge else "feeback"
        entry = await self._fee_entry(
            f"cb-{self._case.case_id}-{suffix}{self._state.cycle}", charge
        )
        document = await self._write(
            names.WRITE_JOURNAL,
            DocumentKind.JOURNAL,
            entry,
            functools.partial(_redated, entry, "entry_date"),
            "chargeback_fee" if charge else "chargeback_fee_reversal",
        )
        self._state = self._state.model_copy(update={"fee_charged": charge})
        verb = "charged" if charge else "taken back"
        self._step(f"fee {self._case.fee} {verb} by {document.erp_document}")

    async def _fee_entry(self, key: str, charge: bool) -> JournalEntry:
        policy = self._state.policy
        fee = self._case.fee
        debit, credit = (
            (policy.fee_account, policy.bank_account)
            if charge
            else (policy.bank_account, policy.fee_account)
        )
        what = "fee" if charge else "fee reversal"
        return JournalEntry(
            key=key,
            entry_date=await self._today(),
            description=f"Chargeback {what} {self._case.case_id}"[:60],
            lines=(
                JournalLine(account=debit, debit=fee, memo=f"chargeback {self._case.case_id}"),
                JournalLine(account=credit, credit=fee, memo=f"chargeback {self._case.case_id}"),
            ),
            paytrace_transaction_id=self._case.transaction_id,
        )

    async def _hold(self, on: bool) -> None:
        """Credit hold while a case of the customer is open or lost.

        A hold someone put on by hand is left alone; a hold tracepost set is released only when
        no other open case of the customer still needs it.
        """
        if not self._state.policy.credit_hold or not self._state.customer_id:
            return
        customer_id = self._state.customer_id
        if on and self._state.hold_set_by_us:
            return
        if not on and not self._state.hold_set_by_us:
            return
        others = await self._other_open_cases()
        if on:
            customer: CustomerDetail | None = await self._call_erp(
                names.GET_CUSTOMER, customer_id, CustomerDetail | None
            )
            if customer is None:
                self._step(f"customer {customer_id} not found; no credit hold")
                return
            if customer.on_hold:
                if others:  # put on by another open case: shared, released by the last one
                    self._state = self._state.model_copy(update={"hold_set_by_us": True})
                    self._step(f"customer already on hold for {', '.join(others)}")
                else:
                    self._step("customer already on credit hold (not by tracepost); left as is")
                return
        elif others:
            self._state = self._state.model_copy(update={"hold_set_by_us": False})
            self._step(f"credit hold kept: {', '.join(others)} still open")
            return
        await self._call_erp(
            names.SET_CREDIT_HOLD,
            CreditHoldRequest(customer_id=customer_id, on_hold=on),
            CustomerDetail,
        )
        self._state = self._state.model_copy(update={"hold_set_by_us": on})
        self._step(f"customer {customer_id} {'put on' if on else 'released from'} hold")

    async def _other_open_cases(self) -> tuple[str, ...]:
        cases: OpenCases = await self._call(
            names.OPEN_CHARGEBACKS,
            OpenCasesRequest(
                customer_id=self._state.customer_id, exclude=workflow.info().workflow_id
            ),
            OpenCases,
            options.STORE,
        )
        return cases.by_customer.get(self._state.customer_id, ())

    async def _record_case(self, *, finished: bool = False) -> None:
        """Write where the case stands to the store's case register."""
        state = self._state
        won = state.stage is ChargebackStage.DECIDED and state.outcome is DisputeOutcome.WON
        await self._call(
            names.RECORD_CASE,
            CaseRecord(
                case_id=self._case.case_id,
                workflow_id=workflow.info().workflow_id,
                transaction_id=self._case.transaction_id,
                customer_id=state.customer_id,
                amount=self._case.amount,
                respond_by=self._case.respond_by,
                stage="finished" if finished else self._stage_label(),
                ledger=state.ledger,
                outcome=state.outcome,
                open=not finished and not won,
                at=workflow.now(),
            ),
            type(None),
            options.STORE,
        )

    async def _write(
        self,
        activity_name: str,
        kind: DocumentKind,
        document_in: Any,
        redate: Callable[[date], Any],
        record_kind: str,
    ) -> ErpDocument:
        """Write one document exactly once (its key), post it and record it; park on refusals."""
        request = document_in
        while True:
            try:
                written: ErpDocument = await self._erp(activity_name, request, ErpDocument)
                break
            except ActivityError as err:
                reraise_cancellation(err)
                error_kind, reason = describe(err)
                resolution = await self._park(
                    error_kind, f"{record_kind}: {reason}", (), WRITE_ACTIONS
                )
                if resolution.action is ResolutionAction.POST_TODAY or error_kind == CLOSED_PERIOD:
                    request = redate(await self._today())
        document = written
        if document.status is not DocumentStatus.POSTED:
            document = await self._call_erp(
                names.POST_DOCUMENT, DocumentQuery(kind=kind, key=request.key), ErpDocument
            )
        await self._call(
            names.RECORD_DOCUMENT,
            DocumentRecordRequest(
                document=document,
                workflow_id=workflow.info().workflow_id,
                kind=record_kind,
                transaction_id=self._case.transaction_id,
            ),
            type(None),
            options.STORE,
        )
        return document

    async def _today(self) -> date:
        today: date = await self._call_erp(names.OPEN_PERIOD_DATE, workflow.now(), date)
        return today

    # -- bookkeeping -------------------------------------------------------------------------

    async def _deadline_passed(self) -> None:
        await self._alert(
            "deadline",
            f"Chargeback {self._case.case_id}: response deadline passed",
            f"The deadline {self._case.respond_by} passed with no decision recorded; the case"
            " stays reversed and waits for the processor's decision.",
        )
        self._step(f"deadline {self._case.respond_by} passed; waiting for the decision")
        self._state = self._state.model_copy(update={"stage": ChargebackStage.AWAITING_DECISION})
        await self._record_case()

    async def _alert(self, suffix: str, subject: str, message: str) -> None:
        await self._call(
            names.RAISE_ALERT,
            AlertRequest(
                alert_key=f"{workflow.info().workflow_id}/{suffix}",
                kind=AlertKind.NOTICE,
                severity="warning",
                subject=subject,
                message=message,
                workflow_id=workflow.info().workflow_id,
                at=workflow.now(),
            ),
            bool,
            options.STORE,
        )

    def _stage_label(self) -> str:
        if self._state.stage is ChargebackStage.DECIDED and self._state.outcome is not None:
            return f"{ChargebackStage.DECIDED.value}_{self._state.outcome.value}"
        return self._state.stage.value

    def _step(self, line: str) -> None:
        self._state = self._state.model_copy(update={"history": (*self._state.history, line)})

    def _history_long(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > (
            HISTORY_LIMIT
        )

    async def _continue_as_new(self, stage: ChargebackStage) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        state = self._state.model_copy(
            update={"stage": stage, "pending": tuple(self._pending), "runs": self._state.runs + 1}
        )
        workflow.continue_as_new(ChargebackInput(case=self._case, state=state))

    async def _finish(self, outcome: ChargebackOutcome, reason: str) -> ChargebackResult:
        await self._record_case(finished=True)
        result = ChargebackResult(
            case_id=self._case.case_id,
            transaction_id=self._case.transaction_id,
            outcome=outcome,
            reason=reason,
            customer_id=self._state.customer_id,
            ledger=self._state.ledger,
            cycles=self._state.cycle,
            history=self._state.history,
        )
        self._set_stage(f"finished_{outcome.value}")
        await self._audit("finished", result.model_dump(mode="json"))
        return result


def _redated(document: Any, field: str, day: date) -> Any:
    """The document with its date field set to ``day`` (after ``post_today`` or a closed period)."""
    return document.model_copy(update={field: day})
