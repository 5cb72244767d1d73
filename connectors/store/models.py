"""Rows of the store as domain-level models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class DeadLetter(BaseModel):
    """A needs-attention item: a workflow waiting for an operator."""

    model_config = ConfigDict(frozen=True)

    id: int
    workflow_id: str
    run_id: str
    paytrace_transaction_id: int | None
    reason_kind: str
    reason: str
    detail: dict[str, Any]
    created_at: datetime
    resolved_at: datetime | None = None
    resolution: str | None = None
