"""TransactionSweep: the scheduled safety net that finds every PayTrace transaction.

PayTrace has no webhooks, so events (Silent Post) only make posting fast; completeness comes from
this sweep. Two schedules run it:

- ``window`` mode (every few seconds): read PayTrace's transaction export — and the ACH check
  export — from the stored cursor minus an overlap window up to now, start (or join) the
  workflow the mapping says each transaction needs (PaymentPosting for sales, captures and ACH
  debits, RefundToCreditMemo for refunds, VoidReversal for voids), and only then move the
  cursor. A run that fails leaves the cursor where it was; business-key workflow ids make the
  overlap harmless. With an explicit window (``tracepost sweep --from --to``, a backfill) the
  cursor is not touched and the window is read a day at a time.
- ``lookback`` mode (every few minutes): what changes after the fact — sales voided since they
  were made, ACH debits the bank returned days later — is found by reading the last days again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.activity_io import (
        CursorUpdate,
        StartPostingsRequest,
        StartPostingsResult,
        SweepCursor,
        SweepLookback,
        SweepWindow,
        SweptTransaction,
    )
    from domain.start_io import (
        StartKind,
        StartWorkflowsRequest,
        StartWorkflowsResult,
        WorkflowStart,
    )
    from workflows import options

SWEEP_PATCH = "sweep-every-type"
"""Sweeps recorded before it read card payments only and started them by id; they replay so."""
PAYMENT_TYPES = ("SALE", "CAPTURE", "FORCESALE", "AUTHORIZATION")
START_CHUNK = 500
ACTION_KINDS = {
    "receipt": StartKind.PAYMENT,
    "credit_memo": StartKind.REFUND,
    "reversal": StartKind.REVERSAL,
}


class SweepInput(BaseModel):
    """How a sweep run reads PayTrace."""

    model_config = ConfigDict(frozen=True)

    cursor_name: str = "paytrace-transactions"
    overlap_minutes: int = 10
    first_lookback_days: int = 1
    mode: str = Field("window", description="window (new transactions) or lookback")
    since: datetime | None = Field(None, description="explicit window start: a backfill")
    until: datetime | None = Field(None, description="explicit window end (default: now)")
    ach: bool = Field(True, description="sweep ACH checks too")
    void_lookback_days: int = Field(10, ge=1, le=30)
    return_lookback_days: int = Field(10, ge=1, le=120)


class SweepResult(BaseModel):
    """What a sweep run found and started."""

    model_config = ConfigDict(frozen=True)

    since: datetime
    until: datetime
    found: int
    started: int
    already: int


def sweep_window(
    cursor: datetime | None, now: datetime, overlap_minutes: int, first_lookback_days: int
) -> SweepWindow:
    """The window a sweep run reads: from the cursor minus the overlap (or a lookback) to now.

    Args:
        cursor: where the last successful run got to; None before the first run.
        now: the current (workflow) time.
        overlap_minutes: how far before the cursor to read again.
        first_lookback_days: how far back the very first run reads.

    Returns:
        The window.
    """
    if cursor is None:
        since = now - timedelta(days=first_lookback_days)
    else:
        since = min(cursor, now) - timedelta(minutes=overlap_minutes)
    return SweepWindow(since=since, until=now)


def day_windows(since: datetime, until: datetime) -> list[SweepWindow]:
    """Split a long (backfill) window into windows of at most one day, oldest first.

    Args:
        since: the window's start.
        until: its end.

    Returns:
        Consecutive windows covering ``[since, until]``; one window when it is a day or less.
    """
    windows = []
    start = since
    while True:
        end = min(start + timedelta(days=1), until)
        windows.append(SweepWindow(since=start, until=end))
        if end >= until:
            return windows
        start = end


def starts_for(found: list[SweptTransaction]) -> list[WorkflowStart]:
    """The workflow each swept transaction needs (those the mapping ignores start nothing)."""
    starts = []
    for txn in found:
        kind = ACTION_KINDS.get(txn.action)
        if kind is None:
            continue
        starts.append(
            WorkflowStart(
                kind=kind, transaction_id=txn.transaction_id, method=txn.method, source="sweep"
            )
        )
    return starts


@workflow.defn(name="TransactionSweep")
class TransactionSweep:
    """One sweep run; Temporal Schedules start it every few seconds (window) or minutes."""

    @workflow.run
    async def run(self, request: SweepInput) -> SweepResult:
        """Read PayTrace, start the workflows it calls for, move the cursor."""
        if not workflow.patched(SWEEP_PATCH):
            return await self._payments_only(request)
        if request.mode == "lookback":
            return await self._lookback(request)
        return await self._window(request)

    async def _payments_only(self, request: SweepInput) -> SweepResult:
        """The sweep as it ran before every transaction type (kept for runs started then)."""
        state: SweepCursor = await workflow.execute_activity(
            names.GET_SWEEP_CURSOR, request.cursor_name, result_type=SweepCursor, **options.STORE
        )
        window = sweep_window(
            state.cursor, workflow.now(), request.overlap_minutes, request.first_lookback_days
        )
        found: list[SweptTransaction] = await workflow.execute_activity(
            names.EXPORT_SWEEP_WINDOW,
            window.model_copy(update={"transaction_types": PAYMENT_TYPES}),
            result_type=list[SweptTransaction],
            **options.PAYTRACE,
        )
        started = StartPostingsResult()
        if found:
            started = await workflow.execute_activity(
                names.START_PAYMENT_POSTINGS,
                StartPostingsRequest(
                    transaction_ids=tuple(t.transaction_id for t in found), source="sweep"
                ),
                result_type=StartPostingsResult,
                **options.STARTER,
            )
        await workflow.execute_activity(
            names.SAVE_SWEEP_CURSOR,
            CursorUpdate(name=request.cursor_name, cursor=window.until),
            **options.STORE,
        )
        return SweepResult(
            since=window.since,
            until=window.until,
            found=len(found),
            started=started.started,
            already=started.already,
        )

    async def _window(self, request: SweepInput) -> SweepResult:
        backfill = request.since is not None
        if backfill:
            assert request.since is not None
            window = SweepWindow(since=request.since, until=request.until or workflow.now())
        else:
            state: SweepCursor = await workflow.execute_activity(
                names.GET_SWEEP_CURSOR,
                request.cursor_name,
                result_type=SweepCursor,
                **options.STORE,
            )
            window = sweep_window(
                state.cursor, workflow.now(), request.overlap_minutes, request.first_lookback_days
            )
        seen: set[tuple[str, int]] = set()
        started = StartWorkflowsResult()
        for part in day_windows(window.since, window.until):
            swept: list[SweptTransaction] = await workflow.execute_activity(
                names.EXPORT_SWEEP_WINDOW,
                part,
                result_type=list[SweptTransaction],
                **options.PAYTRACE,
            )
            if request.ach:
                swept += await workflow.execute_activity(
                    names.EXPORT_CHECKS_WINDOW,
                    part,
                    result_type=list[SweptTransaction],
                    **options.PAYTRACE,
                )
            # PayTrace is read by whole local days: neighbouring parts can list a transaction twice
            fresh = [t for t in swept if (t.method.value, t.transaction_id) not in seen]
            seen.update((t.method.value, t.transaction_id) for t in fresh)
            started = _add(started, await _start(starts_for(fresh)))
        if not backfill:
            await workflow.execute_activity(
                names.SAVE_SWEEP_CURSOR,
                CursorUpdate(name=request.cursor_name, cursor=window.until),
                **options.STORE,
            )
        return SweepResult(
            since=window.since,
            until=window.until,
            found=len(seen),
            started=started.started,
            already=started.already,
        )

    async def _lookback(self, request: SweepInput) -> SweepResult:
        now = request.until or workflow.now()
        voids: list[SweptTransaction] = await workflow.execute_activity(
            names.EXPORT_VOIDS,
            SweepLookback(until=now, days=request.void_lookback_days),
            result_type=list[SweptTransaction],
            **options.PAYTRACE,
        )
        returns: list[SweptTransaction] = []
        if request.ach:
            returns = await workflow.execute_activity(
                names.EXPORT_CHECK_REVERSALS,
                SweepLookback(until=now, days=request.return_lookback_days),
                result_type=list[SweptTransaction],
                **options.PAYTRACE,
            )
        started = await _start(starts_for(voids + returns))
        days = max(request.void_lookback_days, request.return_lookback_days if request.ach else 0)
        return SweepResult(
            since=now - timedelta(days=days),
            until=now,
            found=len(voids) + len(returns),
            started=started.started,
            already=started.already,
        )


async def _start(starts: list[WorkflowStart]) -> StartWorkflowsResult:
    """Start (or join) the workflows, a chunk per activity so no payload grows too large."""
    total = StartWorkflowsResult()
    for first in range(0, len(starts), START_CHUNK):
        done: StartWorkflowsResult = await workflow.execute_activity(
            names.START_WORKFLOWS,
            StartWorkflowsRequest(starts=tuple(starts[first : first + START_CHUNK])),
            result_type=StartWorkflowsResult,
            **options.STARTER,
        )
        total = _add(total, done)
    return total


def _add(a: StartWorkflowsResult, b: StartWorkflowsResult) -> StartWorkflowsResult:
    return StartWorkflowsResult(started=a.started + b.started, already=a.already + b.already)


__all__ = [
    "SweepInput",
    "SweepResult",
    "TransactionSweep",
    "day_windows",
    "starts_for",
    "sweep_window",
]
