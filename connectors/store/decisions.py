"""Matching decisions, each with its rule and reason: what the auto-apply rate is made of."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from connectors.store.schema import decisions
from connectors.store.times import utc
from domain.models import Application, PaymentSource
from domain.store_io import DecisionRecord


class DecisionsMixin:
    """The store's decision log."""

    engine: sa.Engine

    def record_decision(self, decision: DecisionRecord) -> bool:
        """Record a decision once (by ``decision_key``).

        Args:
            decision: the decision.

        Returns:
            True when recorded now, False when it existed.
        """
        with self.engine.begin() as conn:
            found = conn.execute(
                sa.select(decisions.c.id).where(decisions.c.decision_key == decision.decision_key)
            ).first()
            if found is not None:
                return False
            conn.execute(
                decisions.insert().values(
                    decision_key=decision.decision_key,
                    workflow_id=decision.workflow_id,
                    paytrace_transaction_id=decision.paytrace_transaction_id,
                    source=decision.source.value,
                    outcome=decision.outcome,
                    rule=decision.rule,
                    reason=decision.reason,
                    customer_id=decision.customer_id,
                    amount=decision.amount,
                    applied=decision.applied,
                    written_off=decision.written_off,
                    on_account=decision.on_account,
                    applications=[a.model_dump(mode="json") for a in decision.applications],
                    at=utc(decision.at),
                )
            )
            return True

    def decisions(
        self, *, transaction_id: int | None = None, since: datetime | None = None
    ) -> list[DecisionRecord]:
        """Decisions, oldest first.

        Args:
            transaction_id: only those of this PayTrace transaction.
            since: only those made at or after this time.

        Returns:
            The decisions.
        """
        query = sa.select(decisions).order_by(decisions.c.id)
        if transaction_id is not None:
            query = query.where(decisions.c.paytrace_transaction_id == transaction_id)
        if since is not None:
            query = query.where(decisions.c.at >= utc(since))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_decision(r) for r in rows]


def _decision(r: Any) -> DecisionRecord:
    return DecisionRecord(
        decision_key=r["decision_key"],
        workflow_id=r["workflow_id"],
        paytrace_transaction_id=r["paytrace_transaction_id"],
        source=PaymentSource(r["source"]),
        outcome=r["outcome"],
        rule=r["rule"],
        reason=r["reason"],
        customer_id=r["customer_id"],
        amount=r["amount"],
        applied=r["applied"],
        written_off=r["written_off"],
        on_account=r["on_account"],
        applications=tuple(Application.model_validate(a) for a in r["applications"]),
        at=utc(r["at"]),
    )
