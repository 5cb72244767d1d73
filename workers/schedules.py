"""Temporal Schedules that start tracepost's periodic workflows (registered idempotently).

| schedule | workflow | when |
|---|---|---|
| ``tracepost-transaction-sweep`` | TransactionSweep (window) | every ``TRACEPOST_SWEEP_INTERVAL_SECONDS`` |
| ``tracepost-lookback-sweep`` | TransactionSweep (lookback: voids, ACH returns) | every ``TRACEPOST_LOOKBACK_INTERVAL_SECONDS`` |
| ``tracepost-settlement`` | SettlementSweep | daily at ``TRACEPOST_SETTLEMENT_TIME`` (merchant time) |
| ``tracepost-autopay`` | AutopaySweep | daily at ``TRACEPOST_AUTOPAY_TIME`` (merchant time), when the mapping's ``autopay.enabled`` is on |
| ``tracepost-erp-refund-sweep`` | ErpRefundSweep | every ``TRACEPOST_ERP_REFUND_SWEEP_INTERVAL_SECONDS``, when the mapping's ``refunds.from_erp`` is on |
| ``tracepost-customer-sync`` | CustomerProfileSync | every ``TRACEPOST_CUSTOMER_SYNC_INTERVAL_SECONDS`` (0: none) |
| ``tracepost-alerts`` | AlertDelivery | every ``TRACEPOST_ALERT_DELIVERY_INTERVAL_SECONDS``, when an alert channel (SMTP host, webhook URL) is configured |
"""

from __future__ import annotations

import logging
from datetime import time, timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.alert_io import AlertDeliveryInput
from domain.autopay_io import AutopaySweepInput
from domain.customer_io import CustomerSyncInput
from domain.settlement_io import SettlementSweepInput
from domain.workflow_ids import CUSTOMER_SYNC_WORKFLOW_ID
from workers.settings import Settings
from workflows.alert_delivery import AlertDelivery
from workflows.autopay import AutopaySweep
from workflows.customer_sync import CustomerProfileSync
from workflows.erp_refund_sweep import ErpRefundSweep, ErpRefundSweepInput
from workflows.settlement_sync import SettlementSweep
from workflows.transaction_sweep import SweepInput, TransactionSweep

log = logging.getLogger(__name__)

SWEEP_SCHEDULE_ID = "tracepost-transaction-sweep"
LOOKBACK_SCHEDULE_ID = "tracepost-lookback-sweep"
SETTLEMENT_SCHEDULE_ID = "tracepost-settlement"
AUTOPAY_SCHEDULE_ID = "tracepost-autopay"
ERP_REFUND_SCHEDULE_ID = "tracepost-erp-refund-sweep"
CUSTOMER_SYNC_SCHEDULE_ID = "tracepost-customer-sync"
ALERTS_SCHEDULE_ID = "tracepost-alerts"


def _every(seconds: int) -> ScheduleSpec:
    return ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=seconds))])


def _daily(at: time, timezone: str) -> ScheduleSpec:
    """Every day at ``at`` (to the second) in the merchant's time zone."""
    return ScheduleSpec(
        calendars=[
            ScheduleCalendarSpec(
                hour=[ScheduleRange(at.hour)],
                minute=[ScheduleRange(at.minute)],
                second=[ScheduleRange(0)],
            )
        ],
        time_zone_name=timezone,
    )


def _skip_overlap() -> SchedulePolicy:
    return SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP)


def sweep_schedule(settings: Settings) -> Schedule:
    """The TransactionSweep (window) schedule these settings describe.

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
                ach=settings.sweep_ach,
            ),
            id="transaction-sweep",
            task_queue=settings.task_queue,
            execution_timeout=timedelta(minutes=30),
        ),
        spec=_every(settings.sweep_interval_seconds),
        policy=_skip_overlap(),
    )


def lookback_schedule(settings: Settings) -> Schedule:
    """The TransactionSweep (lookback) schedule: voids and ACH returns of the last days."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            TransactionSweep.run,
            SweepInput(
                mode="lookback",
                ach=settings.sweep_ach,
                void_lookback_days=settings.void_lookback_days,
                return_lookback_days=settings.return_lookback_days,
            ),
            id="lookback-sweep",
            task_queue=settings.task_queue,
            execution_timeout=timedelta(minutes=30),
        ),
        spec=_every(settings.lookback_interval_seconds),
        policy=_skip_overlap(),
    )


