"""RefundToCreditMemo: a refund made in PayTrace becomes a credit memo in the ERP, once.

re-read the refund → if tracepost itself issued it for an ERP credit memo, that memo is the
document (nothing is written) → read the memo back → find the customer and the refunded invoice
→ write the pending memo, applied to the invoice while it is open → post → record. A refund
whose customer cannot be told, or whose date falls in a closed period, parks for an operator.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.activity_io import Resolution, ResolutionAction
    from domain.erp_documents import CreditMemo, DocumentKind, DocumentStatus, ErpDocument
    from domain.models import REFUNDED, PaytraceTransaction, TransactionType, paytrace_tag
    from domain.refund_io import (
        RefundContext,
        RefundContextRequest,
        RefundInput,
        RefundOutcome,
        RefundPostingResult,
    )
    from domain.reversal_io import DocumentQuery
    from domain.search_attributes import ERP_CUSTOMER_ID, ERP_DOCUMENT, PAYTRACE_TXN_ID
    from domain.store_io import (
        CardRefundIntent,
        CardRefundStatus,
        DocumentRecordRequest,
        RefundLookup,
    )
    from workflows import options
    from workflows.attention import (
        RETRY_OR_HANDLED,
        AttentionWorkflow,
        Handled,
        Interrupted,
        describe,
        reraise_cancellation,
    )

VOIDED_REASON = "PayTrace voided the refund before its credit memo was written"
INTENT_POLL = timedelta(minutes=1)
INTENT_WAIT = timedelta(hours=2)
CLOSED_PERIOD = "erp_closed_period"
CUSTOMER_ACTIONS = (
    ResolutionAction.RETRY,
    ResolutionAction.APPLY_TO,
    ResolutionAction.POST_ON_ACCOUNT,
    ResolutionAction.MARK_HANDLED,
)
MEMO_ACTIONS = (
    ResolutionAction.RETRY,
    ResolutionAction.APPLY_TO,
    ResolutionAction.POST_ON_ACCOUNT,
    ResolutionAction.POST_TODAY,
    ResolutionAction.MARK_HANDLED,
)


@workflow.defn(name="RefundToCreditMemo")
class RefundToCreditMemo(AttentionWorkflow):
    """Write the ERP credit memo of one PayTrace refund, exactly once."""

    def __init__(self) -> None:
        super().__init__()
        self._result: RefundPostingResult | None = None
        self._memo_date: date | None = None
        self._closed_periods = "park"

    @workflow.query
    def status(self) -> RefundPostingResult | None:
        """The result once finished; None while it runs (see ``attention`` when it waits)."""
        return self._result

    @workflow.signal
    def transaction_voided(self) -> None:
        """PayTrace voided the refund: a memo not yet written is not written."""
        self._interrupted = VOIDED_REASON

    @workflow.run
    async def run(self, request: RefundInput) -> RefundPostingResult:
        """Write and post the credit memo; park for an operator on anything undecidable."""
        self._transaction_id = request.refund_transaction_id
        self._subject = f"refund {paytrace_tag(request.refund_transaction_id)}"
        workflow.upsert_search_attributes(
            [PAYTRACE_TXN_ID.value_set(str(request.refund_transaction_id))]
        )
        self._set_stage("processing")
        await self._audit("received", {"source": request.source})
        try:
            result = await self._post(request.refund_transaction_id)
        except Handled as handled:
            result = self._finish(RefundOutcome.HANDLED, reason=handled.note)
        except Interrupted as interrupted:
            result = self._finish(RefundOutcome.NOT_A_REFUND, reason=interrupted.reason)
        await self._audit("finished", result.model_dump(mode="json"))
        return result

    async def _post(self, refund_id: int) -> RefundPostingResult:
        txn = await self._refund(refund_id)
        if isinstance(txn, RefundPostingResult):
            return txn
        issued = await self._issued_by_tracepost(txn)
        if issued is not None:
            return self._finish(
                RefundOutcome.ERP_INITIATED,
                reason=f"tracepost issued this refund for ERP credit memo {issued.memo_key};"
                " that memo is its document",
                customer_id=issued.customer_id,
                erp_document=issued.memo_key,
            )
        query = DocumentQuery(kind=DocumentKind.CREDIT_MEMO, key=str(refund_id))
        memo: ErpDocument | None = await self._call_erp(
            names.FIND_DOCUMENT, query, ErpDocument | None
        )
        if memo is not None:
            await self._audit("read_back", {"erp_document": memo.erp_document})
        else:
            memo = await self._write(txn)
        if memo.status is not DocumentStatus.POSTED:
            memo = await self._call_erp(names.POST_DOCUMENT, query, ErpDocument)
        await self._call(
            names.RECORD_DOCUMENT,
            DocumentRecordRequest(
                document=memo,
                workflow_id=workflow.info().workflow_id,
                kind="credit_memo",
                transaction_id=refund_id,
            ),
            type(None),
            options.STORE,
        )
        workflow.upsert_search_attributes(
            [ERP_CUSTOMER_ID.value_set(memo.customer_id), ERP_DOCUMENT.value_set(memo.erp_document)]
        )
        outcome = (
            RefundOutcome.POSTED
            if memo.status is DocumentStatus.POSTED
            else RefundOutcome.PENDING_MANUAL_POST
        )
        await self._audit(outcome.value, {"erp_document": memo.erp_document})
        applied = ", ".join(memo.applied_to)
        return self._finish(
            outcome,
            reason=f"credit memo of {txn.amount}"
            + (f" applied to {applied}" if applied else " left open on the customer's account"),
            customer_id=memo.customer_id,
            erp_document=memo.erp_document,
            applied_to=applied,
            memo_date=memo.document_date,
        )

    async def _refund(self, refund_id: int) -> PaytraceTransaction | RefundPostingResult:
        """Re-read the refund until PayTrace clearly reports it made, or end the workflow."""
        while True:
            txn: PaytraceTransaction = await self._call(
                names.FETCH_TRANSACTION, refund_id, PaytraceTransaction, options.PAYTRACE
            )
            if txn.transaction_type is not TransactionType.REFUND:
                return self._finish(
                    RefundOutcome.NOT_A_REFUND,
                    reason=f"transaction type {txn.transaction_type.value} is not a refund",
                )
            if txn.declined:
                return self._finish(
                    RefundOutcome.NOT_A_REFUND,
                    reason=f"the refund failed in PayTrace: {txn.status_message}",
                )
            if txn.status_code == REFUNDED:
                return txn
            await self._park(
                "paytrace_status",
                f"PayTrace reports the refund with status {txn.status_code}"
                f" ({txn.status_message or 'no message'}); tracepost cannot tell whether money was"
                " refunded",
                (),
                RETRY_OR_HANDLED,
            )

    async def _issued_by_tracepost(self, txn: PaytraceTransaction) -> CardRefundIntent | None:
        """The ERP memo this refund was issued for, waiting while such a refund is in flight."""
        lookup = RefundLookup(
            refund_transaction_id=txn.transaction_id,
            invoice_id=txn.invoice_id,
            masked_card=txn.masked_card_number,
            amount=txn.amount,
        )
        waited = timedelta()
        while True:
            intents: list[CardRefundIntent] = await self._call(
                names.CARD_REFUNDS_LIKE, lookup, list[CardRefundIntent], options.STORE
            )
            for intent in intents:
                if intent.refund_transaction_id == txn.transaction_id:
                    return intent
            pending = [i for i in intents if i.status is CardRefundStatus.REQUESTED]
            if not pending:
                return None
            if waited >= INTENT_WAIT:
                memos = ", ".join(i.memo_key for i in pending)
                await self._park(
                    "refund_in_flight",
                    f"an ERP-requested refund of the same card, invoice and amount is still in"
                    f" progress (memo {memos}); if this refund is that one, mark_handled; retry"
                    " checks again",
                    (),
                    RETRY_OR_HANDLED,
                )
                waited = timedelta()
                continue
            self._set_stage("awaiting_erp_refund")
            await workflow.sleep(INTENT_POLL)
            waited += INTENT_POLL

    async def _write(self, txn: PaytraceTransaction) -> ErpDocument:
        """Find the customer and invoice, write the memo; park on what a person must decide."""
        customer_choice = ""
        invoice_choice: str | None = None
        while True:
            context: RefundContext = await self._call_erp(
                names.LOAD_REFUND_CONTEXT,
                RefundContextRequest(
                    invoice_id=invoice_choice if invoice_choice is not None else txn.invoice_id,
                    customer_reference_id=txn.customer_reference_id,
                    paytrace_customer_id=txn.customer_id,
                    email=txn.email,
                    customer_id=customer_choice,
                ),
                RefundContext,
            )
            self._closed_periods = context.closed_periods
            if context.customer is None:
                resolution = await self._park(
                    "refund_customer", context.reason, (), CUSTOMER_ACTIONS
                )
                customer_choice, invoice_choice = self._choices(
                    resolution, customer_choice, invoice_choice
                )
                continue
            invoice = context.invoice
            apply_to = (
                invoice.invoice_number
                if invoice is not None
                and invoice.balance > 0
                and invoice.customer_id == context.customer.customer_id
                else ""
            )
            if self._interrupted:
                raise Interrupted(self._interrupted)
            memo = CreditMemo(
                paytrace_transaction_id=txn.transaction_id,
                customer_id=context.customer.customer_id,
                amount=txn.amount,
                memo_date=self._memo_date or _txn_date(txn, workflow.now().date()),
                reference=f"{paytrace_tag(txn.transaction_id)} refund",
                apply_to_invoice=apply_to,
            )
            try:
                written: ErpDocument = await self._erp(names.WRITE_CREDIT_MEMO, memo, ErpDocument)
                return written
            except ActivityError as err:
                reraise_cancellation(err)
                kind, reason = describe(err)
                if kind == CLOSED_PERIOD and self._closed_periods == "current":
                    if await self._date_today(memo.memo_date):
                        continue
                resolution = await self._park(kind, reason, (), MEMO_ACTIONS)
                if resolution.action is ResolutionAction.POST_TODAY:
                    await self._date_today(memo.memo_date)
                customer_choice, invoice_choice = self._choices(
                    resolution, customer_choice or memo.customer_id, invoice_choice
                )

    def _choices(
        self, resolution: Resolution, customer: str, invoice: str | None
    ) -> tuple[str, str | None]:
        """The customer and invoice an operator's resolution chose (unchanged otherwise)."""
        if resolution.action is ResolutionAction.POST_ON_ACCOUNT:
            return resolution.customer_id or customer, ""
        if resolution.action is ResolutionAction.APPLY_TO:
            # A credit memo applies to one invoice, for the refund's amount: the first invoice
            # the operator named is the one; the amounts typed are not used.
            return resolution.customer_id, resolution.invoices[0].invoice_number
        return customer, invoice

    async def _date_today(self, current: date) -> bool:
        """Date the memo in today's open period; False when today is what failed too."""
        today: date = await self._call_erp(names.OPEN_PERIOD_DATE, workflow.now(), date)
        if today == current:
            return False
        await self._audit("redated", {"from": current.isoformat(), "to": today.isoformat()})
        self._memo_date = today
        return True

    def _finish(self, outcome: RefundOutcome, **fields: Any) -> RefundPostingResult:
        self._result = RefundPostingResult(
            refund_transaction_id=self._transaction_id or 0, outcome=outcome, **fields
        )
        self._set_stage(outcome.value)
        return self._result


def _txn_date(txn: PaytraceTransaction, today: date) -> date:
    """The refund's date as the merchant saw it (PayTrace times are merchant-local)."""
    return txn.created_at.date() if txn.created_at else today
