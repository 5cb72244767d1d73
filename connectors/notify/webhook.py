"""A JSON webhook (Slack, Microsoft Teams, or any receiver): one POST per alert (httpx).

The URL of a chat webhook is a credential (whoever has it can post), so no error or log names it:
:attr:`WebhookSender.display` shows only its scheme and host.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors.notify.errors import NotifyPermanentError, NotifyTransientError

TRANSIENT_STATUS = frozenset({408, 425, 429})
"""4xx answers that mean "later" (besides every 5xx)."""


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta seconds or an HTTP date).

    Args:
        value: the header, if any.
        now: the current time, for an HTTP date.

    Returns:
        The seconds, or None when absent or unreadable.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


class WebhookSender:
    """Posts JSON bodies to one webhook URL.

    Args:
        url: the webhook URL (a secret).
        timeout: seconds for connecting, sending and reading the answer.
        transport: an httpx transport (tests).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = url
        self._timeout = timeout
        self._transport = transport

    @property
    def display(self) -> str:
        """The URL without its path (for logs)."""
        parts = urlsplit(self._url)
        return f"{parts.scheme}://{parts.hostname or '?'}/…"

    def __repr__(self) -> str:
        return f"WebhookSender({self.display})"

    def _scrub(self, text: str) -> str:
        text = text.replace(self._url, self.display)
        path = urlsplit(self._url).path
        return text.replace(path, "/…") if len(path) > 1 else text

    async def post(self, body: Mapping[str, Any], *, idempotency_key: str = "") -> None:
        """Post one JSON body.

        Args:
            body: the JSON body.
            idempotency_key: sent as ``Idempotency-Key`` so a receiver can drop a repeat.

        Raises:
            NotifyTransientError: unreachable, timed out, 5xx, 408, 425 or 429 (with
                ``retry_after`` from the answer's Retry-After).
            NotifyPermanentError: any other non-2xx answer (a redirect included: configure the
                final URL), or an unusable URL.
        """
        headers = {"User-Agent": "tracepost-alerts"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            async with httpx.AsyncClient(
                timeout=self._timeout, transport=self._transport, follow_redirects=False
            ) as client:
                response = await client.post(self._url, json=dict(body), headers=headers)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise NotifyPermanentError(
                f"the webhook URL is unusable: {self._scrub(str(exc))}"
            ) from None
        except httpx.TimeoutException as exc:
            raise NotifyTransientError(
                f"webhook {self.display} timed out ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise NotifyTransientError(
                f"webhook {self.display} unreachable: {type(exc).__name__}: {self._scrub(str(exc))}"
            ) from None
        status = response.status_code
        if 200 <= status < 300:
            return
        answer = self._scrub(" ".join(response.text.split())[:200])
        message = f"webhook {self.display} answered {status}" + (f": {answer}" if answer else "")
        if status >= 500 or status in TRANSIENT_STATUS:
            raise NotifyTransientError(
                message, retry_after=retry_after_seconds(response.headers.get("Retry-After"))
            )
        raise NotifyPermanentError(message)
