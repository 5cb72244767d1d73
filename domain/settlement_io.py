"""Inputs and outputs of the settlement workflows (SettlementSweep, SettlementSync)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.erp_documents import Deposit, JournalEntry
from domain.settlement import BatchInfo
from domain.start_io import WorkflowStart


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class SettlementSweepInput(_Frozen):
    """Which settled batches a sweep run looks at: those of the last ``lookback_days``."""

    lookback_days: int = Field(7, ge=1, le=90)


class SettlementSweepResult(_Frozen):
    """What a settlement sweep found and started."""

    batches: tuple[int, ...] = ()
    started: int = 0
    already: int = 0


class BatchQuery(_Frozen):
    """Batches settled in the ``days`` (merchant-local calendar days) up to ``until``."""

    until: datetime
    days: int = Field(7, ge=1, le=90)


class SettlementInput(_Frozen):
    """Reconcile and deposit one settled PayTrace batch."""

    batch_number: int
    source: str = "schedule"


class BatchInspection(_Frozen):
    """A batch, and the postings its transactions still lack (to start before reconciling)."""

    batch: BatchInfo
    transaction_count: int = 0
    missing: tuple[WorkflowStart, ...] = ()
    wait_minutes: int = Field(60, description="how long to wait for the started postings")


class ReconcilePlan(_Frozen):
    """The stored reconciliation in brief, and the ERP documents that complete the settlement."""

    batch: BatchInfo
    status: str
    discrepancies: int = 0
    notes: tuple[str, ...] = ()
    deposit: Deposit | None = None
    deposit_journal: JournalEntry | None = Field(
        None, description="instead of a deposit when the batch holds no receipt (refunds only)"
    )
    fee_entry: JournalEntry | None = None
    summary: str = ""


class SettlementOutcome(StrEnum):
    """How a SettlementSync workflow ended."""

    RECONCILED = "reconciled"
    DISCREPANCIES = "discrepancies"
    EMPTY = "empty"
    HANDLED = "handled"


class SettlementResult(_Frozen):
    """What a SettlementSync workflow did."""

    batch_number: int
    outcome: SettlementOutcome
    reason: str = ""
    deposit_document: str = ""
    fee_document: str = ""
    discrepancies: int = 0
    started_postings: int = 0


class SettlementDeposited(_Frozen):
    """The documents that completed a batch's settlement, for its stored report."""

    batch_number: int
    deposit_document: str = ""
    fee_document: str = ""
    status: str
