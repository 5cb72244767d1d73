"""VoidReversal: a payment that turned out not to be money received gets its receipt reversed.

A card sale voided in PayTrace before settlement, or an ACH debit the bank returned: re-read it
→ let its PaymentPosting finish first (a posting still waiting is told by the
``transaction_voided`` signal and ends without posting) → read the receipt back → reverse it,
which reopens every invoice it paid → post → record. Nothing posted means nothing to reverse.
A receipt still pending in the ERP (manual posting) parks: it must be deleted or posted there.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.activity_io import ResolutionAction
    from domain.erp_documents import (
        DocumentKind,
        DocumentStatus,
        ErpDocument,
        ReceiptReversal,
        ReversalReason,
    )
    from domain.models import (
        PaymentSource,
        PaytraceTransaction,
        ReceiptRecord,
        ReceiptStatus,
        TransactionType,
        paytrace_tag,
        receipt_key,
    )
    from domain.reversal_io import (
        DocumentQuery,
        ReceiptQuery,
        ReversalInput,
        ReversalOutcome,
        ReversalResult,
    )
    from domain.search_attributes import ERP_CUSTOMER_ID, ERP_DOCUMENT, PAYTRACE_TXN_ID
    from domain.start_io import WorkflowsOpenRequest, WorkflowsOpenResult
    from domain.store_io import AlertKind, AlertRequest, DocumentRecordRequest
    from domain.workflow_ids import payment_workflow_id, refund_workflow_id
    from workflows import options
    from workflows.attention import (
        RETRY_OR_HANDLED,
        AttentionWorkflow,
        Handled,
        describe,
        reraise_cancellation,
    )

POSTING_POLL_FIRST = timedelta(seconds=2)
POSTING_POLL_MAX = timedelta(minutes=10)
POSTING_WAIT = timedelta(days=1)
CLOSED_PERIOD = "erp_closed_period"
REVERSAL_ACTIONS = (
    ResolutionAction.RETRY,
    ResolutionAction.POST_TODAY,
    ResolutionAction.MARK_HANDLED,
)


@workflow.defn(name="VoidReversal")
class VoidReversal(AttentionWorkflow):
    """Reverse the receipt of a voided card sale or a returned ACH debit, exactly once."""

    def __init__(self) -> None:
        super().__init__()
        self._method = PaymentSource.CARD
        self._result: ReversalResult | None = None

    @workflow.query
    def status(self) -> ReversalResult | None:
        """The result once finished; None while it runs (see ``attention`` when it waits)."""
        return self._result

    @workflow.run
    async def run(self, request: ReversalInput) -> ReversalResult:
        """Reverse the payment's receipt; park for an operator on anything undecidable."""
        self._transaction_id = request.transaction_id
        self._method = request.method
        tag = paytrace_tag(request.transaction_id, request.method)
        self._subject = f"reversal of {tag}"
        workflow.upsert_search_attributes([PAYTRACE_TXN_ID.value_set(str(request.transaction_id))])
        self._set_stage("processing")
        await self._audit("received", {"source": request.source, "method": request.method.value})
        try:
            result = await self._reverse(request)
        except Handled as handled:
            result = self._finish(ReversalOutcome.HANDLED, reason=handled.note)
        await self._audit("finished", result.model_dump(mode="json"))
        return result

    @property
    def _ach(self) -> bool:
        return self._method is PaymentSource.ACH

    async def _reverse(self, request: ReversalInput) -> ReversalResult:
        txn = await self._fetch(request.transaction_id)
        not_reversed = self._not_reversed(txn)
        if not_reversed:
            return self._finish(ReversalOutcome.NOT_REVERSED, reason=not_reversed)
        await self._audit(
            "confirmed",
            {"transaction_type": txn.transaction_type.value, "return": txn.return_reason},
        )
        await self._wait_for_postings(request.transaction_id)
        query = ReceiptQuery(transaction_id=request.transaction_id, method=self._method)
        receipt: ReceiptRecord | None = await self._call_erp(
            names.FIND_RECEIPT_OF, query, ReceiptRecord | None
        )
        if receipt is None:
            await self._no_voided_memo(request.transaction_id)
            return self._finish(
                ReversalOutcome.NOTHING_POSTED,
                reason="no receipt was posted for it, so there is nothing to reverse",
            )
        key = receipt_key(request.transaction_id, self._method)
        document: ErpDocument | None = await self._call_erp(
            names.FIND_DOCUMENT,
            DocumentQuery(kind=DocumentKind.REVERSAL, key=key),
            ErpDocument | None,
        )
        if document is None:
            document = await self._write(receipt, txn, key)
        if document.status is not DocumentStatus.POSTED:
            document = await self._call_erp(
                names.POST_DOCUMENT, DocumentQuery(kind=DocumentKind.REVERSAL, key=key), ErpDocument
            )
        await self._call(
            names.RECORD_DOCUMENT,
            DocumentRecordRequest(
                document=document,
                workflow_id=workflow.info().workflow_id,
                kind="ach_reversal" if self._ach else "reversal",
                transaction_id=request.transaction_id,
            ),
            type(None),
            options.STORE,
        )
        workflow.upsert_search_attributes(
            [
                ERP_CUSTOMER_ID.value_set(document.customer_id),
                ERP_DOCUMENT.value_set(document.erp_document),
            ]
        )
        if txn.returned:
            await self._alert_return(txn, document)
        outcome = (
            ReversalOutcome.REVERSED
            if document.status is DocumentStatus.POSTED
            else ReversalOutcome.PENDING_MANUAL_POST
        )
        await self._audit(outcome.value, {"erp_document": document.erp_document})
        return self._finish(
            outcome,
            reason=f"receipt {receipt.erp_document} reversed by {document.erp_document}",
            customer_id=document.customer_id,
            erp_document=document.erp_document,
            reopened=document.applied_to,
            reversal_date=document.document_date,
        )

    async def _fetch(self, transaction_id: int) -> PaytraceTransaction:
        name = names.FETCH_CHECK if self._ach else names.FETCH_TRANSACTION
        txn: PaytraceTransaction = await self._call(
            name, transaction_id, PaytraceTransaction, options.PAYTRACE
        )
        return txn

    def _not_reversed(self, txn: PaytraceTransaction) -> str:
        """Why PayTrace's answer does not call for a reversal, or ``""`` when it does."""
        if self._ach:
            if txn.returned or txn.transaction_type is TransactionType.VOID:
                return ""
            return "the bank has not returned this ACH debit, nor was it voided; its receipt stands"
        if txn.transaction_type is TransactionType.VOID:
            return ""
        return f"PayTrace shows it as {txn.transaction_type.value}, not voided; its receipt stands"

    async def _wait_for_postings(self, transaction_id: int) -> None:
        """Let the transaction's own workflows finish (told of the void) before reading back.

        A voided card transaction is a voided sale (PaymentPosting) or a voided refund
        (RefundToCreditMemo); PayTrace no longer says which, so both are told and awaited.
        """
        ids = [payment_workflow_id(transaction_id, self._method)]
        if not self._ach:
            ids.append(refund_workflow_id(transaction_id))
        told: set[str] = set()
        waited = timedelta()
        poll = POSTING_POLL_FIRST
        while True:
            state: WorkflowsOpenResult = await self._call(
                names.WORKFLOWS_OPEN,
                WorkflowsOpenRequest(workflow_ids=tuple(ids)),
                WorkflowsOpenResult,
                options.STORE,
            )
            if not state.running:
                return
            for workflow_id in state.running:
                if workflow_id in told:
                    continue
                try:
                    await workflow.get_external_workflow_handle(workflow_id).signal(
                        "transaction_voided"
                    )
                except FailureError:
                    continue  # it closed in between: its state is read again below
                await self._audit("told_posting", {"workflow_id": workflow_id})
                told.add(workflow_id)
            if waited >= POSTING_WAIT:
                await self._park(
                    "reversal_waiting",
                    f"{', '.join(state.running)} still running a day after being told the"
                    " transaction is void; look at it (it may wait for an operator), then retry",
                    (),
                    RETRY_OR_HANDLED,
                )
                waited = timedelta()
                continue
            self._set_stage("awaiting_posting")
            await workflow.sleep(poll)
            waited += poll
            poll = min(poll * 2, POSTING_POLL_MAX)

    async def _no_voided_memo(self, transaction_id: int) -> None:
        """A voided refund whose credit memo was posted: the ERP user must take the memo back."""
        if self._ach:
            return
        query = DocumentQuery(kind=DocumentKind.CREDIT_MEMO, key=str(transaction_id))
        memo: ErpDocument | None = await self._call_erp(
            names.FIND_DOCUMENT, query, ErpDocument | None
        )
        if memo is None:
            return
        await self._park(
            "refund_voided",
            f"PayTrace voided refund {transaction_id} after its credit memo {memo.erp_document}"
            f" ({memo.amount}, customer {memo.customer_id}) was written: the customer got no"
            " money back; reverse or delete that memo in the ERP, then mark_handled",
            (),
            (ResolutionAction.MARK_HANDLED,),
            {"erp_document": memo.erp_document},
        )

    async def _write(
        self, receipt: ReceiptRecord, txn: PaytraceTransaction, key: str
    ) -> ErpDocument:
        """Write the reversal; park on what a person must fix (pending receipt, closed period)."""
        today: date | None = None
        while True:
            if receipt.status is not ReceiptStatus.POSTED:
                await self._park(
                    "receipt_pending",
                    f"receipt {receipt.erp_document} (batch {receipt.batch}) of this payment is"
                    " still pending in the ERP: delete that batch in the ERP and mark_handled, or"
                    " post it there and retry",
                    (),
                    RETRY_OR_HANDLED,
                )
                refreshed: ReceiptRecord | None = await self._call_erp(
                    names.FIND_RECEIPT_OF,
                    ReceiptQuery(
                        transaction_id=receipt.paytrace_transaction_id, method=self._method
                    ),
                    ReceiptRecord | None,
                )
                if refreshed is None:
                    raise Handled("the pending receipt was deleted in the ERP; nothing to reverse")
                receipt = refreshed
                continue
            if today is None:
                today = await self._call_erp(names.OPEN_PERIOD_DATE, workflow.now(), date)
            reversal = ReceiptReversal(
                key=key,
                paytrace_transaction_id=receipt.paytrace_transaction_id,
                reason=ReversalReason.ACH_RETURN if txn.returned else ReversalReason.VOID,
                reversal_date=today,
                reference=self._reference(txn),
                source=self._method,
            )
            try:
                written: ErpDocument = await self._erp(names.REVERSE_RECEIPT, reversal, ErpDocument)
                return written
            except ActivityError as err:
                reraise_cancellation(err)
                kind, reason = describe(err)
                resolution = await self._park(kind, reason, (), REVERSAL_ACTIONS)
                if resolution.action is ResolutionAction.POST_TODAY or kind == CLOSED_PERIOD:
                    today = None

    def _reference(self, txn: PaytraceTransaction) -> str:
        if txn.returned:
            return f"ACH return {txn.return_reason}".strip()
        return "void"

    async def _alert_return(self, txn: PaytraceTransaction, document: ErpDocument) -> None:
        info = workflow.info()
        reopened = ", ".join(document.applied_to) or "none"
        await self._call(
            names.RAISE_ALERT,
            AlertRequest(
                alert_key=f"{info.workflow_id}/returned",
                kind=AlertKind.NOTICE,
                severity="warning",
                subject=f"ACH payment {txn.transaction_id} returned by the bank",
                message=(
                    f"The bank returned ACH payment {txn.transaction_id} of {txn.amount}"
                    f" ({txn.return_reason or 'no reason given'}). Receipt reversed by"
                    f" {document.erp_document}; invoices reopened: {reopened}."
                ),
                workflow_id=info.workflow_id,
                at=workflow.now(),
            ),
            bool,
            options.STORE,
        )

    def _finish(self, outcome: ReversalOutcome, **fields: Any) -> ReversalResult:
        self._result = ReversalResult(
            transaction_id=self._transaction_id or 0,
            method=self._method,
            outcome=outcome,
            **fields,
        )
        self._set_stage(outcome.value)
        return self._result
