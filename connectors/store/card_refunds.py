"""Card refunds an ERP credit memo asked for: recorded before PayTrace is asked, one per memo."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from connectors.store.schema import card_refunds
from connectors.store.times import utc
from domain.store_io import CardRefundIntent, CardRefundStatus, RefundLookup


class CardRefundsMixin:
    """The store's card refund intents."""

    engine: sa.Engine

    def request_card_refund(self, intent: CardRefundIntent) -> CardRefundIntent:
        """Record the intent to refund a memo; an intent already there is returned unchanged.

        Args:
            intent: the refund to be made.

        Returns:
            The stored intent (the earlier one when the memo was asked for before).
        """
        with self.engine.begin() as conn:
            found = _get(conn, intent.memo_key)
            if found is not None:
                return found
            conn.execute(
                card_refunds.insert().values(
                    memo_key=intent.memo_key,
                    workflow_id=intent.workflow_id,
                    original_transaction_id=intent.original_transaction_id,
                    invoice_id=intent.invoice_id,
                    masked_card=intent.masked_card,
                    customer_id=intent.customer_id,
                    amount=intent.amount,
                    status=intent.status.value,
                    refund_transaction_id=intent.refund_transaction_id,
                    requested_at=utc(intent.requested_at),
                    updated_at=datetime.now(UTC),
                )
            )
        return intent

    def card_refund(self, memo_key: str) -> CardRefundIntent | None:
        """The intent of a memo, if one was recorded."""
        with self.engine.connect() as conn:
            return _get(conn, memo_key)

    def finish_card_refund(
        self, memo_key: str, status: CardRefundStatus, refund_transaction_id: int | None
    ) -> CardRefundIntent:
        """Record how an intent ended (refunded with its id, voided, cancelled).

        Args:
            memo_key: the memo.
            status: the new status.
            refund_transaction_id: PayTrace's id of the refund (refunded only).

        Returns:
            The updated intent.

        Raises:
            KeyError: when no intent was recorded for the memo.
        """
        with self.engine.begin() as conn:
            conn.execute(
                card_refunds.update()
                .where(card_refunds.c.memo_key == memo_key)
                .values(
                    status=status.value,
                    refund_transaction_id=refund_transaction_id,
                    updated_at=datetime.now(UTC),
                )
            )
            found = _get(conn, memo_key)
        if found is None:
            raise KeyError(f"no card refund was requested for memo {memo_key}")
        return found

    def card_refunds_of(self, original_transaction_id: int) -> list[CardRefundIntent]:
        """Every intent that refunds (part of) an original transaction, oldest first."""
        c = card_refunds.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(card_refunds)
                .where(c.original_transaction_id == original_transaction_id)
                .order_by(c.requested_at, c.memo_key)
            ).mappings()
            return [_intent(r) for r in rows]

    def card_refunds_of_refund(self, refund_transaction_id: int) -> list[CardRefundIntent]:
        """The intent a PayTrace refund was issued for (none, or one)."""
        c = card_refunds.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(card_refunds).where(c.refund_transaction_id == refund_transaction_id)
            ).mappings()
            return [_intent(r) for r in rows]

    def card_refunds_like(self, lookup: RefundLookup) -> list[CardRefundIntent]:
        """Intents a PayTrace refund may belong to.

        Those that already carry its id, and those still being requested whose original has
        the refund's invoice and masked card and whose amount equals the refund's.

        Args:
            lookup: the refund's id, invoice, masked card and amount.

        Returns:
            The candidate intents, oldest first.
        """
        c = card_refunds.c
        pending = (
            (c.status == CardRefundStatus.REQUESTED.value)
            & (c.invoice_id == lookup.invoice_id)
            & (c.masked_card == lookup.masked_card)
            & (c.amount == lookup.amount)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(card_refunds)
                .where((c.refund_transaction_id == lookup.refund_transaction_id) | pending)
                .order_by(c.requested_at, c.memo_key)
            ).mappings()
            return [_intent(r) for r in rows]


def _get(conn: sa.Connection, memo_key: str) -> CardRefundIntent | None:
    row = (
        conn.execute(sa.select(card_refunds).where(card_refunds.c.memo_key == memo_key))
        .mappings()
        .first()
    )
    return None if row is None else _intent(row)


def _intent(r: Any) -> CardRefundIntent:
    return CardRefundIntent(
        memo_key=r["memo_key"],
        workflow_id=r["workflow_id"],
        original_transaction_id=r["original_transaction_id"],
        invoice_id=r["invoice_id"],
        masked_card=r["masked_card"],
        customer_id=r["customer_id"],
        amount=r["amount"],
        status=CardRefundStatus(r["status"]),
        refund_transaction_id=r["refund_transaction_id"],
        requested_at=utc(r["requested_at"]),
    )
