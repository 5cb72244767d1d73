"""Alert delivery: the ``tp_alert`` outbox sent by e-mail and to the webhook.

One activity call works through one batch: it routes the alerts raised since the last run (one
delivery row per channel), then sends every channel delivery that is due, and records each
outcome on its own row. A transient failure waits 1, 2, 4 … minutes (at most an hour, longer when
the channel asks with Retry-After); a permanent one is recorded with its reason, logged at ERROR
and not tried again until an operator asks. Nothing is sent before :func:`redacted` has masked
card numbers and secrets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from temporalio import activity

from activities import names
from connectors.notify import NotifyError, SmtpSender, WebhookSender
from connectors.store import Store
from domain.alert_io import (
    AlertChannel,
    AlertDeliveryInput,
    AlertDeliveryReport,
    DueDelivery,
)
from domain.alert_routing import (
    ChannelSetup,
    email_content,
    email_recipients,
    redacted,
    retry_delay,
    route,
    webhook_body,
)
from domain.redaction import redact
from domain.store_io import Alert

log = logging.getLogger(__name__)
DEFAULT_LEASE = timedelta(minutes=5)


class Outcome(StrEnum):
    """How one channel delivery ended."""

    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"
    SKIPPED = "skipped"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AlertDeliveryActivities:
    """Sends the store's alerts on the configured channels, with the channels injected.

    Args:
        store: tracepost's store (the outbox and the delivery rows).
        email: the SMTP sender; None when e-mail is not configured.
        email_to: the finance recipients of e-mail alerts.
        webhook: the webhook sender; None when no webhook is configured.
        clock: the current time (tests move it).
        lease: how long a run holds a delivery it took before another run may take it (longer
            than one send can last).
    """

    def __init__(
        self,
        store: Store,
        *,
        email: SmtpSender | None = None,
        email_to: Sequence[str] = (),
        webhook: WebhookSender | None = None,
        clock: Callable[[], datetime] = _utcnow,
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        self._store = store
        self._email = email
        self._webhook = webhook
        self._setup = ChannelSetup(
            email=email is not None, finance_to=tuple(email_to), webhook=webhook is not None
        )
        self._clock = clock
        self._lease = lease

    @property
    def setup(self) -> ChannelSetup:
        """The configured channels."""
        return self._setup

    @activity.defn(name=names.DELIVER_ALERTS)
    async def deliver_alerts(self, request: AlertDeliveryInput) -> AlertDeliveryReport:
        """Route new alerts, then send every due channel delivery and record its outcome.

        Args:
            request: how many due deliveries (and new alerts) to take at most.

        Returns:
            What was routed, delivered, retried later, failed for good, or skipped.
        """
        if not self._setup.channels:
            log.info("alert delivery: no channel is configured")
            return AlertDeliveryReport()
        now = self._clock()
        planned, refused = await asyncio.to_thread(self._plan, request.limit, now)
        for alert, reason in refused:
            log.error("alert %s (%s) cannot be delivered: %s", alert.id, alert.kind.value, reason)
        due = await asyncio.to_thread(self._store.due_alert_deliveries, now, request.limit)
        outcomes: list[Outcome] = []
        for item in due:
            activity.heartbeat(item.delivery.alert_id)
            outcomes.append(await self._deliver(item))
        return AlertDeliveryReport(
            channels=self._setup.channels,
            planned=planned,
            delivered=outcomes.count(Outcome.DELIVERED),
            retrying=outcomes.count(Outcome.RETRYING),
            failed=outcomes.count(Outcome.FAILED) + len(refused),
            skipped=outcomes.count(Outcome.SKIPPED),
        )

    def _plan(self, limit: int, now: datetime) -> tuple[int, list[tuple[Alert, str]]]:
        """Record the channels of every new alert; return how many and the refusals."""
        planned = 0
        refused: list[tuple[Alert, str]] = []
        for alert in self._store.unplanned_alerts(limit):
            where = route(alert, self._setup)
            if self._store.plan_alert_deliveries(alert.id, where.channels, now, where.refused):
                planned += 1
                refused += [(alert, f"{c.value}: {r}") for c, r in where.refused.items()]
        return planned, refused

    async def _deliver(self, item: DueDelivery) -> Outcome:
        alert = redacted(item.alert)
        channel = item.delivery.channel
        attempts = item.delivery.attempts + 1
        if channel not in self._setup.channels:
            reason = f"the {channel.value} channel is no longer configured"
            await self._failed(alert, channel, reason, None)
            return Outcome.FAILED
        now = self._clock()
        taken = await asyncio.to_thread(
            self._store.claim_alert_delivery, alert.id, channel, now, now + self._lease
        )
        if not taken:
            return Outcome.SKIPPED
        try:
            note = await self._send(alert, channel)
        except NotifyError as exc:
            if exc.retryable:
                retry_at = self._clock() + retry_delay(attempts, exc.retry_after)
                await self._failed(alert, channel, exc.message, retry_at)
                return Outcome.RETRYING
            await self._failed(alert, channel, exc.message, None)
            return Outcome.FAILED
        except ValueError as exc:  # a customer notice without a valid address
            await self._failed(alert, channel, redact(str(exc)), None)
            return Outcome.FAILED
        except Exception as exc:
            reason = redact(f"{type(exc).__name__}: {exc}")
            log.exception("alert %s on %s: unexpected failure", alert.id, channel.value)
            await self._failed(alert, channel, reason, self._clock() + retry_delay(attempts))
            return Outcome.RETRYING
        done = await asyncio.to_thread(
            self._store.record_alert_delivered, alert.id, channel, self._clock(), note
        )
        log.info(
            "alert %s (%s) delivered by %s%s",
            alert.id,
            alert.kind.value,
            channel.value,
            "; every channel has it" if done else "",
        )
        return Outcome.DELIVERED

    async def _send(self, alert: Alert, channel: AlertChannel) -> str:
        """Send on one channel; returns a note worth keeping (recipients refused), or ``""``."""
        if channel is AlertChannel.EMAIL:
            assert self._email is not None
            to = email_recipients(alert, self._setup)
            subject, body = email_content(alert)
            domain = self._email.sender.rpartition("@")[2] or "tracepost"
            refused = await self._email.send(
                to,
                subject,
                body,
                message_id=f"<tracepost-alert-{alert.id}@{domain}>",
                headers={"X-Tracepost-Alert": str(alert.id)},
            )
            if refused:
                listed = "; ".join(f"{addr}: {reply}" for addr, reply in refused.items())
                log.warning("alert %s: the SMTP server refused %s", alert.id, listed)
                return redact(f"delivered, but refused for: {listed}")
            return ""
        if channel is AlertChannel.WEBHOOK:
            assert self._webhook is not None
            await self._webhook.post(
                webhook_body(alert), idempotency_key=f"tracepost-alert-{alert.id}"
            )
            return ""
        raise ValueError(f"alerts are not sent on channel {channel.value}")

    async def _failed(
        self, alert: Alert, channel: AlertChannel, reason: str, retry_at: datetime | None
    ) -> None:
        attempts = await asyncio.to_thread(
            self._store.record_alert_failure, alert.id, channel, self._clock(), reason, retry_at
        )
        if retry_at is None:
            log.error(
                "alert %s (%s) not delivered by %s, for good after %s attempt(s): %s",
                alert.id,
                alert.kind.value,
                channel.value,
                attempts,
                reason,
            )
        else:
            log.warning(
                "alert %s (%s) not delivered by %s (attempt %s), next try at %s: %s",
                alert.id,
                alert.kind.value,
                channel.value,
                attempts,
                retry_at.isoformat(timespec="seconds"),
                reason,
            )
