"""Alerts: raised once by key, kept until every channel they are routed to delivers them.

``tp_alert`` is the outbox; ``tp_alert_delivery`` holds one row per alert and channel (e-mail,
webhook), so a channel that is down holds up no other and a channel that has an alert never gets
it twice. ``tp_alert.delivered_at`` is set once every routed channel has delivered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from connectors.store.schema import alert_deliveries, alerts
from connectors.store.times import utc, utc_or_none
from domain.alert_io import AlertChannel, ChannelDelivery, DeliveryStatus, DueDelivery
from domain.store_io import Alert, AlertKind, AlertRequest

MAX_ERROR_LENGTH = 2000


class AlertsMixin:
    """The store's alert outbox and its per-channel delivery state."""

    engine: sa.Engine

    def raise_alert(self, alert: AlertRequest) -> bool:
        """Record an alert once; a repeat of the same ``alert_key`` is ignored.

        Args:
            alert: the alert.

        Returns:
            True when recorded now, False when it existed.
        """
        with self.engine.begin() as conn:
            if _find(conn, alert.alert_key) is not None:
                return False
            conn.execute(
                alerts.insert().values(
                    alert_key=alert.alert_key,
                    kind=alert.kind.value,
                    severity=alert.severity,
                    subject=alert.subject[:250],
                    message=alert.message,
                    workflow_id=alert.workflow_id,
                    detail=alert.detail,
                    at=utc(alert.at),
                )
            )
            return True

    def alerts(
        self, *, undelivered_only: bool = False, kind: AlertKind | None = None
    ) -> list[Alert]:
        """Alerts, oldest first.

        Args:
            undelivered_only: only those some routed channel has not delivered yet (or that no
                channel has taken yet).
            kind: only this kind.

        Returns:
            The alerts.
        """
        query = sa.select(alerts).order_by(alerts.c.id)
        if undelivered_only:
            query = query.where(alerts.c.delivered_at.is_(None))
        if kind is not None:
            query = query.where(alerts.c.kind == kind.value)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_alert_of(r) for r in rows]

    def mark_alert_delivered(self, alert_id: int, at: datetime) -> None:
        """Record that an alert is delivered (idempotent); no channel sends it any more.

        Delivery runs call it once every routed channel has the alert; an operator may call it
        to stop an alert that cannot be delivered.
        """
        with self.engine.begin() as conn:
            _mark_delivered(conn, alert_id, at)

    # -- per-channel delivery -------------------------------------------------------------

    def unplanned_alerts(self, limit: int = 100) -> list[Alert]:
        """Undelivered alerts not yet routed to any channel, oldest first.

        Args:
            limit: at most this many.

        Returns:
            The alerts.
        """
        planned = sa.exists().where(alert_deliveries.c.alert_id == alerts.c.id)
        query = (
            sa.select(alerts)
            .where(alerts.c.delivered_at.is_(None) & ~planned)
            .order_by(alerts.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_alert_of(r) for r in rows]

    def plan_alert_deliveries(
        self,
        alert_id: int,
        channels: Sequence[AlertChannel],
        at: datetime,
        refused: Mapping[AlertChannel, str] | None = None,
    ) -> bool:
        """Record the channels an alert goes to (due now), and those that refuse it for good.

        Args:
            alert_id: the alert.
            channels: its channels, each due at ``at``.
            at: now.
            refused: channels (or ``none``) that cannot take the alert, with the reason; they
                are recorded as permanent failures.

        Returns:
            True when recorded now, False when the alert was already planned (by another run).
        """
        refused = refused or {}
        if not channels and not refused:
            raise ValueError("an alert needs at least one channel or a recorded refusal")
        at = utc(at)
        rows: list[dict[str, Any]] = [
            _new_row(alert_id, channel, DeliveryStatus.PENDING, at, next_attempt_at=at)
            for channel in channels
        ]
        rows += [
            _new_row(alert_id, channel, DeliveryStatus.FAILED, at, last_error=reason)
            for channel, reason in refused.items()
        ]
        try:
            with self.engine.begin() as conn:
                exists = conn.execute(
                    sa.select(alert_deliveries.c.channel).where(
                        alert_deliveries.c.alert_id == alert_id
                    )
                ).first()
                if exists is not None:
                    return False
                conn.execute(alert_deliveries.insert(), rows)
        except IntegrityError:
            return False
        return True

    def due_alert_deliveries(self, now: datetime, limit: int = 100) -> list[DueDelivery]:
        """Channel deliveries due now (pending, ``next_attempt_at`` passed), oldest due first.

        Args:
            now: the current time.
            limit: at most this many.

        Returns:
            Each due delivery with its alert.
        """
        d = alert_deliveries.c
        query = (
            sa.select(alerts, *(c.label(f"d_{c.name}") for c in alert_deliveries.c))
            .join(alert_deliveries, d.alert_id == alerts.c.id)
            .where(
                (d.status == DeliveryStatus.PENDING.value)
                & (d.next_attempt_at <= utc(now))
                & alerts.c.delivered_at.is_(None)
            )
            .order_by(d.next_attempt_at, d.alert_id, d.channel)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            DueDelivery(
                alert=_alert_of(r),
                delivery=_delivery_of({k[2:]: v for k, v in r.items() if k.startswith("d_")}),
            )
            for r in rows
        ]

    def claim_alert_delivery(
        self, alert_id: int, channel: AlertChannel, now: datetime, until: datetime
    ) -> bool:
        """Take a due delivery for one run: nobody else sends it before ``until``.

        Args:
            alert_id: the alert.
            channel: the channel.
            now: the current time (the delivery must be due by then).
            until: when another run may take it if this one never records an outcome.

        Returns:
            True when this run has it, False when it is not due (any more).
        """
        d = alert_deliveries.c
        with self.engine.begin() as conn:
            result = conn.execute(
                alert_deliveries.update()
                .where(
                    (d.alert_id == alert_id)
                    & (d.channel == channel.value)
                    & (d.status == DeliveryStatus.PENDING.value)
                    & (d.next_attempt_at <= utc(now))
                )
                .values(next_attempt_at=utc(until), updated_at=utc(now))
            )
            return result.rowcount == 1

    def record_alert_delivered(
        self, alert_id: int, channel: AlertChannel, at: datetime, note: str = ""
    ) -> bool:
        """Record that a channel delivered an alert; the alert is delivered once all have.

        Args:
            alert_id: the alert.
            channel: the channel that delivered it.
            at: when.
            note: something worth keeping (e.g. recipients the SMTP server refused while
                accepting the others), kept in ``last_error``.

        Returns:
            True when every channel the alert is routed to has delivered it now.
        """
        d = alert_deliveries.c
        at = utc(at)
        values: dict[str, Any] = {
            "status": DeliveryStatus.DELIVERED.value,
            "attempts": d.attempts + 1,
            "delivered_at": at,
            "next_attempt_at": None,
            "updated_at": at,
        }
        if note:
            values["last_error"] = note[:MAX_ERROR_LENGTH]
        with self.engine.begin() as conn:
            conn.execute(
                alert_deliveries.update()
                .where(
                    (d.alert_id == alert_id)
                    & (d.channel == channel.value)
                    & (d.status != DeliveryStatus.DELIVERED.value)
                )
                .values(**values)
            )
            open_rows = conn.execute(
                sa.select(sa.func.count()).where(
                    (d.alert_id == alert_id) & (d.status != DeliveryStatus.DELIVERED.value)
                )
            ).scalar_one()
            if open_rows:
                return False
            _mark_delivered(conn, alert_id, at)
            return True

    def record_alert_failure(
        self,
        alert_id: int,
        channel: AlertChannel,
        at: datetime,
        error: str,
        retry_at: datetime | None,
    ) -> int:
        """Record a failed attempt: retried at ``retry_at``, or never (a permanent failure).

        Args:
            alert_id: the alert.
            channel: the channel that failed.
            at: when.
            error: why (redacted).
            retry_at: when to try again; None for a permanent failure.

        Returns:
            The attempts made so far on this channel.
        """
        d = alert_deliveries.c
        at = utc(at)
        status = DeliveryStatus.PENDING if retry_at is not None else DeliveryStatus.FAILED
        key = (d.alert_id == alert_id) & (d.channel == channel.value)
        with self.engine.begin() as conn:
            conn.execute(
                alert_deliveries.update()
                .where(key & (d.status != DeliveryStatus.DELIVERED.value))
                .values(
                    status=status.value,
                    attempts=d.attempts + 1,
                    last_error=error[:MAX_ERROR_LENGTH],
                    next_attempt_at=utc_or_none(retry_at),
                    updated_at=at,
                )
            )
            attempts = conn.execute(sa.select(d.attempts).where(key)).scalar()
        return int(attempts or 0)

    def alert_deliveries(
        self, *, alert_id: int | None = None, status: DeliveryStatus | None = None
    ) -> list[ChannelDelivery]:
        """Channel delivery rows, by alert and channel.

        Args:
            alert_id: only this alert's.
            status: only those in this state (``failed``: what an operator must look at).

        Returns:
            The rows.
        """
        d = alert_deliveries.c
        query = sa.select(alert_deliveries).order_by(d.alert_id, d.channel)
        if alert_id is not None:
            query = query.where(d.alert_id == alert_id)
        if status is not None:
            query = query.where(d.status == status.value)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_delivery_of(dict(r)) for r in rows]

    def retry_alert_deliveries(
        self, at: datetime, *, alert_id: int | None = None, channel: AlertChannel | None = None
    ) -> int:
        """Make undelivered channel deliveries due now again (after fixing their cause).

        Failed and waiting deliveries become pending, due at ``at``; an alert that no channel
        could take (channel ``none``) is routed again by the next run with the configuration of
        that time. Delivered rows and delivered alerts are left alone.

        Args:
            at: now.
            alert_id: only this alert's (default: every alert's).
            channel: only this channel's (default: every channel's).

        Returns:
            How many deliveries were reset.
        """
        d = alert_deliveries.c
        at = utc(at)
        undelivered = sa.select(alerts.c.id).where(alerts.c.delivered_at.is_(None))
        where = d.alert_id.in_(undelivered) & (d.status != DeliveryStatus.DELIVERED.value)
        if alert_id is not None:
            where = where & (d.alert_id == alert_id)
        if channel is not None:
            where = where & (d.channel == channel.value)
        with self.engine.begin() as conn:
            none = conn.execute(
                alert_deliveries.delete().where(where & (d.channel == AlertChannel.NONE.value))
            ).rowcount
            reset = conn.execute(
                alert_deliveries.update()
                .where(where & (d.channel != AlertChannel.NONE.value))
                .values(status=DeliveryStatus.PENDING.value, next_attempt_at=at, updated_at=at)
            ).rowcount
        return int(none) + int(reset)


