"""Starting PaymentPosting workflows: one id per payment, however many times it is announced."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities import names
from domain.activity_io import PaymentPostingInput, StartPostingsRequest, StartPostingsResult
from domain.search_attributes import PAYTRACE_TXN_ID, TRACEPOST_STATUS

PAYMENT_POSTING_WORKFLOW = "PaymentPosting"


def payment_workflow_id(transaction_id: int) -> str:
    """The business-key workflow id of a payment's posting."""
    return f"payment-{transaction_id}"


async def start_payment_posting(
    client: Client, task_queue: str, transaction_id: int, source: str
) -> bool:
    """Start the PaymentPosting workflow of a transaction, or join the one that exists.

    A running workflow is joined (conflict policy use-existing); a completed one is not run again
    (reuse allowed only after failure, termination or time-out).

    Args:
        client: the Temporal client.
        task_queue: the workflows' task queue.
        transaction_id: PayTrace's transaction id.
        source: who announced it (``silent_post``, ``sweep`` ...), kept in the input.

    Returns:
        True when this call started a new run, False when one existed already.
    """
    workflow_id = payment_workflow_id(transaction_id)
    try:
        handle = await client.start_workflow(
            PAYMENT_POSTING_WORKFLOW,
            PaymentPostingInput(transaction_id=transaction_id, source=source),
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(PAYTRACE_TXN_ID, str(transaction_id)),
                    SearchAttributePair(TRACEPOST_STATUS, "received"),
                ]
            ),
        )
    except WorkflowAlreadyStartedError:
        return False
    # With USE_EXISTING the server answers ``started=False`` when it joined a running workflow;
    # the SDK keeps that answer on the handle without a public accessor.
    response = getattr(handle, "_start_workflow_response", None)
    return bool(getattr(response, "started", True))


class StarterActivities:
    """Starts PaymentPosting workflows for a sweep, with the Temporal client injected.

    Args:
        client: the Temporal client.
        task_queue: the workflows' task queue.
    """

    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    @activity.defn(name=names.START_PAYMENT_POSTINGS)
    async def start_payment_postings(self, request: StartPostingsRequest) -> StartPostingsResult:
        """Start or join the PaymentPosting workflow of each transaction.

        Args:
            request: the transaction ids and the source to record.

        Returns:
            How many runs were started and how many existed already.
        """
        started = already = 0
        for transaction_id in request.transaction_ids:
            activity.heartbeat(transaction_id)
            if await start_payment_posting(
                self._client, self._task_queue, transaction_id, request.source
            ):
                started += 1
            else:
                already += 1
        return StartPostingsResult(started=started, already=already)
