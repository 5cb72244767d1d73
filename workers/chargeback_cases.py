"""Opening chargeback cases and recording their decisions, for every front door.

The CSV import (``tracepost chargebacks import``), the ops page and the signed
``chargeback.opened`` / ``chargeback.resolved`` events all come through here: a case starts (or
joins) ``chargeback-<case id>``, and a decision is the ``record_outcome`` update.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.chargeback_io import (
    ChargebackCase,
    ChargebackInput,
    DisputeOutcome,
    OutcomeUpdate,
)
from domain.chargeback_report import DisputeReport
from domain.search_attributes import PAYTRACE_TXN_ID, TRACEPOST_STATUS
from domain.workflow_ids import chargeback_workflow_id

CHARGEBACK_WORKFLOW = "Chargeback"


class OutcomeSent(StrEnum):
    """What became of a decision sent to a case."""

    APPLIED = "applied"
    UNCHANGED = "unchanged"
    CLOSED = "closed"
    UNKNOWN_CASE = "unknown_case"
    REFUSED = "refused"


class ImportSummary(BaseModel):
    """What an import did, for the operator's one-line answer."""

    model_config = ConfigDict(frozen=True)

    started: int = 0
    joined: int = 0
    closed: int = 0
    decisions: int = 0
    unchanged: int = 0
    problems: tuple[str, ...] = ()

    def line(self) -> str:
        """One line for the terminal."""
        return (
            f"{self.started} case(s) opened, {self.joined} already open, {self.closed} finished,"
            f" {self.decisions} decision(s) recorded, {self.unchanged} unchanged,"
            f" {len(self.problems)} problem(s)"
        )


class CaseStart(StrEnum):
    """What opening a case did."""

    STARTED = "started"
    JOINED = "joined"
    CLOSED = "closed"


async def open_case(client: Client, task_queue: str, case: ChargebackCase) -> CaseStart:
    """Start the case's workflow, or join it when it runs.

    A finished case (decided and past its flip window, handled, or terminated) is never opened
    again: its documents are in the ERP under its keys.

    Args:
        client: the Temporal client.
        task_queue: the workflows' task queue.
        case: the dispute.

    Returns:
        ``started``, ``joined`` (it runs) or ``closed`` (it finished).
    """
    try:
        handle = await client.start_workflow(
            CHARGEBACK_WORKFLOW,
            ChargebackInput(case=case),
            id=case.workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(TRACEPOST_STATUS, "received"),
                    SearchAttributePair(PAYTRACE_TXN_ID, str(case.transaction_id)),
                ]
            ),
        )
    except WorkflowAlreadyStartedError:
        return CaseStart.CLOSED
    # With USE_EXISTING the server answers ``started=False`` when it joined a running workflow;
    # the SDK keeps that answer on the handle without a public accessor (as activities.starter).
    response = getattr(handle, "_start_workflow_response", None)
    return CaseStart.STARTED if getattr(response, "started", True) else CaseStart.JOINED


async def send_outcome(client: Client, case_id: str, update: OutcomeUpdate) -> OutcomeSent:
    """Record a decision on a running case.

    Args:
        client: the Temporal client.
        case_id: the processor's case number.
        update: won or lost.

    Returns:
        ``applied``; ``unchanged`` when the case already stands decided that way; ``closed``
        when the case finished (a decision after its flip window is booked by hand);
        ``unknown_case``; ``refused`` when the workflow rejected it.
    """
    handle = client.get_workflow_handle(chargeback_workflow_id(case_id))
    try:
        described = await handle.describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return OutcomeSent.UNKNOWN_CASE
        raise
    if described.status is not WorkflowExecutionStatus.RUNNING:
        return OutcomeSent.CLOSED
    try:
        answer = await handle.execute_update("record_outcome", update, result_type=str)
    except WorkflowUpdateFailedError:
        return OutcomeSent.REFUSED
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:  # it finished between describe and update
            return OutcomeSent.CLOSED
        raise
    return OutcomeSent.UNCHANGED if answer.startswith("unchanged") else OutcomeSent.APPLIED


async def import_report(client: Client, task_queue: str, report: DisputeReport) -> ImportSummary:
    """Open every case of a dispute report and record the decisions it shows.

    Args:
        client: the Temporal client.
        task_queue: the workflows' task queue.
        report: the rows read from the file.

    Returns:
        Counts, and one line per problem (rows not read, decisions not applied).
    """
    started = joined = closed = decisions = unchanged = 0
    problems = [f"line {p.line}: {p.reason}" for p in report.problems]
    for row in report.rows:
        opened = await open_case(client, task_queue, row.case)
        if opened is CaseStart.STARTED:
            started += 1
        elif opened is CaseStart.JOINED:
            joined += 1
        else:
            closed += 1
        if row.outcome is None:
            continue
        sent = await send_outcome(
            client,
            row.case.case_id,
            OutcomeUpdate(outcome=DisputeOutcome(row.outcome), decided_on=row.decided_on),
        )
        if sent is OutcomeSent.APPLIED:
            decisions += 1
        elif sent is OutcomeSent.UNCHANGED:
            unchanged += 1
        else:
            problems.append(
                f"line {row.line}: case {row.case.case_id} {row.outcome.value}: {sent.value}"
                + (
                    " (the case is finished: book this decision in the ERP by hand)"
                    if sent is OutcomeSent.CLOSED
                    else ""
                )
            )
    return ImportSummary(
        started=started,
        joined=joined,
        closed=closed,
        decisions=decisions,
        unchanged=unchanged,
        problems=tuple(problems),
    )
