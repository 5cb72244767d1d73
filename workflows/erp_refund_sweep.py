"""ErpRefundSweep: finds ERP credit memos flagged for a card refund (a Schedule, every minute).

An AR clerk flags a credit memo by starting its comment with the mapping's ``refunds.flag`` and
the PayTrace payment (``REFUND PT 1000123``). Each run lists the flagged memos of the last
``lookback_days`` and starts (or joins) ``CreditMemoRefund`` for each; its id is the memo's
number, and the store's refund intents keep a memo from being refunded twice even after Temporal
has forgotten a finished workflow.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.erp_documents import FlaggedMemo
    from domain.refund_io import FlaggedMemoQuery
    from domain.start_io import (
        StartKind,
        StartWorkflowsRequest,
        StartWorkflowsResult,
        WorkflowStart,
    )
    from workflows import options
    from workflows.attention import erp_options


class ErpRefundSweepInput(BaseModel):
    """Which memos a run looks for: the flag and how many days back."""

    model_config = ConfigDict(frozen=True)

    flag: str = "REFUND PT"
    lookback_days: int = Field(30, ge=1, le=365)


class ErpRefundSweepResult(BaseModel):
    """What a run found and started."""

    model_config = ConfigDict(frozen=True)

    found: int
    started: int
    already: int


@workflow.defn(name="ErpRefundSweep")
class ErpRefundSweep:
    """One run of the ERP credit memo sweep."""

    @workflow.run
    async def run(self, request: ErpRefundSweepInput) -> ErpRefundSweepResult:
        """List flagged memos and start their CreditMemoRefund workflows."""
        since = (workflow.now() - timedelta(days=request.lookback_days)).date()
        memos: list[FlaggedMemo] = await workflow.execute_activity(
            names.FLAGGED_REFUND_MEMOS,
            FlaggedMemoQuery(flag=request.flag, since=since),
            result_type=list[FlaggedMemo],
            **erp_options(),
        )
        started = StartWorkflowsResult()
        if memos:
            started = await workflow.execute_activity(
                names.START_WORKFLOWS,
                StartWorkflowsRequest(
                    starts=tuple(
                        WorkflowStart(
                            kind=StartKind.MEMO_REFUND,
                            memo=memo,
                            flag=request.flag,
                            source="erp_sweep",
                        )
                        for memo in memos
                    )
                ),
                result_type=StartWorkflowsResult,
                **options.STARTER,
            )
        return ErpRefundSweepResult(
            found=len(memos), started=started.started, already=started.already
        )
