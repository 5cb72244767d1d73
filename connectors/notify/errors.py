"""Delivery error taxonomy of the alert channels; the activity maps each to a retry decision.

| class | meaning | retry |
|---|---|---|
| NotifyTransientError | connection refused or reset, timeout, HTTP 5xx, 408, 429 (``retry_after``), SMTP 4xx | with backoff |
| NotifyPermanentError | HTTP 4xx other than 408/429, a redirect, SMTP 5xx (recipient or sender refused, authentication), TLS certificate refused, STARTTLS not offered | never (fix it, then retry by hand) |
"""

from __future__ import annotations

from domain.redaction import redact


class NotifyError(Exception):
    """Base of every delivery failure; the message is redacted and names no secret URL."""

    retryable: bool = False
    kind: str = "notify_error"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.message = redact(message)
        super().__init__(self.message)
        self.retry_after = retry_after


class NotifyTransientError(NotifyError):
    """The channel is down or busy: the same message may succeed later."""

    retryable = True
    kind = "notify_transient"


class NotifyPermanentError(NotifyError):
    """The channel refused the message: sending it again would fail the same way."""

    kind = "notify_permanent"
