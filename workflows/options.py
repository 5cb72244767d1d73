"""Timeouts and retry policies of every activity call, in one place."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy

# PayTrace reads: retried with backoff for ~15 minutes, then the workflow parks.
PAYTRACE: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=60),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=2),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=2),
        maximum_attempts=12,
    ),
}

PAYTRACE_MONEY: dict[str, Any] = {
    # Longer than the PayTrace client's own timeouts (connect 5 + write 10 + read 30 s): a retry
    # after a timed-out attempt starts only when that attempt's request can no longer be open.
    "start_to_close_timeout": timedelta(minutes=2),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=5),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=5),
        maximum_attempts=20,
        non_retryable_error_types=["paytrace_declined", "paytrace_validation", "paytrace_auth"],
    ),
}
"""Charges, refunds and voids: each attempt after the first reads PayTrace back first."""

# ERP reads and writes: idempotent (read back first), retried ~10 minutes, then the workflow parks.
ERP: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=120),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=1),
        maximum_attempts=12,
    ),
}

# tracepost's own store: retried until it answers (nothing may be lost), visible as a pending
# activity in the Web UI meanwhile.
STORE: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=1),
    ),
}

# Starting child postings from a sweep: heartbeats per transaction.
STARTER: dict[str, Any] = {
    "start_to_close_timeout": timedelta(minutes=10),
    "heartbeat_timeout": timedelta(seconds=60),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1)
    ),
}


def erp_queue(task_queue: str) -> str:
    """The ERP task queue that belongs to a workflow task queue."""
    return f"{task_queue}-erp"
