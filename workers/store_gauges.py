"""Gauges read from the store: needs-attention, sweep lag, settlement age, the auto-apply rate.

The worker process re-reads them every ``TRACEPOST_METRICS_REFRESH_SECONDS`` (the dashboard's
own queries, connectors/store/ops_queries.py) and sets them on its runtime's metric meter. A
store that cannot be read leaves the gauges at their last values, logs a warning and counts
``tracepost_metrics_refresh_failures_total``: alert on that, not on a gap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError
from temporalio.common import MetricMeter

from connectors.store import Store

log = logging.getLogger(__name__)

ATTENTION_OPEN = "tracepost_attention_open"
ATTENTION_OLDEST = "tracepost_attention_oldest_age_seconds"
SWEEP_LAG = "tracepost_sweep_lag_seconds"
SETTLEMENT_AGE = "tracepost_settlement_last_age_seconds"
DECISIONS_WEEK = "tracepost_match_decisions_week"
AUTO_APPLIED_WEEK = "tracepost_match_auto_applied_week"
AUTO_APPLY_RATIO = "tracepost_match_auto_apply_ratio_week"
REFRESH_FAILURES = "tracepost_metrics_refresh_failures_total"


class StoreGauges:
    """The store's figures as gauges on a metric meter.

    Args:
        store: tracepost's store.
        meter: the process runtime's metric meter.
    """

    def __init__(self, store: Store, meter: MetricMeter) -> None:
        self._store = store
        self._open = meter.create_gauge(ATTENTION_OPEN, "needs-attention items open")
        self._oldest = meter.create_gauge_float(
            ATTENTION_OLDEST, "age of the oldest open needs-attention item (0: none open)", "s"
        )
        self._sweep = meter.create_gauge_float(
            SWEEP_LAG, "time since each sweep's cursor last moved (its last successful run)", "s"
        )
        self._settlement = meter.create_gauge_float(
            SETTLEMENT_AGE, "time since the last settlement report was written", "s"
        )
        self._decisions = meter.create_gauge(
            DECISIONS_WEEK, "payment matching decisions of the last 7 days"
        )
        self._applied = meter.create_gauge(
            AUTO_APPLIED_WEEK, "of those, applied without a person (auto-applied)"
        )
        self._ratio = meter.create_gauge_float(
            AUTO_APPLY_RATIO, "auto-applied share of the last 7 days' decisions"
        )
        self._failures = meter.create_counter(
            REFRESH_FAILURES, "refreshes of the store gauges that could not read the store"
        )

    def refresh(self, now: datetime) -> None:
        """Read the store and set every gauge.

        Args:
            now: the current moment (UTC).

        Raises:
            SQLAlchemyError: the store cannot be read.
        """
        board = self._store.dashboard(now, days=1)
        self._open.set(board.attention_open)
        oldest = board.attention_oldest
        self._oldest.set(max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
        if board.last_settlement is not None:
            self._settlement.set(max((now - board.last_settlement).total_seconds(), 0.0))
        self._decisions.set(board.decisions_week)
        self._applied.set(board.auto_applied_week)
        if board.auto_applied_rate is not None:
            self._ratio.set(board.auto_applied_rate)
        for name, cursor in self._store.sweep_cursors().items():
            self._sweep.set(max((now - cursor).total_seconds(), 0.0), {"sweep": name})

    def failed(self) -> None:
        """Count a refresh that could not read the store."""
        self._failures.add(1)


async def run_store_gauges(gauges: StoreGauges, interval: float, stop: asyncio.Event) -> None:
    """Refresh the gauges every ``interval`` seconds until ``stop`` is set.

    Args:
        gauges: the gauges.
        interval: seconds between refreshes.
        stop: set it to stop.
    """
    while not stop.is_set():
        try:
            await asyncio.to_thread(gauges.refresh, datetime.now(UTC))
        except SQLAlchemyError as exc:
            gauges.failed()
            log.warning(
                "metrics: the store could not be read (%s); the gauges keep their last values",
                type(exc).__name__,
            )
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            continue


@asynccontextmanager
async def store_gauges_running(
    store: Store, meter: MetricMeter | None, interval: float
) -> AsyncIterator[None]:
    """Refresh the store gauges in the background while the body runs.

    Args:
        store: tracepost's store.
        meter: the process runtime's metric meter; None (no metrics endpoint): nothing runs.
        interval: seconds between refreshes (``TRACEPOST_METRICS_REFRESH_SECONDS``).

    Yields:
        Nothing; on exit the refresher stops, and an error it died of is raised.
    """
    if meter is None:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(run_store_gauges(StoreGauges(store, meter), interval, stop))
    task.add_done_callback(_report_crash)
    try:
        yield
    finally:
        stop.set()
        await task


def _report_crash(task: asyncio.Task[None]) -> None:
    """Log at once a refresher that died (its error is raised again when the process stops)."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("metrics: the store gauges stopped refreshing", exc_info=exc)
