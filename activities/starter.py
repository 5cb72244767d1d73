"""Starting workflows by business key, and asking Temporal which of them still run.

Every path that learns of an event (Silent Post, sweep, settlement, ERP sweep) starts the same
workflow id, so a payment announced three times is posted once.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities import names
from domain.activity_io import PaymentPostingInput, StartPostingsRequest, StartPostingsResult
from domain.customer_io import CustomerLinkInput
from domain.refund_io import MemoRefundInput, RefundInput
from domain.reversal_io import ReversalInput
from domain.search_attributes import ERP_DOCUMENT, PAYTRACE_TXN_ID, TRACEPOST_STATUS
from domain.settlement_io import SettlementInput
from domain.start_io import (
    StartKind,
    StartWorkflowsRequest,
    StartWorkflowsResult,
    WorkflowsOpenRequest,
    WorkflowsOpenResult,
    WorkflowStart,
)
from domain.workflow_ids import payment_workflow_id

PAYMENT_POSTING_WORKFLOW = "PaymentPosting"
WORKFLOW_TYPES = {
    StartKind.PAYMENT: "PaymentPosting",
    StartKind.REFUND: "RefundToCreditMemo",
    StartKind.REVERSAL: "VoidReversal",
    StartKind.MEMO_REFUND: "CreditMemoRefund",
    StartKind.SETTLEMENT: "SettlementSync",
    StartKind.CUSTOMER_LINK: "CustomerLink",
}

__all__ = [
    "PAYMENT_POSTING_WORKFLOW",
    "StarterActivities",
    "payment_workflow_id",
    "start_customer_link",
    "start_payment_posting",
    "start_workflow",
]


def workflow_input(start: WorkflowStart) -> BaseModel:
    """The input of the workflow a start names.

    Args:
        start: what to start.

    Returns:
        The workflow's input model.
    """
    if start.kind is StartKind.PAYMENT:
        return PaymentPostingInput(
            transaction_id=start.transaction_id, source=start.source, method=start.method
        )
    if start.kind is StartKind.REFUND:
        return RefundInput(refund_transaction_id=start.transaction_id, source=start.source)
    if start.kind is StartKind.REVERSAL:
        return ReversalInput(
            transaction_id=start.transaction_id, method=start.method, source=start.source
        )
    if start.kind is StartKind.SETTLEMENT:
        return SettlementInput(batch_number=start.transaction_id, source=start.source)
    if start.kind is StartKind.CUSTOMER_LINK:
        return CustomerLinkInput(
            paytrace_customer_id=start.paytrace_customer_id, source=start.source
        )
    if start.memo is None:
        raise ValueError("a memo refund start needs the memo")
    return MemoRefundInput(memo=start.memo, flag=start.flag, source=start.source)


def _search_attributes(start: WorkflowStart) -> TypedSearchAttributes:
    pairs: list[SearchAttributePair[Any]] = [SearchAttributePair(TRACEPOST_STATUS, "received")]
    if start.kind is StartKind.MEMO_REFUND and start.memo is not None:
        pairs.append(SearchAttributePair(ERP_DOCUMENT, start.memo.erp_document))
    elif start.kind not in (StartKind.SETTLEMENT, StartKind.CUSTOMER_LINK):
        pairs.append(SearchAttributePair(PAYTRACE_TXN_ID, str(start.transaction_id)))
    return TypedSearchAttributes(pairs)


async def start_workflow(client: Client, task_queue: str, start: WorkflowStart) -> bool:
    """Start the workflow a start names, or join the one that exists.

    A running workflow is joined (conflict policy use-existing); a completed one is not run again
    (reuse allowed only after failure, termination or time-out).

    Args:
        client: the Temporal client.
        task_queue: the workflows' task queue.
        start: the workflow and its business key.

    Returns:
        True when this call started a new run, False when one existed already.
    """
    try:
        handle = await client.start_workflow(
            WORKFLOW_TYPES[start.kind],
            workflow_input(start),
            id=start.workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            search_attributes=_search_attributes(start),
        )
    except WorkflowAlreadyStartedError:
        return False
    # With USE_EXISTING the server answers ``started=False`` when it joined a running workflow;
    # the SDK keeps that answer on the handle without a public accessor.
    response = getattr(handle, "_start_workflow_response", None)
    return bool(getattr(response, "started", True))


async def start_payment_posting(
    client: Client, task_queue: str, transaction_id: int, source: str
) -> bool:
    """Start the PaymentPosting workflow of a card transaction, or join the one that exists.

    Args:
        client: the Temporal client.
        task_queue: the workflows' task queue.
        transaction_id: PayTrace's transaction id.
        source: who announced it (``silent_post``, ``sweep`` ...), kept in the input.

    Returns:
        True when this call started a new run, False when one existed already.
    """
    start = WorkflowStart(kind=StartKind.PAYMENT, transaction_id=transaction_id, source=source)
    return await start_workflow(client, task_queue, start)


async def start_customer_link(
    client: Client, task_queue: str, paytrace_customer_id: str, source: str
) -> bool:
    """Start the CustomerLink of a PayTrace vault profile, or join the one that runs.

    What a PayTrace ``customer.updated`` event starts (``customer-link-<id>``), like the sync.

    Args:
        client: the Temporal client.
        task_queue: the workflows' task queue.
        paytrace_customer_id: the vault profile's customer id.
        source: who announced it (``customer_event``, ``customer_sync`` ...).

    Returns:
        True when this call started a new run, False when one existed already.
    """
    start = WorkflowStart(
        kind=StartKind.CUSTOMER_LINK, paytrace_customer_id=paytrace_customer_id, source=source
    )
    return await start_workflow(client, task_queue, start)


class StarterActivities:
    """Starts workflows for sweeps and settlements, with the Temporal client injected.

    Args:
        client: the Temporal client.
        task_queue: the workflows' task queue.
    """

    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    @activity.defn(name=names.START_PAYMENT_POSTINGS)
    async def start_payment_postings(self, request: StartPostingsRequest) -> StartPostingsResult:
        """Start or join the PaymentPosting workflow of each card transaction.

        Kept for sweeps that were running when tracepost was upgraded; new ones call
        ``start_workflows``.

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

    @activity.defn(name=names.START_WORKFLOWS)
    async def start_workflows(self, request: StartWorkflowsRequest) -> StartWorkflowsResult:
        """Start or join each workflow.

        Args:
            request: the workflows and their business keys.

        Returns:
            How many runs were started and how many existed already.
        """
        started = already = 0
        for start in request.starts:
            activity.heartbeat(start.workflow_id)
            if await start_workflow(self._client, self._task_queue, start):
                started += 1
            else:
                already += 1
        return StartWorkflowsResult(started=started, already=already)

    @activity.defn(name=names.WORKFLOWS_OPEN)
    async def workflows_open(self, request: WorkflowsOpenRequest) -> WorkflowsOpenResult:
        """Tell which of the workflows still run, and which Temporal does not know.

        Args:
            request: workflow ids.

        Returns:
            The running ids and the unknown ids.
        """
        running = []
        unknown = []
        for workflow_id in request.workflow_ids:
            activity.heartbeat(workflow_id)
            try:
                described = await self._client.get_workflow_handle(workflow_id).describe()
            except RPCError as exc:
                if exc.status is RPCStatusCode.NOT_FOUND:
                    unknown.append(workflow_id)
                    continue
                raise
            if described.status is WorkflowExecutionStatus.RUNNING:
                running.append(workflow_id)
        return WorkflowsOpenResult(running=tuple(running), unknown=tuple(unknown))
