"""Activities that write tracepost's own store.

The audit trail, postings, needs-attention items, alerts, refund intents, settlement reports and
sweep cursors.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from activities.observability import MATCH_DECISIONS, POSTINGS, count, label, tag_span
from connectors.store import Store
from domain.activity_io import (
    AuditEvent,
    CursorUpdate,
    DeadLetterRequest,
    DeadLetterResolution,
    PostingRecordRequest,
    SweepCursor,
)
from domain.models import Application, PaymentSource
from domain.settlement_io import SettlementDeposited
from domain.store_io import (
    AlertKind,
    AlertRequest,
    AttentionEscalation,
    AttentionOpen,
    AttentionOpened,
    CardRefundIntent,
    DecisionRecord,
    DocumentRecordRequest,
    RefundLookup,
)

DEFAULT_SLA_SECONDS = 4 * 3600
DEFAULT_REMINDER_SECONDS = 24 * 3600


def decision_from_audit(event: AuditEvent) -> DecisionRecord | None:
    """The matching decision an audit event of kind ``matched`` carries, or None.

    Args:
        event: an audit event.

    Returns:
        The decision with its rule and reason; None for other events.
    """
    if event.event != "matched":
        return None
    detail: dict[str, Any] = event.detail
    return DecisionRecord(
        decision_key=event.event_key,
        workflow_id=event.workflow_id,
        paytrace_transaction_id=event.paytrace_transaction_id,
        source=PaymentSource(detail.get("method", "card")),
        outcome=str(detail.get("outcome", "")),
        rule=str(detail.get("rule", "")),
        reason=str(detail.get("reason", "")),
        customer_id=str(detail.get("customer_id", "")),
        amount=Decimal(str(detail.get("amount", "0.00"))),
        applied=sum(
            (Decimal(str(a["amount"])) for a in detail.get("applications", [])), Decimal("0.00")
        ),
        written_off=Decimal(str(detail.get("written_off", "0.00"))),
        on_account=Decimal(str(detail.get("on_account", "0.00"))),
        applications=tuple(Application.model_validate(a) for a in detail.get("applications", [])),
        at=event.at,
    )


def _count_audit(event: AuditEvent) -> None:
    """Count a workflow's outcome (``finished``) or a matching decision (``matched``)."""
    outcome = event.detail.get("outcome")
    if not isinstance(outcome, str) or not outcome:
        return
    if event.event == "finished":
        workflow_type = activity.info().workflow_type if activity.in_activity() else ""
        count(
            POSTINGS,
            "tracepost workflows finished, by workflow type and outcome",
            {"workflow_type": label(workflow_type or "unknown"), "outcome": label(outcome)},
        )
    elif event.event == "matched":
        count(
            MATCH_DECISIONS,
            "matching decisions, by outcome (apply, needs_attention) and rule",
            {"outcome": label(outcome), "rule": label(event.detail.get("rule", ""))},
        )


def _invariant(message: str) -> ApplicationError:
    """A store record that contradicts another: no retry can fix it, a person must look."""
    return ApplicationError(message, type="store_invariant", non_retryable=True)


