"""Repeated failures: an activity interceptor that raises a ``repeated_failure`` alert.

An activity whose attempt number ``TRACEPOST_ALERT_FAILURE_ATTEMPTS`` (N) fails has failed N
attempts in a row: the interceptor raises one alert naming the activity, its workflow, the attempt
and the error (redacted). An attempt that never ended in this worker (a timeout, a lost worker)
raises nothing itself; the start of attempt N + 1 then raises the alert. The alert is keyed by
workflow id, run id, activity id and N, so it is raised once however often the activity fails
afterwards. The interceptor never changes the activity's own outcome: when the alert cannot be
written it logs and the activity's result or error goes on unchanged.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from domain.redaction import redact
from domain.store_io import AlertKind, AlertRequest

log = logging.getLogger(__name__)
MAX_KEY = 250
MAX_ERROR = 500


def _utcnow() -> datetime:
    return datetime.now(UTC)


def describe_error(exc: BaseException | None) -> tuple[str, str]:
    """The error type and message of a failed attempt, redacted.

    Args:
        exc: the error; None when the attempt did not end in this worker.

    Returns:
        ``(type, message)``; an ``ApplicationError`` is named by its ``type``.
    """
    if exc is None:
        return "unknown", "the attempt did not end in this worker (a timeout or a lost worker)"
    if isinstance(exc, ApplicationError):
        kind, message = exc.type or type(exc).__name__, exc.message
    else:
        kind, message = type(exc).__name__, str(exc)
    return redact(kind), redact(message)[:MAX_ERROR]


def failure_alert(
    info: activity.Info, threshold: int, exc: BaseException | None, at: datetime
) -> AlertRequest:
    """The ``repeated_failure`` alert of an activity that failed ``threshold`` attempts in a row.

    Args:
        info: the activity's info (type, ids, attempt).
        threshold: the number of failed attempts that raises the alert.
        exc: the error of the attempt that failed; None when it is not known here.
        at: now.

    Returns:
        The alert, keyed so that it is raised once per activity execution.
    """
    workflow_id = info.workflow_id or ""
    failed = info.attempt if exc is not None else info.attempt - 1
    error_type, error = describe_error(exc)
    key = f"repeated-failure/{workflow_id}/{info.workflow_run_id or ''}/{info.activity_id}/{threshold}"
    if len(key) > MAX_KEY:
        key = f"repeated-failure/{hashlib.sha256(key.encode()).hexdigest()}"
    policy = info.retry_policy
    exhausted = bool(policy and policy.maximum_attempts and info.attempt >= policy.maximum_attempts)
    final = exc is not None and (
        exhausted or (isinstance(exc, ApplicationError) and exc.non_retryable)
    )
    then = (
        "it is not retried again: the workflow now handles the failure (it may park)."
        if final
        else "Temporal keeps retrying it as its retry policy allows."
    )
    where = f"{info.workflow_type} {workflow_id}" if workflow_id else "an activity"
    return AlertRequest(
        alert_key=key,
        kind=AlertKind.REPEATED_FAILURE,
        severity="warning",
        subject=f"{info.activity_type} failed {failed} attempts in a row ({workflow_id or '-'})",
        message=(
            f"Activity {info.activity_type} of {where} failed {failed} attempts in a row; the"
            f" last error ({error_type}): {error}. {then}"
        ),
        workflow_id=workflow_id,
        detail={
            "activity_type": info.activity_type,
            "activity_id": info.activity_id,
            "workflow_type": info.workflow_type or "",
            "run_id": info.workflow_run_id or "",
            "task_queue": info.task_queue,
            "attempt": info.attempt,
            "failed_attempts": failed,
            "threshold": threshold,
            "error_type": error_type,
            "error": error,
        },
        at=at,
    )


class RepeatedFailureAlerts(Interceptor):
    """Raise a ``repeated_failure`` alert once an activity failed N attempts in a row.

    Args:
        raise_alert: records an alert once by key (the store's ``raise_alert``; synchronous, run
            in a thread).
        threshold: N, the failed attempts in a row that raise the alert (at least 2).
        clock: the current time.
    """

    def __init__(
        self,
        raise_alert: Callable[[AlertRequest], bool],
        threshold: int,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if threshold < 1:
            raise ValueError("the threshold is at least one failed attempt")
        self.raise_alert = raise_alert
        self.threshold = threshold
        self.clock = clock

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        """Wrap every activity of the worker."""
        return _FailureAlertsInbound(next, self)


class _FailureAlertsInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, root: RepeatedFailureAlerts) -> None:
        super().__init__(next)
        self._root = root

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        threshold = self._root.threshold
        if info.attempt > threshold:
            # attempt N + 1 means N failed: the alert exists unless attempt N never ended here
            await self._alert(info, None)
        try:
            return await self.next.execute_activity(input)
        except CancelledError:
            raise
        except Exception as exc:
            if info.attempt >= threshold:
                await self._alert(info, exc)
            raise

    async def _alert(self, info: activity.Info, exc: BaseException | None) -> None:
        try:
            alert = failure_alert(info, self._root.threshold, exc, self._root.clock())
            raised = await asyncio.to_thread(self._root.raise_alert, alert)
        except Exception:
            log.exception(
                "could not raise the repeated-failure alert of %s (%s attempt %s)",
                info.activity_type,
                info.workflow_id,
                info.attempt,
            )
            return
        if raised:
            log.warning("alert repeated_failure: %s", alert.subject)
