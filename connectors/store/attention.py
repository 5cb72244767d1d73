"""Needs-attention items beyond the dead letter: which workflow, what waits, escalations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from connectors.store.schema import attention_items, dead_letters
from connectors.store.times import utc, utc_or_none


class AttentionMixin:
    """The store's view of what waits for a person."""

    engine: sa.Engine

    def describe_attention(self, dead_letter_id: int, *, workflow_type: str, subject: str) -> None:
        """Record which workflow type waits and what for (idempotent).

        Args:
            dead_letter_id: the dead letter.
            workflow_type: e.g. ``PaymentPosting``.
            subject: e.g. ``payment 1000123 of 125.00``.
        """
        with self.engine.begin() as conn:
            found = conn.execute(
                sa.select(attention_items.c.dead_letter_id).where(
                    attention_items.c.dead_letter_id == dead_letter_id
                )
            ).first()
            if found is None:
                conn.execute(
                    attention_items.insert().values(
                        dead_letter_id=dead_letter_id,
                        workflow_type=workflow_type,
                        subject=subject[:250],
                        escalations=0,
                    )
                )

    def record_escalation(self, dead_letter_id: int, level: int, at: datetime) -> bool:
        """Count an escalation of an open item once per level.

        Args:
            dead_letter_id: the dead letter.
            level: 1 for the first escalation, then 2, 3 …
            at: when.

        Returns:
            True when this level was new.
        """
        with self.engine.begin() as conn:
            result = conn.execute(
                attention_items.update()
                .where(
                    (attention_items.c.dead_letter_id == dead_letter_id)
                    & (attention_items.c.escalations < level)
                )
                .values(escalations=level, last_escalated_at=utc(at))
            )
            return bool(result.rowcount)

    def attention_items(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        """Needs-attention items with their workflow type, subject and escalations, oldest first.

        Args:
            open_only: only those not resolved.

        Returns:
            One dict per item: the dead letter's columns plus ``workflow_type``, ``subject``,
            ``escalations`` and ``last_escalated_at``.
        """
        d, a = dead_letters.c, attention_items.c
        query = (
            sa.select(
                dead_letters,
                a.workflow_type,
                a.subject,
                a.escalations,
                a.last_escalated_at,
            )
            .select_from(dead_letters.outerjoin(attention_items, a.dead_letter_id == d.id))
            .order_by(d.id)
        )
        if open_only:
            query = query.where(d.resolved_at.is_(None))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        items = []
        for row in rows:
            item = dict(row)
            item["created_at"] = utc(item["created_at"])
            item["resolved_at"] = utc_or_none(item["resolved_at"])
            item["last_escalated_at"] = utc_or_none(item["last_escalated_at"])
            item["workflow_type"] = item["workflow_type"] or ""
            item["subject"] = item["subject"] or ""
            item["escalations"] = item["escalations"] or 0
            items.append(item)
        return items