class StoreActivities:
    """Store writes, with the store injected. Synchronous: run in a thread pool.

    Args:
        store: tracepost's store.
        sla_seconds: how long a needs-attention item may stay open before it is escalated
            (0: never).
        reminder_seconds: after the escalation, how often it is escalated again.
    """

    def __init__(
        self,
        store: Store,
        *,
        sla_seconds: int = DEFAULT_SLA_SECONDS,
        reminder_seconds: int = DEFAULT_REMINDER_SECONDS,
    ) -> None:
        self._store = store
        self._sla = sla_seconds
        self._reminder = reminder_seconds

    @activity.defn(name=names.RECORD_AUDIT)
    def record_audit(self, event: AuditEvent) -> bool:
        """Append one audit event (idempotent by its key); a ``matched`` one is a decision too."""
        tag_span(transaction_id=event.paytrace_transaction_id)
        written = self._store.record_audit(event)
        decision = decision_from_audit(event)
        if decision is not None:
            self._store.record_decision(decision)
        if written:  # counted once: a retried audit event is not written again
            _count_audit(event)
        return written

    @activity.defn(name=names.RECORD_POSTING)
    def record_posting(self, request: PostingRecordRequest) -> None:
        """Copy an ERP posting into the store for the ops pages and reports."""
        record = request.record
        tag_span(
            transaction_id=record.paytrace_transaction_id,
            erp_document=record.erp_document,
            erp_batch=record.batch,
        )
        kind = "ach_receipt" if record.source is PaymentSource.ACH else "receipt"
        self._store.record_posting(record, workflow_id=request.workflow_id, kind=kind)

    @activity.defn(name=names.RECORD_DOCUMENT)
    def record_document(self, request: DocumentRecordRequest) -> None:
        """Copy any other ERP document (memo, reversal, deposit …) into the store."""
        self._store.record_document(
            request.document,
            workflow_id=request.workflow_id,
            kind=request.kind,
            transaction_id=request.transaction_id,
        )

    @activity.defn(name=names.OPEN_DEAD_LETTER)
    def open_dead_letter(self, request: DeadLetterRequest) -> int:
        """Record a needs-attention item; returns its id (parks recorded before alerts)."""
        return self._store.open_dead_letter(
            workflow_id=request.workflow_id,
            run_id=request.run_id,
            transaction_id=request.paytrace_transaction_id,
            reason_kind=request.reason_kind,
            reason=request.reason,
            detail=request.detail,
            at=request.at,
        )

    @activity.defn(name=names.OPEN_ATTENTION)
    def open_attention(self, request: AttentionOpen) -> AttentionOpened:
        """Record a needs-attention item and raise its alert, once.

        Args:
            request: who waits, why, and since when.

        Returns:
            The item's id and the deployment's SLA and reminder intervals.
        """
        dead_letter_id = self._store.open_dead_letter(
            workflow_id=request.workflow_id,
            run_id=request.run_id,
            transaction_id=request.paytrace_transaction_id,
            reason_kind=request.reason_kind,
            reason=request.reason,
            detail=request.detail,
            at=request.at,
        )
        self._store.describe_attention(
            dead_letter_id, workflow_type=request.workflow_type, subject=request.subject
        )
        subject = request.subject or request.workflow_id
        self._alert(
            AlertRequest(
                alert_key=f"attention/{dead_letter_id}",
                kind=AlertKind.NEEDS_ATTENTION,
                severity="warning",
                subject=f"needs attention: {subject} [{request.reason_kind}]",
                message=f"{request.workflow_id} waits for an operator: {request.reason}",
                workflow_id=request.workflow_id,
                detail={"reason_kind": request.reason_kind, "dead_letter_id": dead_letter_id},
                at=request.at,
            )
        )
        return AttentionOpened(
            dead_letter_id=dead_letter_id,
            sla_seconds=self._sla,
            reminder_seconds=self._reminder,
        )

    @activity.defn(name=names.ESCALATE_ATTENTION)
    def escalate_attention(self, request: AttentionEscalation) -> bool:
        """Raise the escalation alert of an item still open past its SLA (once per level)."""
        self._store.record_escalation(request.dead_letter_id, request.level, request.at)
        waited = request.at - request.since
        hours = round(waited.total_seconds() / 3600, 1)
        return self._alert(
            AlertRequest(
                alert_key=f"attention/{request.dead_letter_id}/escalation/{request.level}",
                kind=AlertKind.ESCALATION,
                severity="critical" if request.level > 1 else "warning",
                subject=(
                    f"still needs attention after {hours} h: {request.subject or request.workflow_id}"
                    f" [{request.reason_kind}]"
                ),
                message=(
                    f"{request.workflow_id} has waited for an operator since"
                    f" {request.since.isoformat()} (escalation {request.level}): {request.reason}"
                ),
                workflow_id=request.workflow_id,
                detail={"level": request.level, "dead_letter_id": request.dead_letter_id},
                at=request.at,
            )
        )

    @activity.defn(name=names.RAISE_ALERT)
    def raise_alert(self, alert: AlertRequest) -> bool:
        """Raise an alert once (settlement discrepancies, ACH returns, notices)."""
        return self._alert(alert)

    def _alert(self, alert: AlertRequest) -> bool:
        raised = self._store.raise_alert(alert)
        if raised:
            activity.logger.warning("alert %s: %s", alert.kind.value, alert.subject)
        return raised

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

    @activity.defn(name=names.REQUEST_CARD_REFUND)
    def request_card_refund(self, intent: CardRefundIntent) -> CardRefundIntent:
        """Record the intent to refund a memo before anything is sent; returns what is stored."""
        try:
            return self._store.request_card_refund(intent)
        except IntegrityError as exc:
            raise _invariant(f"memo {intent.memo_key}: {exc.orig}") from None

    @activity.defn(name=names.FINISH_CARD_REFUND)
    def finish_card_refund(self, intent: CardRefundIntent) -> CardRefundIntent:
        """Record how a memo's refund ended (its status and PayTrace refund id).

        Raises:
            ApplicationError: ``store_invariant`` (non-retryable, the workflow parks) when no
                intent was recorded for the memo, or another memo already claims the refund.
        """
        try:
            return self._store.finish_card_refund(
                intent.memo_key, intent.status, intent.refund_transaction_id
            )
        except KeyError as exc:
            raise _invariant(str(exc.args[0])) from None
        except IntegrityError:
            raise _invariant(
                f"PayTrace refund {intent.refund_transaction_id} is already recorded for another"
                f" memo than {intent.memo_key}; check both memos before resolving"
            ) from None

    @activity.defn(name=names.CARD_REFUNDS_OF)
    def card_refunds_of(self, original_transaction_id: int) -> list[CardRefundIntent]:
        """Every memo refund of an original payment."""
        return self._store.card_refunds_of(original_transaction_id)

    @activity.defn(name=names.CARD_REFUNDS_LIKE)
    def card_refunds_like(self, lookup: RefundLookup) -> list[CardRefundIntent]:
        """The memo refunds a PayTrace refund may belong to."""
        return self._store.card_refunds_like(lookup)

    @activity.defn(name=names.SETTLEMENT_DEPOSITED)
    def settlement_deposited(self, done: SettlementDeposited) -> None:
        """Record the deposit and fee documents of a batch's report."""
        self._store.mark_settlement_deposited(
            done.batch_number, done.deposit_document, done.fee_document, done.status
        )
