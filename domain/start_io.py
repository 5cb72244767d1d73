"""Starting workflows from sweeps and settlements, and asking Temporal whether they finished."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.erp_documents import FlaggedMemo
from domain.models import PaymentSource
from domain.workflow_ids import (
    customer_link_workflow_id,
    memo_refund_workflow_id,
    payment_workflow_id,
    refund_workflow_id,
    reversal_workflow_id,
    settlement_workflow_id,
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class StartKind(StrEnum):
    """Which workflow to start."""

    PAYMENT = "payment"
    REFUND = "refund"
    REVERSAL = "reversal"
    MEMO_REFUND = "memo_refund"
    SETTLEMENT = "settlement"
    CUSTOMER_LINK = "customer_link"


class WorkflowStart(_Frozen):
    """One workflow to start or join, by its business key."""

    kind: StartKind
    transaction_id: int = 0
    method: PaymentSource = PaymentSource.CARD
    source: str = "sweep"
    memo: FlaggedMemo | None = None
    flag: str = Field("REFUND PT", description="memo refunds: the mapping's flag")
    paytrace_customer_id: str = Field("", description="customer links: the vault profile's id")

    @property
    def workflow_id(self) -> str:
        """The business-key workflow id this start uses."""
        if self.kind is StartKind.PAYMENT:
            return payment_workflow_id(self.transaction_id, self.method)
        if self.kind is StartKind.REFUND:
            return refund_workflow_id(self.transaction_id)
        if self.kind is StartKind.REVERSAL:
            return reversal_workflow_id(self.transaction_id, self.method)
        if self.kind is StartKind.SETTLEMENT:
            return settlement_workflow_id(self.transaction_id)
        if self.kind is StartKind.CUSTOMER_LINK:
            return customer_link_workflow_id(self.paytrace_customer_id)
        if self.memo is None:
            raise ValueError("a memo refund start needs the memo")
        return memo_refund_workflow_id(self.memo.erp_document)


class StartWorkflowsRequest(_Frozen):
    """Workflows to start (or join when they exist)."""

    starts: tuple[WorkflowStart, ...]


class StartWorkflowsResult(_Frozen):
    """How many were started, and how many existed already."""

    started: int = 0
    already: int = 0


class WorkflowsOpenRequest(_Frozen):
    """Which of these workflows are still running?"""

    workflow_ids: tuple[str, ...]


class WorkflowsOpenResult(_Frozen):
    """The ids still running, and those Temporal does not know."""

    running: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
