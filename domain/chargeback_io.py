"""Inputs, outcomes and state of the Chargeback workflow.

A chargeback (a dispute) is opened by the card network against a settled payment: the money
goes back to the cardholder until the merchant wins the case. PayTrace has no dispute API, so a
case reaches tracepost as a signed event, from the ops page, or from a CSV import of the
processor's dispute report (``domain.chargeback_report``).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.redaction import contains_card_number
from domain.workflow_ids import chargeback_workflow_id

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
_CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,19}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class DisputeOutcome(StrEnum):
    """How the card network decided a case (it may decide again: won↔lost flips happen)."""

    WON = "won"
    LOST = "lost"


class LostPolicy(StrEnum):
    """What a lost case does to the reopened invoices."""

    LEAVE_OPEN = "leave_open"
    WRITE_OFF = "write_off"


def _no_card_number(value: str) -> str:
    if contains_card_number(value):
        raise ValueError("holds what looks like a full card number; send the masked number only")
    return value


def _cents(value: Decimal, field: str) -> Decimal:
    if value != value.quantize(CENT):
        raise ValueError(f"{field} is in whole cents, e.g. 25.00")
    return value


class ChargebackCase(_Frozen):
    """A dispute against one PayTrace card payment, as the processor reports it.

    Attributes:
        case_id: the processor's case number; the business key (``chargeback-<case_id>``).
        transaction_id: the disputed PayTrace sale.
        amount: what the network took back (positive).
        fee: the processor's chargeback fee (0 when it charges none).
        reason: the network's reason code and text, for the people who answer it.
        opened_on: the day the processor reported it.
        respond_by: the last day to send evidence.
        deadline: the end of ``respond_by`` in the merchant's time zone (UTC); the starter sets
            it, so the workflow needs no time zone of its own.
        source: who announced it (``import``, ``event``, ``ops``).
    """

    case_id: str
    transaction_id: int = Field(gt=0)
    amount: Decimal = Field(gt=0)
    fee: Decimal = Field(ZERO, ge=0)
    reason: str = Field("", max_length=200)
    opened_on: date
    respond_by: date
    deadline: datetime
    source: str = "import"

    @field_validator("case_id")
    @classmethod
    def _case_id(cls, value: str) -> str:
        value = value.strip()
        if not _CASE_ID.fullmatch(value):
            raise ValueError(
                "case_id must be 1-20 letters, digits, '.', '_' or '-' and start with a letter"
                " or digit"
            )
        return value

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return _no_card_number(value)

    @field_validator("amount", "fee")
    @classmethod
    def _whole_cents(cls, value: Decimal, info: object) -> Decimal:
        return _cents(value, getattr(info, "field_name", "amount"))

    @field_validator("deadline")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("deadline must carry a time zone")
        return value

    @model_validator(mode="after")
    def _dates(self) -> ChargebackCase:
        if self.respond_by < self.opened_on:
            raise ValueError("respond_by is before opened_on")
        return self

    @property
    def workflow_id(self) -> str:
        """The workflow id of this case."""
        return chargeback_workflow_id(self.case_id)


class OutcomeUpdate(_Frozen):
    """The network's decision on a case (the ``record_outcome`` update)."""

    outcome: DisputeOutcome
    decided_on: date | None = None
    note: str = Field("", max_length=500)
    operator: str = Field("", max_length=100)

    @field_validator("note")
    @classmethod
    def _note(cls, value: str) -> str:
        return _no_card_number(value)


class ChargebackPolicy(_Frozen):
    """What the mapping says about chargebacks, read once when a case opens.

    Attributes:
        credit_hold: put the customer on credit hold while the case is open and lost.
        reverse_fee_when_won: take the fee back out of the fee account when the case is won.
        lost: leave the reopened invoices open, or write them off.
        fee_account: GL account the fee is charged to (blank: the fee is not journaled).
        bank_account: GL account the processor debits the fee from.
        flip_window_days: how long a decided case waits for a reversal of the decision.
        decision_wait_days: how long after the deadline a case waits for any decision before
            asking a person.
    """

    credit_hold: bool = False
    reverse_fee_when_won: bool = True
    lost: LostPolicy = LostPolicy.LEAVE_OPEN
    fee_account: str = ""
    bank_account: str = ""
    flip_window_days: int = Field(90, ge=1)
    decision_wait_days: int = Field(120, ge=1)


class LedgerState(StrEnum):
    """Where the disputed payment stands in the ERP."""

    APPLIED = "applied"
    REVERSED = "reversed"
    WRITTEN_OFF = "written_off"


class ChargebackStage(StrEnum):
    """The phase of the case; ``Chargeback`` continues as new between phases."""

    OPENING = "opening"
    AWAITING_DEADLINE = "awaiting_deadline"
    AWAITING_DECISION = "awaiting_decision"
    DECIDED = "decided"


class ChargebackState(_Frozen):
    """What a run hands to the next one when it continues as new."""

    stage: ChargebackStage = ChargebackStage.OPENING
    policy: ChargebackPolicy = ChargebackPolicy()
    customer_id: str = ""
    receipt_document: str = ""
    reversed_invoices: tuple[str, ...] = ()
    reopened: dict[str, Decimal] = Field(
        {}, description="what the last reversal reopened on each invoice (a write-off's ceiling)"
    )
    ledger: LedgerState = LedgerState.APPLIED
    fee_charged: bool = False
    hold_set_by_us: bool = False
    cycle: int = 0
    outcome: DisputeOutcome | None = None
    decided_at: datetime | None = None
    waiting_until: datetime | None = Field(
        None, description="after an operator's retry: wait for a decision until then"
    )
    pending: tuple[OutcomeUpdate, ...] = ()
    history: tuple[str, ...] = Field((), description="one line per step, oldest first")
    runs: int = 1


class ChargebackInput(_Frozen):
    """Start (or continue) a Chargeback workflow."""

    case: ChargebackCase
    state: ChargebackState | None = None


class ChargebackOutcome(StrEnum):
    """How a Chargeback workflow ended."""

    WON = "won"
    LOST = "lost"
    HANDLED = "handled"


class ChargebackResult(_Frozen):
    """What a Chargeback workflow did."""

    case_id: str
    transaction_id: int
    outcome: ChargebackOutcome
    reason: str = ""
    customer_id: str = ""
    ledger: LedgerState = LedgerState.APPLIED
    cycles: int = 0
    history: tuple[str, ...] = ()


class ChargebackStatus(_Frozen):
    """The ``status`` query: where a case stands now."""

    case_id: str
    transaction_id: int
    stage: ChargebackStage
    ledger: LedgerState
    outcome: DisputeOutcome | None = None
    respond_by: date
    customer_id: str = ""
    history: tuple[str, ...] = ()


class CreditHoldRequest(_Frozen):
    """Put a customer on credit hold, or take it off."""

    customer_id: str
    on_hold: bool


class OpenCasesRequest(_Frozen):
    """Which chargeback cases are open: of one customer (blank: all), leaving one out."""

    customer_id: str = ""
    exclude: str = Field("", description="a workflow id not to count (the case asking)")


class OpenCases(_Frozen):
    """Open chargeback cases (workflow ids) by ERP customer id."""

    by_customer: dict[str, tuple[str, ...]] = {}


class CaseRecord(_Frozen):
    """A case's row in the store (``tp_chargeback``), written at each step of its workflow."""

    case_id: str
    workflow_id: str
    transaction_id: int
    customer_id: str = ""
    amount: Decimal
    respond_by: date
    stage: str
    ledger: LedgerState
    outcome: DisputeOutcome | None = None
    open: bool = Field(description="opened and not decided won, not finished")
    at: datetime
