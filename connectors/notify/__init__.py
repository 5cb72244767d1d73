"""Alert channels: SMTP e-mail and a JSON webhook. They know nothing about Temporal."""

from connectors.notify.errors import NotifyError, NotifyPermanentError, NotifyTransientError
from connectors.notify.smtp import SmtpSender
from connectors.notify.webhook import WebhookSender

__all__ = [
    "NotifyError",
    "NotifyPermanentError",
    "NotifyTransientError",
    "SmtpSender",
    "WebhookSender",
]
