"""TransactionSweep: the scheduled safety net that finds every PayTrace payment.

PayTrace has no webhooks, so events (Silent Post) only make posting fast; completeness comes from
this sweep. Each run reads PayTrace's transaction export from the stored cursor minus an overlap
window up to now, starts (or joins) the PaymentPosting workflow of every payment it finds, and only
then moves the cursor. A run that fails leaves the cursor where it was, so the next run covers the
same ground again; workflow ids derived from the transaction make the overlap harmless.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.activity_io import (
        CursorUpdate,
        StartPostingsRequest,
        StartPostingsResult,
        SweepCursor,
        SweepWindow,
        SweptTransaction,
    )
    from workflows import options

from pydantic import BaseModel, ConfigDict


class SweepInput(BaseModel):
    """How a sweep run reads PayTrace."""

    model_config = ConfigDict(frozen=True)

    cursor_name: str = "paytrace-transactions"
    overlap_minutes: int = 10
    first_lookback_days: int = 1


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


@workflow.defn(name="TransactionSweep")
class TransactionSweep:
    """One sweep run; a Temporal Schedule starts it every few seconds or minutes."""

    @workflow.run
    async def run(self, request: SweepInput) -> SweepResult:
        """Read the window, start postings, move the cursor."""
        state: SweepCursor = await workflow.execute_activity(
            names.GET_SWEEP_CURSOR,
            request.cursor_name,
            result_type=SweepCursor,
            **options.STORE,
        )
        window = sweep_window(
            state.cursor, workflow.now(), request.overlap_minutes, request.first_lookback_days
        )
        found: list[SweptTransaction] = await workflow.execute_activity(
            names.EXPORT_SWEEP_WINDOW,
            window,
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
