"""Settlement: every settled PayTrace batch is reconciled with the ERP and deposited once.

``SettlementSweep`` (a daily Schedule, or ``tracepost settlement run``) lists the batches settled
in the last days and starts ``SettlementSync`` for each (id ``settlement-<batch>``, so a batch is
settled once however often it is seen).

``SettlementSync``: inspect the batch (which of its transactions have no ERP document yet) →
start their postings and wait for them, up to the mapping's ``settlement.wait_minutes`` →
reconcile (the report is stored: matched, missing in the ERP, amount differences, ERP receipts
PayTrace does not show as paid) → write the bank deposit dated the settlement day (merchant
time, so a batch settled after midnight lands on its own day and period) and the fee entry →
post them → alert on discrepancies.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.activity_io import ResolutionAction
    from domain.erp_documents import (
        Deposit,
        DocumentKind,
        DocumentStatus,
        ErpDocument,
        JournalEntry,
    )
    from domain.reversal_io import DocumentQuery
    from domain.settlement import BatchInfo
    from domain.settlement_io import (
        BatchInspection,
        BatchQuery,
        ReconcilePlan,
        SettlementDeposited,
        SettlementInput,
        SettlementOutcome,
        SettlementResult,
        SettlementSweepInput,
        SettlementSweepResult,
    )
    from domain.start_io import (
        StartKind,
        StartWorkflowsRequest,
        StartWorkflowsResult,
        WorkflowsOpenRequest,
        WorkflowsOpenResult,
        WorkflowStart,
    )
    from domain.store_io import AlertKind, AlertRequest, DocumentRecordRequest
    from workflows import options
    from workflows.attention import (
        AttentionWorkflow,
        Handled,
        describe,
        erp_options,
        reraise_cancellation,
    )

POLL_FIRST = timedelta(seconds=2)
POLL_MAX = timedelta(minutes=5)
DOCUMENT_ACTIONS = (
    ResolutionAction.RETRY,
    ResolutionAction.POST_TODAY,
    ResolutionAction.MARK_HANDLED,
)


@workflow.defn(name="SettlementSweep")
class SettlementSweep:
    """Start the SettlementSync of every batch settled in the last days (a daily Schedule)."""

    @workflow.run
    async def run(self, request: SettlementSweepInput) -> SettlementSweepResult:
        """List the settled batches and start (or join) their settlements."""
        batches: list[BatchInfo] = await workflow.execute_activity(
            names.SETTLED_BATCHES,
            BatchQuery(until=workflow.now(), days=request.lookback_days),
            result_type=list[BatchInfo],
            **options.PAYTRACE,
        )
        started = StartWorkflowsResult()
        if batches:
            started = await workflow.execute_activity(
                names.START_WORKFLOWS,
                StartWorkflowsRequest(
                    starts=tuple(
                        WorkflowStart(
                            kind=StartKind.SETTLEMENT, transaction_id=b.number, source="schedule"
                        )
                        for b in batches
                    )
                ),
                result_type=StartWorkflowsResult,
                **options.STARTER,
            )
        return SettlementSweepResult(
            batches=tuple(b.number for b in batches),
            started=started.started,
            already=started.already,
        )


@workflow.defn(name="SettlementSync")
class SettlementSync(AttentionWorkflow):
    """Reconcile one settled batch with the ERP and write its deposit, exactly once."""

    def __init__(self) -> None:
        super().__init__()
        self._batch = 0
        self._result: SettlementResult | None = None

    @workflow.query
    def status(self) -> SettlementResult | None:
        """The result once finished; None while it runs (see ``attention`` when it waits)."""
        return self._result

    @workflow.run
    async def run(self, request: SettlementInput) -> SettlementResult:
        """Reconcile, deposit, report; park for an operator when the ERP refuses a document."""
        self._batch = request.batch_number
        self._subject = f"settlement of PayTrace batch {request.batch_number}"
        self._set_stage("processing")
        await self._audit("received", {"source": request.source, "batch": request.batch_number})
        try:
            result = await self._settle(request.batch_number)
        except Handled as handled:
            result = self._finish(SettlementOutcome.HANDLED, reason=handled.note)
        await self._audit("finished", result.model_dump(mode="json"))
        return result

    async def _settle(self, batch_number: int) -> SettlementResult:
        inspection: BatchInspection = await self._call_erp(
            names.INSPECT_BATCH, batch_number, BatchInspection
        )
        if inspection.transaction_count == 0:
            return self._finish(SettlementOutcome.EMPTY, reason="the batch holds no transactions")
        if inspection.missing:
            await self._start_and_wait(inspection)
        self._set_stage("reconciling")
        plan: ReconcilePlan = await self._call_erp(
            names.RECONCILE_BATCH, batch_number, ReconcilePlan
        )
        await self._audit(
            "reconciled",
            {"status": plan.status, "discrepancies": plan.discrepancies, "summary": plan.summary},
        )
        deposit_doc = await self._bank_movement(batch_number, plan)
        fee_doc = await self._journal(plan.fee_entry) if plan.fee_entry is not None else ""
        status = "discrepancies" if plan.discrepancies else "deposited"
        await self._call(
            names.SETTLEMENT_DEPOSITED,
            SettlementDeposited(
                batch_number=batch_number,
                deposit_document=deposit_doc,
                fee_document=fee_doc,
                status=status,
            ),
            type(None),
            options.STORE,
        )
        if plan.discrepancies:
            await self._alert(plan)
        outcome = (
            SettlementOutcome.DISCREPANCIES if plan.discrepancies else SettlementOutcome.RECONCILED
        )
        return self._finish(
            outcome,
            reason=plan.summary,
            deposit_document=deposit_doc,
            fee_document=fee_doc,
            discrepancies=plan.discrepancies,
            started_postings=len(inspection.missing),
        )

    async def _start_and_wait(self, inspection: BatchInspection) -> None:
        """Start the missing postings, then wait until they finish or the wait runs out."""
        await self._call(
            names.START_WORKFLOWS,
            StartWorkflowsRequest(starts=inspection.missing),
            StartWorkflowsResult,
            options.STARTER,
        )
        ids = tuple(s.workflow_id for s in inspection.missing)
        await self._audit("started_postings", {"workflow_ids": list(ids)})
        self._set_stage("awaiting_postings")
        limit = timedelta(minutes=inspection.wait_minutes)
        waited = timedelta()
        poll = POLL_FIRST
        while waited < limit:
            state: WorkflowsOpenResult = await self._call(
                names.WORKFLOWS_OPEN,
                WorkflowsOpenRequest(workflow_ids=ids),
                WorkflowsOpenResult,
                options.STORE,
            )
            if not state.running:
                return
            step = min(poll, limit - waited)
            await workflow.sleep(step)
            waited += step
            poll = min(poll * 2, POLL_MAX)
        await self._audit("postings_still_open", {"waited_minutes": inspection.wait_minutes})

    async def _bank_movement(self, batch_number: int, plan: ReconcilePlan) -> str:
        """The batch's one bank movement: read back in either form before anything is written.

        A deposit (receipts in the ERP) and a refunds-only journal are two document kinds; a
        rerun must find the one an earlier run wrote, whichever it was, and write nothing more.
        """
        for query, kind in (
            (DocumentQuery(kind=DocumentKind.DEPOSIT, key=str(batch_number)), "deposit"),
            (
                DocumentQuery(kind=DocumentKind.JOURNAL, key=f"deposit:batch:{batch_number}"),
                "journal",
            ),
        ):
            found: ErpDocument | None = await self._call_erp(
                names.FIND_DOCUMENT, query, ErpDocument | None
            )
            if found is not None:
                await self._audit("read_back", {"erp_document": found.erp_document})
                return await self._posted(found, query, kind)
        if plan.deposit is not None:
            return await self._deposit(plan.deposit)
        if plan.deposit_journal is not None:
            return await self._journal(plan.deposit_journal, read_back=False)
        return ""

    async def _deposit(self, deposit: Deposit) -> str:
        query = DocumentQuery(kind=DocumentKind.DEPOSIT, key=str(deposit.batch_number))
        found: ErpDocument | None = None
        while found is None:
            try:
                found = await workflow.execute_activity(
                    names.WRITE_DEPOSIT, deposit, result_type=ErpDocument, **erp_options()
                )
            except ActivityError as err:
                reraise_cancellation(err)
                deposit = deposit.model_copy(
                    update={"deposit_date": await self._after_refusal(err, deposit.deposit_date)}
                )
        return await self._posted(found, query, "deposit")

    async def _journal(self, entry: JournalEntry, *, read_back: bool = True) -> str:
        query = DocumentQuery(kind=DocumentKind.JOURNAL, key=entry.key)
        found: ErpDocument | None = None
        if read_back:
            found = await self._call_erp(names.FIND_DOCUMENT, query, ErpDocument | None)
        while found is None:
            try:
                found = await workflow.execute_activity(
                    names.WRITE_JOURNAL, entry, result_type=ErpDocument, **erp_options()
                )
            except ActivityError as err:
                reraise_cancellation(err)
                entry = entry.model_copy(
                    update={"entry_date": await self._after_refusal(err, entry.entry_date)}
                )
        return await self._posted(found, query, "journal")

    async def _after_refusal(self, err: ActivityError, current: date) -> date:
        """Park on a refused document; ``post_today`` dates it in today's open period."""
        kind, reason = describe(err)
        resolution = await self._park(kind, reason, (), DOCUMENT_ACTIONS)
        if resolution.action is ResolutionAction.POST_TODAY:
            today: date = await self._call_erp(names.OPEN_PERIOD_DATE, workflow.now(), date)
            return today
        return current

    async def _posted(self, document: ErpDocument, query: DocumentQuery, kind: str) -> str:
        if document.status is not DocumentStatus.POSTED:
            document = await self._call_erp(names.POST_DOCUMENT, query, ErpDocument)
        await self._call(
            names.RECORD_DOCUMENT,
            DocumentRecordRequest(
                document=document,
                workflow_id=workflow.info().workflow_id,
                kind=kind,
                transaction_id=self._batch,
            ),
            type(None),
            options.STORE,
        )
        return document.erp_document

    async def _alert(self, plan: ReconcilePlan) -> None:
        info = workflow.info()
        await self._call(
            names.RAISE_ALERT,
            AlertRequest(
                alert_key=f"{info.workflow_id}/{info.run_id}/discrepancies",
                kind=AlertKind.SETTLEMENT_DISCREPANCY,
                severity="warning",
                subject=f"PayTrace batch {self._batch}: {plan.discrepancies} discrepancies",
                message=f"{plan.summary} See the reconciliation report of batch {self._batch}.",
                workflow_id=info.workflow_id,
                detail={"batch_number": self._batch, "notes": list(plan.notes)},
                at=workflow.now(),
            ),
            bool,
            options.STORE,
        )

    def _finish(self, outcome: SettlementOutcome, **fields: Any) -> SettlementResult:
        self._result = SettlementResult(batch_number=self._batch, outcome=outcome, **fields)
        self._set_stage(outcome.value)
        return self._result
