"""Alerts: raised once by key, kept until a delivery channel (e-mail, webhook) sends them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from connectors.store.schema import alerts
from connectors.store.times import utc, utc_or_none
from domain.store_io import Alert, AlertKind, AlertRequest


class AlertsMixin:
    """The store's alert outbox."""

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
            undelivered_only: only those no channel has sent yet.
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
        return [
            Alert(
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
            for r in rows
        ]

    def mark_alert_delivered(self, alert_id: int, at: datetime) -> None:
        """Record that a channel delivered an alert (idempotent)."""
        with self.engine.begin() as conn:
            conn.execute(
                alerts.update()
                .where((alerts.c.id == alert_id) & alerts.c.delivered_at.is_(None))
                .values(delivered_at=utc(at))
            )


def _find(conn: sa.Connection, key: str) -> int | None:
    found = conn.execute(sa.select(alerts.c.id).where(alerts.c.alert_key == key)).scalar()
    return None if found is None else int(found)
