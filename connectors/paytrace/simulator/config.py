"""Simulator settings."""

from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.paytrace.simulator.faults import FaultRule


class SimulatorConfig(BaseModel):
    """How one simulator instance behaves.

    Attributes:
        db_path: SQLite file holding tokens and transactions; created with its tables if missing.
        merchants: API user to password. Each API user is its own merchant: transactions are
            only visible to the user that created them.
        silent_post_url: where hosted checkout sends the Silent Post; ``""`` sends nothing.
        timezone: the merchant's local time zone (IANA name) for timestamps and date filters.
        token_ttl_seconds: lifetime of an OAuth access token.
        first_transaction_id: the id a new state file starts counting transactions from (an
            existing file keeps its own sequence).
        first_check_id: the same for ACH check transaction ids.
        first_batch_number: the number of each merchant's first settlement batch.
        settlement_cutoff: local time (``HH:MM``) at which the open batch settles every day.
        auto_settle: settle at the cut-off; off, only ``/v1/transactions/settle`` settles.
        faults: fault rules active from startup (see ``faults.FaultRule``); more can be added
            and removed at run time under ``/_sim/faults``.
        fault_seed: seed of the random sequence behind fault ``rate`` rolls, for reproducible
            runs; None seeds from the OS.
    """

    model_config = ConfigDict(extra="forbid")

    db_path: str
    merchants: dict[str, str] = Field(default_factory=lambda: {"demo": "demo"})
    silent_post_url: str = ""
    timezone: str = "America/New_York"
    token_ttl_seconds: int = Field(default=7200, gt=0)
    first_transaction_id: int = Field(default=1000001, gt=0)
    first_check_id: int = Field(default=5000001, gt=0)
    first_batch_number: int = Field(default=1, gt=0)
    faults: list[FaultRule] = Field(default_factory=list)
    fault_seed: int | None = None
    settlement_cutoff: time = time(3, 0)
    auto_settle: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone: {value!r}") from exc
        return value

    @field_validator("db_path")
    @classmethod
    def _file_path(cls, value: str) -> str:
        if not value or value == ":memory:":
            raise ValueError("db_path must name a SQLite file")
        return value
