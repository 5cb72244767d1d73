"""The store: tracepost's own database (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from connectors.store.alerts import AlertsMixin
from connectors.store.attention import AttentionMixin
from connectors.store.card_refunds import CardRefundsMixin
from connectors.store.chargebacks import ChargebacksMixin
from connectors.store.decisions import DecisionsMixin
from connectors.store.events import EventLogMixin
from connectors.store.models import DeadLetter
from connectors.store.ops_queries import OpsQueriesMixin
from connectors.store.schema import audit_events, dead_letters, metadata, postings, sweep_cursors
from connectors.store.settlements import SettlementsMixin
from connectors.store.sync_cursors import SyncCursorsMixin
from connectors.store.times import utc as _utc
from domain.activity_io import AuditEvent
from domain.erp_documents import ErpDocument
from domain.models import ReceiptRecord


class Store(
    AlertsMixin,
    AttentionMixin,
    CardRefundsMixin,
    ChargebacksMixin,
    DecisionsMixin,
    EventLogMixin,
    OpsQueriesMixin,
    SettlementsMixin,
    SyncCursorsMixin,
):
    """Reads and writes tracepost's own tables; every write is idempotent.

    Args:
        engine: a SQLAlchemy engine for the store database.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def create_schema(self) -> None:
        """Create the tables that do not exist yet."""
        metadata.create_all(self.engine)

    def ping(self) -> None:
        """Run a trivial query; raises when the database is unreachable."""
        with self.engine.connect() as conn:
            conn.execute(sa.select(1))

    # -- audit ----------------------------------------------------------------------------

    def record_audit(self, event: AuditEvent) -> bool:
        """Append an audit event once; a repeat of the same ``event_key`` is ignored.

        Args:
            event: the event.

        Returns:
            True when written, False when it was already there.
        """
        with self.engine.begin() as conn:
            exists = conn.execute(
                sa.select(audit_events.c.id).where(audit_events.c.event_key == event.event_key)
            ).first()
            if exists:
                return False
            conn.execute(
                audit_events.insert().values(
                    event_key=event.event_key,
                    workflow_id=event.workflow_id,
                    paytrace_transaction_id=event.paytrace_transaction_id,
                    event=event.event,
                    detail=event.detail,
                    at=_utc(event.at),
                )
            )
            return True

    def audit_trail(
        self, *, workflow_id: str = "", transaction_id: int | None = None
    ) -> list[AuditEvent]:
        """Audit events of a workflow or a transaction, oldest first.

        Args:
            workflow_id: filter by workflow id.
            transaction_id: filter by PayTrace transaction id.

        Returns:
            The events.
        """
        query = sa.select(audit_events).order_by(audit_events.c.id)
        if workflow_id:
            query = query.where(audit_events.c.workflow_id == workflow_id)
        if transaction_id is not None:
            query = query.where(audit_events.c.paytrace_transaction_id == transaction_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            AuditEvent(
                event_key=r["event_key"],
                workflow_id=r["workflow_id"],
                event=r["event"],
                detail=r["detail"],
                paytrace_transaction_id=r["paytrace_transaction_id"],
                at=r["at"],
            )
            for r in rows
        ]

    # -- postings -------------------------------------------------------------------------

    def record_posting(
        self, record: ReceiptRecord, *, workflow_id: str, kind: str = "receipt"
    ) -> None:
        """Insert or update the store's copy of an ERP posting (for ops pages and reports).

        Args:
            record: what the ERP holds.
            workflow_id: the workflow that posted it.
            kind: ``receipt`` for payments.
        """
        self._upsert_posting(
            record.paytrace_transaction_id,
            kind,
            {
                "erp": record.erp,
                "customer_id": record.customer_id,
                "erp_document": record.erp_document,
                "batch": record.batch,
                "amount": record.amount,
                "status": record.status.value,
                "workflow_id": workflow_id,
            },
        )

    def record_document(
        self, document: ErpDocument, *, workflow_id: str, kind: str, transaction_id: int
    ) -> None:
        """Insert or update the store's copy of any ERP document tracepost wrote.

        Args:
            document: what the ERP holds.
            workflow_id: the workflow that wrote it.
            kind: ``credit_memo``, ``reversal``, ``ach_receipt``, ``deposit``, ``journal`` …
            transaction_id: the PayTrace transaction (or settlement batch number) it is for.
        """
        self._upsert_posting(
            transaction_id,
            kind,
            {
                "erp": document.erp,
                "customer_id": document.customer_id,
                "erp_document": document.erp_document,
                "batch": document.batch,
                "amount": document.amount,
                "status": document.status.value,
                "workflow_id": workflow_id,
            },
        )

    def _upsert_posting(self, transaction_id: int, kind: str, values: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        key = (postings.c.paytrace_transaction_id == transaction_id) & (postings.c.kind == kind)
        values = {**values, "updated_at": now}
        with self.engine.begin() as conn:
            if conn.execute(sa.select(postings.c.kind).where(key)).first():
                conn.execute(postings.update().where(key).values(**values))
            else:
                conn.execute(
                    postings.insert().values(
                        paytrace_transaction_id=transaction_id,
                        kind=kind,
                        created_at=now,
                        **values,
                    )
                )

    def postings_of(self, transaction_ids: list[int]) -> list[dict[str, Any]]:
        """The store's copies of the postings of several transactions (every kind).

        Args:
            transaction_ids: PayTrace transaction ids.

        Returns:
            One dict per posting.
        """
        found: list[dict[str, Any]] = []
        with self.engine.connect() as conn:
            for start in range(0, len(transaction_ids), 500):
                chunk = transaction_ids[start : start + 500]
                rows = conn.execute(
                    sa.select(postings).where(postings.c.paytrace_transaction_id.in_(chunk))
                ).mappings()
                found.extend(dict(r) for r in rows)
        return found

    def posting(self, transaction_id: int, kind: str = "receipt") -> dict[str, Any] | None:
        """The store's copy of a posting, or None."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(postings).where(
                        (postings.c.paytrace_transaction_id == transaction_id)
                        & (postings.c.kind == kind)
                    )
                )
                .mappings()
                .first()
            )
        return dict(row) if row else None

    # -- needs-attention ------------------------------------------------------------------

    def open_dead_letter(
        self,
        *,
        workflow_id: str,
        run_id: str,
        transaction_id: int | None,
        reason_kind: str,
        reason: str,
        detail: dict[str, Any],
        at: datetime,
    ) -> int:
        """Record that a workflow parked in needs-attention; idempotent per (workflow, run, time).

        Returns:
            The dead letter's id.
        """
        at = _utc(at)
        key = (
            (dead_letters.c.workflow_id == workflow_id)
            & (dead_letters.c.run_id == run_id)
            & (dead_letters.c.created_at == at)
        )
        with self.engine.begin() as conn:
            found = conn.execute(sa.select(dead_letters.c.id).where(key)).scalar()
            if found is not None:
                return int(found)
            result = conn.execute(
                dead_letters.insert().values(
                    workflow_id=workflow_id,
                    run_id=run_id,
                    paytrace_transaction_id=transaction_id,
                    reason_kind=reason_kind,
                    reason=reason,
                    detail=detail,
                    created_at=at,
                )
            )
            new_id = result.inserted_primary_key
            assert new_id is not None
            return int(new_id[0])

    def resolve_dead_letter(self, dead_letter_id: int, resolution: str, at: datetime) -> None:
        """Mark a needs-attention item resolved (idempotent)."""
        with self.engine.begin() as conn:
            conn.execute(
                dead_letters.update()
                .where((dead_letters.c.id == dead_letter_id) & dead_letters.c.resolved_at.is_(None))
                .values(resolved_at=_utc(at), resolution=resolution)
            )

    def dead_letters(self, *, open_only: bool = True) -> list[DeadLetter]:
        """Needs-attention items, oldest first."""
        query = sa.select(dead_letters).order_by(dead_letters.c.id)
        if open_only:
            query = query.where(dead_letters.c.resolved_at.is_(None))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [DeadLetter.model_validate(dict(r)) for r in rows]

    # -- sweep cursors --------------------------------------------------------------------

    def sweep_cursor(self, name: str) -> datetime | None:
        """Where the named sweep got to, or None before its first run."""
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(sweep_cursors.c.cursor).where(sweep_cursors.c.name == name)
            ).scalar()
        return _utc(value) if value is not None else None

    def sweep_cursors(self) -> dict[str, datetime]:
        """Where every sweep got to, by name (the metrics' sweep lag)."""
        c = sweep_cursors.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(c.name, c.cursor)).all()
        return {str(name): _utc(cursor) for name, cursor in rows}

    def save_sweep_cursor(self, name: str, cursor: datetime) -> None:
        """Move the named sweep's cursor forward (never backward)."""
        cursor = _utc(cursor)
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            current = conn.execute(
                sa.select(sweep_cursors.c.cursor).where(sweep_cursors.c.name == name)
            ).scalar()
            if current is None:
                conn.execute(
                    sweep_cursors.insert().values(name=name, cursor=cursor, updated_at=now)
                )
            elif _utc(current) < cursor:
                conn.execute(
                    sweep_cursors.update()
                    .where(sweep_cursors.c.name == name)
                    .values(cursor=cursor, updated_at=now)
                )
