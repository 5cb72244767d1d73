"""Temporal Schedules that start tracepost's periodic workflows (registered idempotently)."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from workers.settings import Settings
from workflows.transaction_sweep import SweepInput, TransactionSweep

log = logging.getLogger(__name__)

SWEEP_SCHEDULE_ID = "tracepost-transaction-sweep"


def sweep_schedule(settings: Settings) -> Schedule:
    """The TransactionSweep schedule these settings describe.

    Args:
        settings: tracepost settings (interval, overlap, lookback, task queue).

    Returns:
        The schedule: every ``sweep_interval_seconds``, skipping a run while one is still going.
    """
    return Schedule(
        action=ScheduleActionStartWorkflow(
            TransactionSweep.run,
            SweepInput(
                overlap_minutes=settings.sweep_overlap_minutes,
                first_lookback_days=settings.sweep_first_lookback_days,
            ),
            id="transaction-sweep",
            task_queue=settings.task_queue,
            execution_timeout=timedelta(minutes=30),
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(seconds=settings.sweep_interval_seconds))
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_schedules(client: Client, settings: Settings) -> None:
    """Create tracepost's schedules, or update them to match the settings.

    Args:
        client: the Temporal client.
        settings: tracepost settings.
    """
    schedule = sweep_schedule(settings)
    try:
        await client.create_schedule(SWEEP_SCHEDULE_ID, schedule)
        log.info("created schedule %s", SWEEP_SCHEDULE_ID)
    except ScheduleAlreadyRunningError:

        def _replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(SWEEP_SCHEDULE_ID).update(_replace)
        log.info("updated schedule %s", SWEEP_SCHEDULE_ID)
