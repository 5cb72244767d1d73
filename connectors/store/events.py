"""The event log: every request the webhook starter received, and what became of it.

An accepted event keeps its validated data (for replays and audits). A rejected one keeps only
the reason and a hash of the body: a body that was refused for holding what looks like a card
number must never reach a database, and a malformed one has nothing worth keeping.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from connectors.store.schema import metadata
from connectors.store.times import utc
from domain.events import EventReceipt

event_log = sa.Table(
    "tp_event",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("event_id", sa.String(100), nullable=False, index=True),
    sa.Column("event_type", sa.String(40), nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("workflow_id", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("body_sha256", sa.String(64), nullable=False),
    sa.Column("data", sa.JSON, nullable=True),
    sa.Column("remote_addr", sa.String(64), nullable=False),
)


class EventLogMixin:
    """The store's event log."""

    engine: sa.Engine

    def log_event(self, receipt: EventReceipt) -> int:
        """Append one receipt to the event log.

        Args:
            receipt: what arrived and what the api answered.

        Returns:
            The row's id.
        """
        with self.engine.begin() as conn:
            result = conn.execute(
                event_log.insert().values(
                    received_at=utc(receipt.received_at),
                    channel=receipt.channel,
                    event_id=receipt.event_id[:100],
                    event_type=receipt.event_type[:40],
                    outcome=receipt.outcome,
                    status_code=receipt.status_code,
                    workflow_id=receipt.workflow_id,
                    reason=receipt.reason,
                    body_sha256=receipt.body_sha256,
                    data=receipt.data,
                    remote_addr=receipt.remote_addr[:64],
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def events(
        self,
        *,
        event_id: str = "",
        workflow_id: str = "",
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[EventReceipt]:
        """Logged receipts, newest first.

        Args:
            event_id: only this sender's event id.
            workflow_id: only receipts that started or joined this workflow.
            since: only those received at or after this moment.
            limit: at most this many.

        Returns:
            The receipts.
        """
        c = event_log.c
        query = sa.select(event_log).order_by(c.id.desc()).limit(limit)
        if event_id:
            query = query.where(c.event_id == event_id)
        if workflow_id:
            query = query.where(c.workflow_id == workflow_id)
        if since is not None:
            query = query.where(c.received_at >= utc(since))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_receipt(r) for r in rows]


def _receipt(r: Any) -> EventReceipt:
    return EventReceipt(
        received_at=utc(r["received_at"]),
        channel=r["channel"],
        event_id=r["event_id"],
        event_type=r["event_type"],
        outcome=r["outcome"],
        status_code=r["status_code"],
        workflow_id=r["workflow_id"],
        reason=r["reason"],
        body_sha256=r["body_sha256"],
        data=r["data"],
        remote_addr=r["remote_addr"],
    )
