"""Starting OrderSync for an ``order.paid`` event, by its business key ``order-<order id>``.

Every path that hands over an event (the webhook endpoint, ``tracepost orders replay``) calls
:func:`start_order_sync`, so an event delivered twice runs once: a running OrderSync is joined,
a finished one is not run again.
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from domain.order_io import OrderPaid, OrderSyncInput
from domain.search_attributes import PAYTRACE_TXN_ID, TRACEPOST_STATUS
from domain.workflow_ids import order_workflow_id

ORDER_SYNC_WORKFLOW = "OrderSync"


async def start_order_sync(client: Client, task_queue: str, event: OrderPaid, source: str) -> bool:
    """Start the OrderSync of an order, or join the one that exists.

    Args:
        client: the Temporal client.
        task_queue: the workflows' task queue.
        event: the validated ``order.paid`` event.
        source: who handed it over (``webhook``, ``operator_replay`` ...), kept in the input.

    Returns:
        True when this call started a new run, False when one existed already (running or
        finished; a failed or terminated one is run again).
    """
    try:
        handle = await client.start_workflow(
            ORDER_SYNC_WORKFLOW,
            OrderSyncInput(event=event, source=source),
            id=order_workflow_id(event.order_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(TRACEPOST_STATUS, "received"),
                    SearchAttributePair(PAYTRACE_TXN_ID, str(event.transaction_id)),
                ]
            ),
        )
    except WorkflowAlreadyStartedError:
        return False
    # With USE_EXISTING the server answers ``started=False`` when it joined a running workflow
    # (as activities/starter.py reads it).
    response = getattr(handle, "_start_workflow_response", None)
    return bool(getattr(response, "started", True))
