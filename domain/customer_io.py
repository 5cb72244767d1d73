"""Inputs and outputs of CustomerProfileSync and CustomerLink: plain data, safe in the sandbox.

A vault profile here carries what PayTrace's ``customer/export`` gives, the card reduced to its
masked number and expiry: nothing more of a card ever enters a workflow.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.erp_documents import CustomerDetail, PostalAddress
from domain.workflow_ids import customer_link_workflow_id


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


CUSTOMER_SYNC_CURSOR = "customer-sync-erp"
"""The store cursor of the ERP change sweep (the ERP's opaque cursor text)."""


class VaultProfile(_Frozen):
    """A PayTrace vault customer: the ERP-owned fields as PayTrace holds them, the masked card."""

    paytrace_customer_id: str
    name: str = ""
    email: str = ""
    phone: str = ""
    address: PostalAddress = PostalAddress()
    masked_number: str = Field("", description="e.g. 411111******1111; never a full number")
    expiration_month: int = 0
    expiration_year: int = 0


class FieldConflict(_Frozen):
    """One ERP-owned field the PayTrace profile held differently; the ERP's value wins."""

    field: str
    erp_value: str = Field(description="masked where sensitive (e-mail, phone)")
    paytrace_value: str = Field(description="masked where sensitive (e-mail, phone)")
    winner: str = "erp"


class PushOutcome(StrEnum):
    """What pushing a customer's ERP-owned fields did to its PayTrace profile."""

    UPDATED = "updated"
    UNCHANGED = "unchanged"
    MISSING = "missing"


class ProfilePush(_Frozen):
    """One customer pushed to its PayTrace profile, with the fields PayTrace held differently."""

    customer_id: str
    paytrace_customer_id: str
    outcome: PushOutcome
    conflicts: tuple[FieldConflict, ...] = ()


class ProfilePushRequest(_Frozen):
    """Linked ERP customers whose ERP-owned fields are to be pushed to PayTrace."""

    customers: tuple[CustomerDetail, ...]


class ProfilePushResult(_Frozen):
    """What each push did."""

    pushes: tuple[ProfilePush, ...] = ()


class ChangesRequest(_Frozen):
    """One page of ERP customers changed after the cursor ("" from the beginning)."""

    cursor: str = ""
    limit: int = Field(200, ge=1, le=500)


class VaultPageRequest(_Frozen):
    """One page of vault profiles, by PayTrace customer id, after ``after``."""

    after: str = ""
    limit: int = Field(200, ge=1, le=1000)


class VaultPage(_Frozen):
    """Vault profiles ordered by id; ``more`` when profiles after the last remain."""

    profiles: tuple[VaultProfile, ...] = ()
    more: bool = False


class CardNotice(_Frozen):
    """A notice to finance that a linked customer's stored card expires soon (or has expired)."""

    alert_key: str = Field(description="one notice per customer and expiry")
    subject: str
    message: str
    expires_on: date
    expired: bool = False


class ProfilePlan(_Frozen):
    """What the sync does for one vault profile, from what the ERP holds for it.

    ``customer_id`` blank: the profile is unlinked (a CustomerLink starts); ``holders`` with
    more than one id: the ERP has the PayTrace id on several customers (nothing is written).
    """

    paytrace_customer_id: str
    customer_id: str = ""
    holders: tuple[str, ...] = ()
    card_on_file: str = Field("", description="text to write, e.g. x1111 12/2028; blank: none")
    notice: CardNotice | None = None
    drift: tuple[FieldConflict, ...] = ()
    customer: CustomerDetail | None = Field(
        None, description="the linked customer, when its fields must be pushed (drift)"
    )


class VaultPlanRequest(_Frozen):
    """Plan the vault profiles of a page as of a moment (the workflow's now)."""

    profiles: tuple[VaultProfile, ...]
    at: datetime


class VaultPlans(_Frozen):
    """One plan per profile, in the page's order."""

    plans: tuple[ProfilePlan, ...] = ()


class CardWrite(_Frozen):
    """The card on file to store on an ERP customer (masked last four and expiry only)."""

    customer_id: str
    text: str


class CardWrites(_Frozen):
    """Cards on file to write."""

    writes: tuple[CardWrite, ...]


class CardWritesResult(_Frozen):
    """How many cards on file were written, and which the ERP refused (``customer: reason``)."""

    written: int = 0
    refused: tuple[str, ...] = ()


class SyncCursorUpdate(_Frozen):
    """Save the ERP change sweep's cursor (opaque ERP text)."""

    name: str
    cursor: str


class CustomerSyncResult(_Frozen):
    """What a CustomerProfileSync did (summed over its continued runs)."""

    changed: int = 0
    pushed: int = 0
    conflicts: int = 0
    missing_profiles: int = 0
    profiles: int = 0
    cards_written: int = 0
    notices: int = 0
    links_started: int = 0
    links_existing: int = Field(0, description="CustomerLinks that ran already (or still run)")
    notes: tuple[str, ...] = ()


class CustomerSyncInput(_Frozen):
    """A CustomerProfileSync run; a continued run carries where its predecessor got to."""

    cursor_name: str = CUSTOMER_SYNC_CURSOR
    page_size: int = Field(200, ge=1, le=500)
    pages_per_run: int = Field(25, ge=1, description="continue-as-new after this many pages")
    phase: str = Field("erp", description="erp (changes to PayTrace), then paytrace (vault)")
    erp_cursor: str | None = Field(None, description="carried by continue-as-new")
    vault_after: str = ""
    totals: CustomerSyncResult | None = None


class LinkRule(StrEnum):
    """How a vault profile is matched to an ERP customer (the mapping's ``link_rules``)."""

    EXACT_ID = "exact_id"
    EMAIL = "email"


class CustomerLinkInput(_Frozen):
    """Start a CustomerLink: the sync's vault sweep, or a PayTrace ``customer.updated`` event."""

    paytrace_customer_id: str = Field(min_length=1, max_length=50)
    source: str = "sweep"

    @property
    def workflow_id(self) -> str:
        """The business-key workflow id of this link."""
        return customer_link_workflow_id(self.paytrace_customer_id)


class LinkCandidatesRequest(_Frozen):
    """Which ERP customers could be this profile's (``customer_id``: an operator's choice)."""

    profile: VaultProfile
    customer_id: str = ""


class LinkCandidates(_Frozen):
    """What the ERP holds for a profile, and the mapping's rules to decide with.

    ``holders``: customers already linked to this PayTrace id; ``exact``: the customer whose id
    is the harmonized PayTrace id; ``by_email``: active customers with the profile's e-mail;
    ``chosen``: the operator's choice, looked up.
    """

    rules: tuple[LinkRule, ...] = (LinkRule.EXACT_ID, LinkRule.EMAIL)
    harmonized_id: str = ""
    holders: tuple[CustomerDetail, ...] = ()
    exact: CustomerDetail | None = None
    by_email: tuple[CustomerDetail, ...] = ()
    chosen: CustomerDetail | None = None


class LinkChoice(_Frozen):
    """The customer the rules chose (blank: none), by which rule and why."""

    customer_id: str = ""
    rule: str
    reason: str
    candidates: tuple[str, ...] = ()


class LinkWrite(_Frozen):
    """Link the PayTrace id to the ERP customer."""

    customer_id: str
    paytrace_customer_id: str


class LinkAttempt(_Frozen):
    """The linked customer, or why the ERP refused (``conflict``)."""

    linked: CustomerDetail | None = None
    conflict: str = ""


class LinkOutcome(StrEnum):
    """How a CustomerLink ended."""

    LINKED = "linked"
    ALREADY_LINKED = "already_linked"
    NOT_FOUND = "not_found"
    HANDLED = "handled"


class CustomerLinkResult(_Frozen):
    """What a CustomerLink did."""

    paytrace_customer_id: str
    outcome: LinkOutcome
    customer_id: str = ""
    rule: str = ""
    reason: str = ""
    card_on_file: str = ""
