"""What every tracepost workflow shares: its stage, its audit trail, and needs-attention.

A workflow that cannot decide or write parks instead of failing: it records a dead letter, sets
``TracepostStatus = needs_attention``, raises an alert, and waits for an operator's ``resolve``
update (retry, apply to invoices, post on account, post today, mark handled). While it waits an
SLA timer escalates the alert, then reminds at the configured interval. ``attention`` (a query)
tells any client what a parked workflow waits for, whatever its type.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities import names
    from domain.activity_io import (
        AttentionInfo,
        AuditEvent,
        DeadLetterRequest,
        DeadLetterResolution,
        Resolution,
        ResolutionAction,
    )
    from domain.models import OpenInvoice
    from domain.search_attributes import TRACEPOST_STATUS
    from domain.store_io import AttentionEscalation, AttentionOpen, AttentionOpened
    from workflows import options

ALERTS_PATCH = "needs-attention-alerts"
"""Parking with an alert and SLA escalation; parks recorded before it replay the old way."""
CENT = Decimal("0.01")
ALL_ACTIONS = tuple(a for a in ResolutionAction if a is not ResolutionAction.LINK_TO)
"""Every posting action (``link_to`` belongs to CustomerLink only)."""
RETRY_OR_HANDLED = (ResolutionAction.RETRY, ResolutionAction.MARK_HANDLED)


class Handled(Exception):
    """An operator marked the item handled; the workflow ends without doing more."""

    def __init__(self, note: str) -> None:
        super().__init__(note)
        self.note = note


class Interrupted(Exception):
    """Something outside ended the wait (e.g. PayTrace voided the payment meanwhile)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AttentionWorkflow:
    """Base of tracepost's workflows (a plain class: each subclass is the ``workflow.defn``)."""

    def __init__(self) -> None:
        self._transaction_id: int | None = None
        self._subject = ""
        self._stage = "received"
        self._attention: AttentionInfo | None = None
        self._allowed: tuple[ResolutionAction, ...] = ()
        self._resolution: Resolution | None = None
        self._interrupted = ""
        self._audit_seq = 0

    # -- operator interface ---------------------------------------------------------------

    @workflow.query(name="attention")
    def attention(self) -> AttentionInfo | None:
        """What the workflow waits for, or None when it does not wait for a person."""
        return self._attention

    @workflow.update
    async def resolve(self, resolution: Resolution) -> str:
        """Resolve the needs-attention item: retry, apply, post on account or today, or close.

        Args:
            resolution: the operator's decision.

        Returns:
            A short acknowledgment; the workflow carries the decision out right after.
        """
        self._resolution = resolution
        return f"accepted: {resolution.action.value}"

    @resolve.validator
    def _validate_resolve(self, resolution: Resolution) -> None:
        if self._attention is None or self._resolution is not None:
            raise ValueError("this workflow is not waiting for an operator")
        if resolution.action not in self._allowed:
            allowed = ", ".join(a.value for a in self._allowed)
            raise ValueError(
                f"{resolution.action.value} is not possible here; choose one of {allowed}"
            )
        if resolution.action is ResolutionAction.APPLY_TO:
            if not resolution.invoices:
                raise ValueError("apply_to needs at least one invoice")
            if any(i.amount <= 0 for i in resolution.invoices):
                raise ValueError("apply_to amounts must be positive")
            if any(i.amount != i.amount.quantize(CENT) for i in resolution.invoices):
                raise ValueError("apply_to amounts are in whole cents, e.g. 80.50")
        if resolution.action is ResolutionAction.LINK_TO and not resolution.customer_id.strip():
            raise ValueError("link_to needs the ERP customer id (customer_id)")
        if resolution.action is ResolutionAction.MARK_HANDLED and not resolution.note.strip():
            raise ValueError("mark_handled needs a note saying what was done")

    # -- needs-attention ------------------------------------------------------------------

    async def _park(
        self,
        reason_kind: str,
        reason: str,
        candidates: Sequence[OpenInvoice],
        allowed: tuple[ResolutionAction, ...],
        detail: dict[str, Any] | None = None,
    ) -> Resolution:
        """Wait in needs-attention until an operator resolves; return the resolution.

        ``mark_handled`` ends the workflow from here (``Handled``), wherever it parked; an
        interruption (``_interrupted`` set by a signal) ends the wait with ``Interrupted``.
        """
        info = workflow.info()
        self._attention = AttentionInfo(
            reason_kind=reason_kind,
            reason=reason,
            since=workflow.now(),
            candidates=tuple(candidates),
            allowed=allowed,
            subject=self._subject,
            paytrace_transaction_id=self._transaction_id,
        )
        self._allowed = allowed
        self._set_stage("needs_attention")
        stored = {"candidates": [c.model_dump(mode="json") for c in candidates], **(detail or {})}
        if workflow.patched(ALERTS_PATCH):
            opened: AttentionOpened = await workflow.execute_activity(
                names.OPEN_ATTENTION,
                AttentionOpen(
                    workflow_id=info.workflow_id,
                    run_id=info.run_id,
                    workflow_type=info.workflow_type,
                    paytrace_transaction_id=self._transaction_id,
                    subject=self._subject,
                    reason_kind=reason_kind,
                    reason=reason,
                    detail=stored,
                    at=workflow.now(),
                ),
                result_type=AttentionOpened,
                **options.STORE,
            )
            dead_letter_id = opened.dead_letter_id
            await self._audit("needs_attention", {"reason_kind": reason_kind, "reason": reason})
            await self._wait_escalating(opened)
        else:
            dead_letter_id = await workflow.execute_activity(
                names.OPEN_DEAD_LETTER,
                DeadLetterRequest(
                    workflow_id=info.workflow_id,
                    run_id=info.run_id,
                    paytrace_transaction_id=self._transaction_id,
                    reason_kind=reason_kind,
                    reason=reason,
                    detail=stored,
                    at=workflow.now(),
                ),
                result_type=int,
                **options.STORE,
            )
            await self._audit("needs_attention", {"reason_kind": reason_kind, "reason": reason})
            await workflow.wait_condition(self._answered)
        resolution = self._resolution
        self._resolution = None
        self._attention = None
        self._allowed = ()
        if resolution is None:
            await self._close_dead_letter(dead_letter_id, f"closed: {self._interrupted}")
            await self._audit("interrupted", {"reason": self._interrupted})
            raise Interrupted(self._interrupted)
        summary = f"{resolution.action.value} by {resolution.operator or 'operator'}"
        if resolution.note:
            summary += f": {resolution.note}"
        await self._close_dead_letter(dead_letter_id, summary)
        await self._audit("resolved", resolution.model_dump(mode="json"))
        self._set_stage("processing")
        if resolution.action is ResolutionAction.MARK_HANDLED:
            raise Handled(resolution.note)
        return resolution

    def _answered(self) -> bool:
        return self._resolution is not None or bool(self._interrupted)

    async def _wait_escalating(self, opened: AttentionOpened) -> None:
        """Wait for the answer; escalate after the SLA, then remind at each interval."""
        wait = timedelta(seconds=opened.sla_seconds)
        level = 0
        while True:
            if wait <= timedelta(0):
                await workflow.wait_condition(self._answered)
                return
            try:
                await workflow.wait_condition(self._answered, timeout=wait)
                return
            except TimeoutError:
                level += 1
                attention = self._attention
                assert attention is not None
                self._attention = attention.model_copy(update={"escalations": level})
                await workflow.execute_activity(
                    names.ESCALATE_ATTENTION,
                    AttentionEscalation(
                        dead_letter_id=opened.dead_letter_id,
                        workflow_id=workflow.info().workflow_id,
                        subject=self._subject,
                        reason_kind=attention.reason_kind,
                        reason=attention.reason,
                        since=attention.since,
                        level=level,
                        at=workflow.now(),
                    ),
                    result_type=bool,
                    **options.STORE,
                )
                wait = timedelta(seconds=opened.reminder_seconds)

    async def _close_dead_letter(self, dead_letter_id: int, summary: str) -> None:
        await workflow.execute_activity(
            names.RESOLVE_DEAD_LETTER,
            DeadLetterResolution(
                dead_letter_id=dead_letter_id, resolution=summary, at=workflow.now()
            ),
            **options.STORE,
        )

    # -- activity helpers -----------------------------------------------------------------

    async def _call(self, name: str, arg: Any, result_type: Any, opts: dict[str, Any]) -> Any:
        """Run an activity; when it fails for good, park (retry or mark handled only)."""
        while True:
            try:
                return await workflow.execute_activity(name, arg, result_type=result_type, **opts)
            except ActivityError as err:
                reraise_cancellation(err)
                kind, reason = describe(err)
                await self._park(kind, f"{name}: {reason}", (), RETRY_OR_HANDLED)

    async def _call_erp(self, name: str, arg: Any, result_type: Any) -> Any:
        """Run an ERP activity; when it fails for good, park (retry or mark handled only)."""
        return await self._call(name, arg, result_type, erp_options())

    async def _erp(self, name: str, arg: Any, result_type: Any) -> Any:
        """Run an ERP activity; a failure reaches the caller as ``ActivityError``."""
        return await workflow.execute_activity(name, arg, result_type=result_type, **erp_options())

    async def _audit(self, event: str, detail: dict[str, Any]) -> None:
        info = workflow.info()
        self._audit_seq += 1
        await workflow.execute_activity(
            names.RECORD_AUDIT,
            AuditEvent(
                event_key=f"{info.workflow_id}/{info.run_id}/{self._audit_seq}",
                workflow_id=info.workflow_id,
                event=event,
                detail=detail,
                paytrace_transaction_id=self._transaction_id,
                at=workflow.now(),
            ),
            result_type=bool,
            **options.STORE,
        )

    def _set_stage(self, stage: str) -> None:
        self._stage = stage
        workflow.upsert_search_attributes([TRACEPOST_STATUS.value_set(stage)])


def erp_options() -> dict[str, Any]:
    """Activity options of ERP calls: their own rate-limited task queue."""
    return {**options.ERP, "task_queue": options.erp_queue(workflow.info().task_queue)}


def reraise_cancellation(err: ActivityError) -> None:
    """A cancelled workflow must end cancelled, not park: re-raise when the cause is a cancel."""
    if isinstance(err.cause, CancelledError):
        raise err


def describe(err: ActivityError) -> tuple[str, str]:
    """The error kind and message behind a failed activity."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return cause.type or "activity_failed", cause.message
    if cause is not None:
        return type(cause).__name__, str(cause)
    return "activity_failed", str(err)


__all__ = [
    "ALL_ACTIONS",
    "RETRY_OR_HANDLED",
    "AttentionWorkflow",
    "Handled",
    "Interrupted",
    "describe",
    "erp_options",
    "reraise_cancellation",
]
