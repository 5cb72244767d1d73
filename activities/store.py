"""Activities that write tracepost's own store: audit trail, postings, needs-attention, cursors."""

from __future__ import annotations

from temporalio import activity

from activities import names
from connectors.store import Store
from domain.activity_io import (
    AuditEvent,
    CursorUpdate,
    DeadLetterRequest,
    DeadLetterResolution,
    PostingRecordRequest,
    SweepCursor,
)


class StoreActivities:
    """Store writes, with the store injected. Synchronous: run in a thread pool.

    Args:
        store: tracepost's store.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    @activity.defn(name=names.RECORD_AUDIT)
    def record_audit(self, event: AuditEvent) -> bool:
        """Append one audit event (idempotent by its key)."""
        return self._store.record_audit(event)

    @activity.defn(name=names.RECORD_POSTING)
    def record_posting(self, request: PostingRecordRequest) -> None:
        """Copy an ERP posting into the store for the ops pages and reports."""
        self._store.record_posting(request.record, workflow_id=request.workflow_id)

    @activity.defn(name=names.OPEN_DEAD_LETTER)
    def open_dead_letter(self, request: DeadLetterRequest) -> int:
        """Record a needs-attention item; returns its id."""
        return self._store.open_dead_letter(
            workflow_id=request.workflow_id,
            run_id=request.run_id,
            transaction_id=request.paytrace_transaction_id,
            reason_kind=request.reason_kind,
            reason=request.reason,
            detail=request.detail,
            at=request.at,
        )

    @activity.defn(name=names.RESOLVE_DEAD_LETTER)
    def resolve_dead_letter(self, request: DeadLetterResolution) -> None:
        """Mark a needs-attention item resolved."""
        self._store.resolve_dead_letter(request.dead_letter_id, request.resolution, request.at)

    @activity.defn(name=names.GET_SWEEP_CURSOR)
    def get_sweep_cursor(self, name: str) -> SweepCursor:
        """Where the named sweep got to."""
        return SweepCursor(cursor=self._store.sweep_cursor(name))

    @activity.defn(name=names.SAVE_SWEEP_CURSOR)
    def save_sweep_cursor(self, update: CursorUpdate) -> None:
        """Move the named sweep's cursor forward."""
        self._store.save_sweep_cursor(update.name, update.cursor)
