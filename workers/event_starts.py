"""What each accepted event does in Temporal: start or join its workflow, or send a decision.

Every start uses the business-key workflow id with conflict policy use-existing, so an event
delivered twice joins the workflow the first one started; a finished workflow is not run again
(reuse only after failure or termination; a chargeback case never reopens).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from temporalio.client import Client

from activities.order_starter import start_order_sync
from activities.starter import start_customer_link, start_workflow
from domain.chargeback_io import ChargebackCase, OutcomeUpdate
from domain.chargeback_report import end_of_day
from domain.events import (
    ChargebackOpened,
    ChargebackResolved,
    CustomerUpdated,
    PaymentCompleted,
    RefundCompleted,
)
from domain.models import PaymentSource
from domain.order_io import OrderPaid
from domain.start_io import StartKind, WorkflowStart
from domain.workflow_ids import (
    chargeback_workflow_id,
    customer_link_workflow_id,
    order_workflow_id,
)
from workers.chargeback_cases import CaseStart, OutcomeSent, open_case, send_outcome
from workers.settings import Settings

EVENT_SOURCE = "event"
DECISION_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class EventAnswer:
    """What the api answers for an accepted event.

    Attributes:
        status_code: 202 when Temporal took it; 404/409 when a decision has nowhere to go.
        outcome: ``started``, ``joined``, ``closed``, ``applied``, ``unchanged``,
            ``unknown_case`` or ``refused``.
        workflow_id: the workflow it started, joined or was sent to.
        reason: words for a refusal.
    """

    status_code: int
    outcome: str
    workflow_id: str
    reason: str = ""


def _started(started: bool, workflow_id: str) -> EventAnswer:
    return EventAnswer(202, "started" if started else "joined", workflow_id)


async def dispatch(
    client: Client, settings: Settings, data: BaseModel, source: str = EVENT_SOURCE
) -> EventAnswer:
    """Hand one validated event to Temporal.

    Args:
        client: the Temporal client.
        settings: tracepost settings (task queue, merchant time zone, default fee).
        data: the event's validated data.
        source: who handed it over (``event``; ``ops`` for the ops pages' forms).

    Returns:
        What to answer.

    Raises:
        RPCError: Temporal refused or could not be reached (the caller answers 503).
        TimeoutError: a decision was not taken up in time (the caller answers 503).
    """
    queue = settings.task_queue
    if isinstance(data, PaymentCompleted | RefundCompleted):
        if isinstance(data, PaymentCompleted):
            start = WorkflowStart(
                kind=StartKind.PAYMENT,
                transaction_id=data.transaction_id,
                method=PaymentSource(data.method),
                source=source,
            )
        else:
            start = WorkflowStart(
                kind=StartKind.REFUND, transaction_id=data.transaction_id, source=source
            )
        return _started(await start_workflow(client, queue, start), start.workflow_id)
    if isinstance(data, OrderPaid):
        started = await start_order_sync(client, queue, data, "webhook")
        return _started(started, order_workflow_id(data.order_id))
    if isinstance(data, CustomerUpdated):
        started = await start_customer_link(
            client, queue, data.paytrace_customer_id, "customer_event"
        )
        return _started(started, customer_link_workflow_id(data.paytrace_customer_id))
    if isinstance(data, ChargebackOpened):
        case = ChargebackCase(
            case_id=data.case_id,
            transaction_id=data.transaction_id,
            amount=data.amount,
            fee=settings.mapping.chargebacks.default_fee if data.fee is None else data.fee,
            reason=data.reason,
            opened_on=data.opened_on,
            respond_by=data.respond_by,
            deadline=end_of_day(data.respond_by, ZoneInfo(settings.paytrace_timezone)),
            source=source,
        )
        opened = await open_case(client, queue, case)
        outcome = {CaseStart.STARTED: "started", CaseStart.JOINED: "joined"}.get(opened, "closed")
        return EventAnswer(202, outcome, case.workflow_id)
    if isinstance(data, ChargebackResolved):
        return await _decision(client, data, source)
    raise TypeError(f"no dispatch for {type(data).__name__}")


async def _decision(client: Client, data: ChargebackResolved, operator: str) -> EventAnswer:
    workflow_id = chargeback_workflow_id(data.case_id)
    update = OutcomeUpdate(
        outcome=data.outcome, decided_on=data.decided_on, note=data.note, operator=operator
    )
    sent = await asyncio.wait_for(
        send_outcome(client, data.case_id, update), timeout=DECISION_TIMEOUT_SECONDS
    )
    if sent in (OutcomeSent.APPLIED, OutcomeSent.UNCHANGED):
        return EventAnswer(202, sent.value, workflow_id)
    if sent is OutcomeSent.UNKNOWN_CASE:
        return EventAnswer(
            404, sent.value, "", f"no chargeback case {data.case_id}: send chargeback.opened first"
        )
    if sent is OutcomeSent.CLOSED:
        return EventAnswer(
            409,
            sent.value,
            workflow_id,
            f"case {data.case_id} is finished; book this decision in the ERP by hand",
        )
    return EventAnswer(409, sent.value, workflow_id, f"case {data.case_id} refused the decision")
