"""Translation of connector errors into Temporal retry behaviour."""

from __future__ import annotations

from datetime import timedelta

from temporalio.exceptions import ApplicationError

from connectors.erp.errors import ErpError
from connectors.paytrace.errors import PaytraceError, PaytraceRateLimited


def to_application_error(exc: PaytraceError | ErpError) -> ApplicationError:
    """Map a connector error to an ``ApplicationError`` Temporal understands.

    Business rejections become non-retryable with the error's kind as ``type``; a rate limit
    retries after PayTrace's Retry-After; everything else retries with the activity's backoff.

    Args:
        exc: the connector error (its message is already free of secrets).

    Returns:
        The error to raise from the activity.
    """
    message = str(exc)
    if isinstance(exc, PaytraceRateLimited):
        return ApplicationError(
            message,
            type=exc.kind,
            next_retry_delay=timedelta(seconds=max(exc.retry_after, 1.0)),
        )
    return ApplicationError(message, type=exc.kind, non_retryable=not exc.retryable)
