"""AlertDelivery: sends the store's alerts by e-mail and to the webhook (a Schedule, every 30 s).

Each run is one activity call: it routes the alerts raised since the last run, sends every channel
delivery that is due, and records each outcome in the store (``tp_alert_delivery``). Retrying a
channel that is down is the store's business (``next_attempt_at``), not this workflow's, so its
history stays a handful of events whatever happens to the channels.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.alert_io import AlertDeliveryInput, AlertDeliveryReport

DELIVERY_OPTIONS: dict[str, Any] = {
    # Sends are bounded by the channels' own timeouts; the heartbeat after each delivery shows a
    # lost worker within minutes, and the store's lease keeps a second attempt from resending.
    "start_to_close_timeout": timedelta(minutes=30),
    "heartbeat_timeout": timedelta(minutes=2),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=5),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=1),
        maximum_attempts=3,
    ),
}
"""A run whose store is unreachable fails after three attempts; the next scheduled run retries."""


@workflow.defn(name="AlertDelivery")
class AlertDelivery:
    """One run of the alert delivery."""

    @workflow.run
    async def run(self, request: AlertDeliveryInput) -> AlertDeliveryReport:
        """Deliver what is due and report the counts."""
        report: AlertDeliveryReport = await workflow.execute_activity(
            names.DELIVER_ALERTS,
            request,
            result_type=AlertDeliveryReport,
            **DELIVERY_OPTIONS,
        )
        return report
