"""Which channels an alert goes to, what it says there, and when a failed delivery is retried.

Finance alerts (every kind but ``customer_notice``) go to the finance e-mail recipients and to the
webhook; a customer notice goes by e-mail only, to the one address in ``detail["to"]``. Channels
that are not configured are not routed to. Everything sent passes :func:`redacted` first: no full
card number (nor a password or token pattern) ever reaches a channel.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from domain.alert_io import AlertChannel
from domain.redaction import contains_card_number, mask_pan, redact
from domain.store_io import Alert, AlertKind

MAX_RETRY_DELAY = timedelta(hours=1)
REDACTED = "[REDACTED]"
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
# Detail keys whose value is a secret whatever it looks like (the field names domain.redaction
# scrubs in texts; ``number`` only as the whole key: ``invoice_number`` is no secret).
_SECRET_KEY = re.compile(
    r"(?i)^(?:number|(?:.*[_-])?(?:password|passwd|pwd|csc|cvv2?|cvc|access_token|refresh_token"
    r"|client_secret|account_number|encrypted_number|encrypted_csc|token|secret|authorization))$"
)


@dataclass(frozen=True)
class ChannelSetup:
    """The channels a deployment configured.

    Attributes:
        email: an SMTP server is configured.
        finance_to: the finance recipients of e-mail alerts.
        webhook: a webhook URL is configured.
    """

    email: bool = False
    finance_to: tuple[str, ...] = ()
    webhook: bool = False

    @property
    def channels(self) -> tuple[AlertChannel, ...]:
        """The configured channels."""
        found = []
        if self.email:
            found.append(AlertChannel.EMAIL)
        if self.webhook:
            found.append(AlertChannel.WEBHOOK)
        return tuple(found)


@dataclass(frozen=True)
class Route:
    """Where an alert goes.

    Attributes:
        channels: the channels to deliver it on.
        refused: channels (or ``none``) that cannot take it, with the reason: recorded as
            permanent failures.
    """

    channels: tuple[AlertChannel, ...] = ()
    refused: dict[AlertChannel, str] = field(default_factory=dict)


def is_finance(kind: AlertKind) -> bool:
    """Tell whether an alert kind is for finance (every kind but the customer notice)."""
    return kind is not AlertKind.CUSTOMER_NOTICE


def customer_address(detail: Mapping[str, Any]) -> str:
    """The one e-mail address a customer notice is for.

    Args:
        detail: the alert's detail (``to`` holds the address).

    Returns:
        The address, without surrounding spaces.

    Raises:
        ValueError: when ``to`` is missing or is not exactly one plausible address.
    """
    to = detail.get("to")
    if not isinstance(to, str) or not to.strip():
        raise ValueError("the customer notice has no address (detail['to'] is empty)")
    address = to.strip()
    if len(address) > 254 or not _ADDRESS.match(address):
        raise ValueError(
            f"detail['to'] is not one e-mail address: {redact(address)[:80]!r}"
            " (one plain address, like ap@example.com, is expected)"
        )
    return address


def route(alert: Alert, setup: ChannelSetup) -> Route:
    """Decide where an alert goes.

    Args:
        alert: the alert.
        setup: the configured channels.

    Returns:
        Its channels, and the channels that cannot take it with the reason.
    """
    if not is_finance(alert.kind):
        if not setup.email:
            return Route(
                refused={
                    AlertChannel.NONE: "customer notices go by e-mail only and no SMTP server is"
                    " configured (TRACEPOST_ALERT_SMTP_HOST)"
                }
            )
        try:
            customer_address(alert.detail)
        except ValueError as exc:
            return Route(refused={AlertChannel.EMAIL: str(exc)})
        return Route(channels=(AlertChannel.EMAIL,))
    channels = []
    if setup.email and setup.finance_to:
        channels.append(AlertChannel.EMAIL)
    if setup.webhook:
        channels.append(AlertChannel.WEBHOOK)
    if not channels:
        return Route(
            refused={
                AlertChannel.NONE: "no channel takes finance alerts: set TRACEPOST_ALERT_SMTP_HOST"
                " and TRACEPOST_ALERT_EMAIL_TO, or TRACEPOST_ALERT_WEBHOOK_URL"
            }
        )
    return Route(channels=tuple(channels))


def email_recipients(alert: Alert, setup: ChannelSetup) -> tuple[str, ...]:
    """The e-mail recipients of an alert: the customer, or the finance recipients.

    Raises:
        ValueError: a customer notice without a valid address.
    """
    if is_finance(alert.kind):
        return setup.finance_to
    return (customer_address(alert.detail),)


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """How long to wait after a transient failure: 1, 2, 4 … minutes, at most an hour.

    Args:
        attempts: the failed attempts so far (1 after the first failure).
        retry_after: seconds the channel asked to wait (HTTP 429 ``Retry-After``), if any.

    Returns:
        The delay before the next attempt.
    """
    delay = min(timedelta(minutes=2 ** min(max(attempts, 1) - 1, 10)), MAX_RETRY_DELAY)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(timedelta(seconds=retry_after), MAX_RETRY_DELAY))
    return delay


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        text = str(value)
        return mask_pan(text) if contains_card_number(text) else value
    if isinstance(value, Mapping):
        return redact_detail(value)
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return redact(str(value))


def redact_detail(detail: Mapping[str, Any]) -> dict[str, Any]:
    """An alert's detail with card numbers masked and secret values removed, recursively.

    Args:
        detail: any JSON-like mapping.

    Returns:
        A copy: strings redacted, numbers that are card numbers masked, the values of secret
        keys (``password``, ``csc``, ``token``, ``account_number`` …) replaced.
    """
    clean: dict[str, Any] = {}
    for key, value in detail.items():
        name = redact(str(key))
        clean[name] = REDACTED if _SECRET_KEY.match(str(key)) else _redact_value(value)
    return clean


def redacted(alert: Alert) -> Alert:
    """The alert as it may be sent: subject, message, workflow id and detail redacted."""
    return alert.model_copy(
        update={
            "subject": redact(alert.subject),
            "message": redact(alert.message),
            "workflow_id": redact(alert.workflow_id),
            "detail": redact_detail(alert.detail),
        }
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def email_content(alert: Alert) -> tuple[str, str]:
    """The subject and plain-text body of an alert's e-mail (redact the alert first).

    A customer notice carries its own subject and message only; a finance alert is tagged with
    its severity and lists the workflow, the alert and its detail.

    Args:
        alert: the alert (already :func:`redacted`).

    Returns:
        ``(subject, body)``; the subject is one line.
    """
    if not is_finance(alert.kind):
        return _one_line(alert.subject), alert.message.rstrip() + "\n"
    subject = _one_line(f"[tracepost {alert.severity}] {alert.subject}")
    lines = [alert.message.rstrip(), "", f"kind: {alert.kind.value}", f"severity: {alert.severity}"]
    if alert.workflow_id:
        lines.append(f"workflow: {alert.workflow_id}")
    lines += [f"raised at: {alert.at.isoformat()}", f"alert: {alert.id} ({alert.alert_key})"]
    if alert.detail:
        lines += ["", "detail:"]
        for key, value in alert.detail.items():
            shown = value if isinstance(value, str) else json.dumps(value, default=str)
            lines.append(f"  {key}: {shown}")
    return subject, "\n".join(lines) + "\n"


def webhook_body(alert: Alert) -> dict[str, Any]:
    """The JSON body of an alert's webhook post (redact the alert first).

    The top-level ``text`` is what Slack and Microsoft Teams incoming webhooks show; the other
    fields are for receivers that read structure (an incident tool, a chat bot).

    Args:
        alert: the alert (already :func:`redacted`).

    Returns:
        ``text``, ``kind``, ``severity``, ``subject``, ``message``, ``workflow_id``,
        ``alert_id``, ``alert_key``, ``at`` and ``detail``.
    """
    text = f"[{alert.severity.upper()}] {_one_line(alert.subject)}\n{alert.message}"
    if alert.workflow_id:
        text += f"\nworkflow: {alert.workflow_id}"
    return {
        "text": text,
        "kind": alert.kind.value,
        "severity": alert.severity,
        "subject": alert.subject,
        "message": alert.message,
        "workflow_id": alert.workflow_id,
        "alert_id": alert.id,
        "alert_key": alert.alert_key,
        "at": alert.at.isoformat(),
        "detail": json.loads(json.dumps(alert.detail, default=str)),
    }