def _find(conn: sa.Connection, key: str) -> int | None:
    found = conn.execute(sa.select(alerts.c.id).where(alerts.c.alert_key == key)).scalar()
    return None if found is None else int(found)


def _mark_delivered(conn: sa.Connection, alert_id: int, at: datetime) -> None:
    conn.execute(
        alerts.update()
        .where((alerts.c.id == alert_id) & alerts.c.delivered_at.is_(None))
        .values(delivered_at=utc(at))
    )


def _new_row(
    alert_id: int,
    channel: AlertChannel,
    status: DeliveryStatus,
    at: datetime,
    *,
    next_attempt_at: datetime | None = None,
    last_error: str | None = None,
) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "channel": channel.value,
        "status": status.value,
        "attempts": 0,
        "last_error": None if last_error is None else last_error[:MAX_ERROR_LENGTH],
        "next_attempt_at": next_attempt_at,
        "delivered_at": None,
        "updated_at": at,
    }


def _alert_of(r: Mapping[Any, Any]) -> Alert:
    return Alert(
        id=r["id"],
        alert_key=r["alert_key"],
        kind=AlertKind(r["kind"]),
        severity=r["severity"],
        subject=r["subject"],
        message=r["message"],
        workflow_id=r["workflow_id"],
        detail=r["detail"],
        at=utc(r["at"]),
        delivered_at=utc_or_none(r["delivered_at"]),
    )


def _delivery_of(r: Mapping[str, Any]) -> ChannelDelivery:
    return ChannelDelivery(
        alert_id=r["alert_id"],
        channel=AlertChannel(r["channel"]),
        status=DeliveryStatus(r["status"]),
        attempts=r["attempts"],
        last_error=r["last_error"],
        next_attempt_at=utc_or_none(r["next_attempt_at"]),
        delivered_at=utc_or_none(r["delivered_at"]),
        updated_at=utc(r["updated_at"]),
    )