def settlement_schedule(settings: Settings) -> Schedule:
    """The daily SettlementSweep schedule, at ``settlement_time`` in the merchant's time zone."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SettlementSweep.run,
            SettlementSweepInput(lookback_days=settings.settlement_lookback_days),
            id="settlement-sweep",
            task_queue=settings.task_queue,
            execution_timeout=timedelta(hours=2),
        ),
        spec=_daily(settings.settlement_time, settings.paytrace_timezone),
        policy=_skip_overlap(),
    )


def autopay_schedule(settings: Settings) -> Schedule:
    """The daily AutopaySweep schedule, at ``autopay_time`` in the merchant's time zone."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            AutopaySweep.run,
            AutopaySweepInput(),
            id="autopay-sweep",
            task_queue=settings.task_queue,
            execution_timeout=timedelta(hours=2),
        ),
        spec=_daily(settings.autopay_time, settings.paytrace_timezone),
        policy=_skip_overlap(),
    )


def erp_refund_schedule(settings: Settings) -> Schedule:
    """The ErpRefundSweep schedule (credit memos flagged for a card refund)."""
    refunds = settings.mapping.refunds
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ErpRefundSweep.run,
            ErpRefundSweepInput(flag=refunds.flag, lookback_days=refunds.lookback_days),
            id="erp-refund-sweep",
            task_queue=settings.task_queue,
            execution_timeout=timedelta(minutes=30),
        ),
        spec=_every(settings.erp_refund_sweep_interval_seconds),
        policy=_skip_overlap(),
    )


def customer_sync_schedule(settings: Settings) -> Schedule:
    """The CustomerProfileSync schedule: ERP customer changes to PayTrace, the vault to the ERP."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            CustomerProfileSync.run,
            CustomerSyncInput(),
            id=CUSTOMER_SYNC_WORKFLOW_ID,
            task_queue=settings.task_queue,
            execution_timeout=timedelta(hours=2),
        ),
        spec=_every(settings.customer_sync_interval_seconds),
        policy=_skip_overlap(),
    )


def alerts_configured(settings: Settings) -> bool:
    """Tell whether any alert channel is configured (an SMTP host or a webhook URL)."""
    return bool(settings.alert_smtp_host or settings.alert_webhook_url.get_secret_value())


def alerts_schedule(settings: Settings) -> Schedule:
    """The AlertDelivery schedule: the store's alerts to e-mail and the webhook."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            AlertDelivery.run,
            AlertDeliveryInput(),
            id="alert-delivery",
            task_queue=settings.task_queue,
            execution_timeout=timedelta(minutes=30),
        ),
        spec=_every(settings.alert_delivery_interval_seconds),
        policy=_skip_overlap(),
    )


def schedules(settings: Settings) -> dict[str, Schedule]:
    """Every schedule these settings and the mapping call for, by id."""
    found = {
        SWEEP_SCHEDULE_ID: sweep_schedule(settings),
        LOOKBACK_SCHEDULE_ID: lookback_schedule(settings),
        SETTLEMENT_SCHEDULE_ID: settlement_schedule(settings),
    }
    if settings.mapping.refunds.from_erp:
        found[ERP_REFUND_SCHEDULE_ID] = erp_refund_schedule(settings)
    if settings.mapping.autopay.enabled:
        found[AUTOPAY_SCHEDULE_ID] = autopay_schedule(settings)
    if settings.customer_sync_interval_seconds > 0:
        found[CUSTOMER_SYNC_SCHEDULE_ID] = customer_sync_schedule(settings)
    if alerts_configured(settings):
        found[ALERTS_SCHEDULE_ID] = alerts_schedule(settings)
    return found


async def ensure_schedules(client: Client, settings: Settings) -> None:
    """Create tracepost's schedules, or update them to match the settings and the mapping.

    A schedule the configuration no longer calls for (the ERP refund sweep after
    ``refunds.from_erp`` was turned off, the alert delivery once no channel is configured) is
    deleted.

    Args:
        client: the Temporal client.
        settings: tracepost settings.
    """
    wanted = schedules(settings)
    for schedule_id, schedule in wanted.items():
        try:
            await client.create_schedule(schedule_id, schedule)
            log.info("created schedule %s", schedule_id)
        except ScheduleAlreadyRunningError:

            def _replace(_: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=new)

            await client.get_schedule_handle(schedule_id).update(_replace)
            log.info("updated schedule %s", schedule_id)
    if ERP_REFUND_SCHEDULE_ID not in wanted:
        try:
            await client.get_schedule_handle(ERP_REFUND_SCHEDULE_ID).delete()
            log.info("deleted schedule %s (refunds.from_erp is off)", ERP_REFUND_SCHEDULE_ID)
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise
    if CUSTOMER_SYNC_SCHEDULE_ID not in wanted:
        try:
            await client.get_schedule_handle(CUSTOMER_SYNC_SCHEDULE_ID).delete()
            log.info("deleted schedule %s (interval 0)", CUSTOMER_SYNC_SCHEDULE_ID)
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise
    if ALERTS_SCHEDULE_ID not in wanted:
        try:
            await client.get_schedule_handle(ALERTS_SCHEDULE_ID).delete()
            log.info("deleted schedule %s (no alert channel configured)", ALERTS_SCHEDULE_ID)
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise
