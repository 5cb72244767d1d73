"""Inputs, outcomes and rules of RecurringAutopay: charging due invoices of autopay customers.

An autopay customer (flagged in the ERP, linked to a PayTrace vault profile) has each invoice
charged on its due date by the stored card, exactly once. A decline starts dunning: the charge
is tried again after the configured days (1, 3 and 7 by default, counted from the first
decline), finance is told each time and, if configured, the customer too. Dunning stops when
the invoice is paid another way or the customer leaves autopay; an expired card stops it until
the card is updated.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

ZERO = Decimal("0.00")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


def autopay_workflow_id(customer_id: str, invoice_number: str) -> str:
    """``autopay-<customer>-<invoice>``: one charge (and its dunning) per invoice."""
    return f"autopay-{customer_id.strip()}-{invoice_number.strip()}"


class AutopayPolicy(_Frozen):
    """The mapping's ``[autopay]`` section as the workflows read it."""

    enabled: bool = False
    retry_days: tuple[int, ...] = (1, 3, 7)
    notify_customer: bool = False
    catch_up_days: int = Field(7, description="invoices due up to this many days ago still count")


class DueInvoice(_Frozen):
    """An open invoice of an autopay customer, due today or earlier."""

    customer_id: str
    paytrace_customer_id: str
    invoice_number: str
    balance: Decimal
    due_date: date | None = None
    email: str = ""

    @property
    def workflow_id(self) -> str:
        """The id of this invoice's AutopayCharge."""
        return autopay_workflow_id(self.customer_id, self.invoice_number)


class DueRequest(_Frozen):
    """Which invoices are due for autopay: on ``day``, else on the merchant-local day of ``at``."""

    at: datetime
    day: date | None = None


class DueInvoices(_Frozen):
    """The due invoices, and the autopay customers skipped with why (e.g. no linked profile)."""

    day: date
    invoices: tuple[DueInvoice, ...] = ()
    skipped: tuple[str, ...] = ()
    policy: AutopayPolicy = AutopayPolicy()


class StandingRequest(_Frozen):
    """Re-read, before an attempt, whether the invoice should still be charged."""

    customer_id: str
    invoice_number: str


class Standing(_Frozen):
    """What the ERP says now about an autopay invoice and its customer."""

    balance: Decimal = ZERO
    invoice_found: bool = True
    autopay: bool = False
    active: bool = True
    paytrace_customer_id: str = ""
    email: str = ""


class CardOnFile(_Frozen):
    """The stored card of a vault profile: masked number and expiry only."""

    found: bool = True
    masked_number: str = ""
    expiration_month: int = 0
    expiration_year: int = 0
    expired_now: bool = Field(False, description="expired on the day the card was read")

    def expired(self, today: date) -> bool:
        """A card is good through the last day of its expiration month."""
        if not self.expiration_month or not self.expiration_year:
            return False
        return (self.expiration_year, self.expiration_month) < (today.year, today.month)

    @property
    def label(self) -> str:
        """``x1111 12/2028``: what a person may read about the card."""
        last4 = self.masked_number[-4:] if self.masked_number else "????"
        return f"x{last4} {self.expiration_month:02d}/{self.expiration_year}"


class CardOnFileRequest(_Frozen):
    """Read a vault profile's card as of a moment (the workflow's now)."""

    paytrace_customer_id: str
    at: datetime


def attempt_days(retry_days: tuple[int, ...]) -> tuple[int, ...]:
    """Offsets of every attempt from the first: 0, then each configured retry day."""
    return (0, *retry_days)


def is_expired_card_decline(message: str) -> bool:
    """Whether an issuer's decline says the card expired (retrying cannot help)."""
    return "expired" in message.lower()


class AutopayInput(_Frozen):
    """Charge one due invoice of an autopay customer."""

    invoice: DueInvoice
    policy: AutopayPolicy = AutopayPolicy()
    source: str = "schedule"


class AutopayOutcome(StrEnum):
    """How an AutopayCharge ended."""

    CHARGED = "charged"
    PAID_ELSEWHERE = "paid_elsewhere"
    LEFT_AUTOPAY = "left_autopay"
    HANDLED = "handled"


class AttemptRecord(_Frozen):
    """One charge attempt."""

    attempt: int
    day: date
    approved: bool
    transaction_id: int = 0
    amount: Decimal = ZERO
    message: str = ""


class AutopayResult(_Frozen):
    """What an AutopayCharge did."""

    customer_id: str
    invoice_number: str
    outcome: AutopayOutcome
    reason: str = ""
    transaction_id: int = 0
    attempts: tuple[AttemptRecord, ...] = ()


class AutopaySweepInput(_Frozen):
    """Run the day's autopay (``day`` blank: today in merchant time)."""

    day: date | None = None


class AutopaySweepResult(_Frozen):
    """What the day's autopay started."""

    day: date
    due: int = 0
    started: int = 0
    already: int = 0
    skipped: tuple[str, ...] = ()
    enabled: bool = True
    notes: tuple[str, ...] = Field((), description="why nothing ran, when nothing ran")
