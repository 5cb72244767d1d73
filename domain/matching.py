"""The matching engine: which open invoices a payment pays, decided by ordered rules.

The rules run in order and the first decisive one wins; every decision names its rule and a reason a
finance user can read. Anything that is not clear goes to needs-attention: the engine never guesses.

1. ``invoice_number``: PayTrace carried an invoice number and an open invoice has that number after
   normalization: apply up to its balance (short pay within tolerance is written off, over pay is
   left on account).
2. ``exact_balance``: the customer is known and exactly one open invoice has the payment's amount.
3. ``oldest_first``: the customer is known and allocation is enabled: oldest due date first.
4. ``short_pay``: the customer is known and exactly one open invoice is short by no more than the
   tolerance: apply and write off the difference.
5. ``over_pay``: the customer has exactly one open invoice and paid more: apply, rest on account.
6. anything else: needs-attention with the reason.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.models import Application, ErpCustomer, OpenInvoice

ZERO = Decimal("0.00")
_SPACES = re.compile(r"\s+")


class MatchPolicy(BaseModel):
    """How permissive matching may be; set per deployment."""

    model_config = ConfigDict(frozen=True)

    tolerance: Decimal = ZERO
    allocate_oldest_first: bool = False
    invoice_prefixes: tuple[str, ...] = ()
    closed_periods: str = Field(
        "park", description="a document dated in a closed period: 'park', or 'current' (today)"
    )


class MatchOutcome(StrEnum):
    """Whether a decision can be posted or needs a person."""

    APPLY = "apply"
    NEEDS_ATTENTION = "needs_attention"


class MatchInput(BaseModel):
    """Everything the engine needs, read from the ERP beforehand so the decision is pure."""

    model_config = ConfigDict(frozen=True)

    amount: Decimal
    invoice_id: str = ""
    customer: ErpCustomer | None = None
    invoice_by_number: OpenInvoice | None = None
    open_invoices: tuple[OpenInvoice, ...] = ()


class MatchDecision(BaseModel):
    """The engine's decision and why."""

    model_config = ConfigDict(frozen=True)

    outcome: MatchOutcome
    rule: str
    reason: str
    customer_id: str = ""
    applications: tuple[Application, ...] = ()
    on_account: Decimal = ZERO
    candidates: tuple[OpenInvoice, ...] = ()

    @property
    def applied(self) -> Decimal:
        """Total applied to invoices, write-offs excluded."""
        return sum((a.amount for a in self.applications), ZERO)

    @property
    def written_off(self) -> Decimal:
        """Total written off as short pay."""
        return sum((a.write_off for a in self.applications), ZERO)


def normalize_invoice_number(raw: str, prefixes: tuple[str, ...] = ()) -> str:
    """Normalize an invoice number for comparison: case, spaces, prefixes, leading zeros.

    Args:
        raw: the number as typed into PayTrace or stored in the ERP.
        prefixes: prefixes to drop, e.g. ``("INV", "INV-")``, matched case-insensitively.

    Returns:
        The normalized number; empty when nothing is left.
    """
    value = _SPACES.sub("", raw).upper()
    for prefix in sorted((p.upper() for p in prefixes if p), key=len, reverse=True):
        if value.startswith(prefix) and len(value) > len(prefix):
            value = value[len(prefix) :]
            break
    stripped = value.lstrip("0")
    return stripped or ("0" if value else "")


def _needs_attention(
    rule: str, reason: str, customer_id: str, candidates: tuple[OpenInvoice, ...] = ()
) -> MatchDecision:
    return MatchDecision(
        outcome=MatchOutcome.NEEDS_ATTENTION,
        rule=rule,
        reason=reason,
        customer_id=customer_id,
        candidates=candidates,
    )


def _apply_to_one(
    rule: str, invoice: OpenInvoice, amount: Decimal, policy: MatchPolicy
) -> MatchDecision:
    """Apply a payment to one invoice: full, short within tolerance, partial, or over pay."""
    balance = invoice.balance
    number = invoice.invoice_number
    if amount == balance:
        apps = (Application(invoice_number=number, amount=amount),)
        return MatchDecision(
            outcome=MatchOutcome.APPLY,
            rule=rule,
            reason=f"pays invoice {number} in full ({amount})",
            customer_id=invoice.customer_id,
            applications=apps,
        )
    if amount > balance:
        apps = (Application(invoice_number=number, amount=balance),)
        rest = amount - balance
        return MatchDecision(
            outcome=MatchOutcome.APPLY,
            rule="over_pay" if rule != "invoice_number" else rule,
            reason=f"pays invoice {number} in full ({balance}); {rest} left on account",
            customer_id=invoice.customer_id,
            applications=apps,
            on_account=rest,
        )
    short = balance - amount
    if short <= policy.tolerance:
        apps = (Application(invoice_number=number, amount=amount, write_off=short),)
        return MatchDecision(
            outcome=MatchOutcome.APPLY,
            rule="short_pay" if rule != "invoice_number" else rule,
            reason=f"pays invoice {number} short by {short}, within tolerance {policy.tolerance}:"
            " written off",
            customer_id=invoice.customer_id,
            applications=apps,
        )
    apps = (Application(invoice_number=number, amount=amount),)
    return MatchDecision(
        outcome=MatchOutcome.APPLY,
        rule=rule,
        reason=f"pays {amount} of invoice {number}; {short} stays open",
        customer_id=invoice.customer_id,
        applications=apps,
    )


def _oldest_first(
    invoices: tuple[OpenInvoice, ...], amount: Decimal, customer_id: str
) -> MatchDecision:
    ordered = sorted(
        invoices,
        key=lambda i: (i.due_date is None, i.due_date, i.invoice_date, i.invoice_number),
    )
    remaining = amount
    apps: list[Application] = []
    for invoice in ordered:
        if remaining <= ZERO:
            break
        part = min(remaining, invoice.balance)
        apps.append(Application(invoice_number=invoice.invoice_number, amount=part))
        remaining -= part
    numbers = ", ".join(a.invoice_number for a in apps)
    reason = f"allocated oldest due first across {numbers}"
    if remaining > ZERO:
        reason += f"; {remaining} left on account"
    return MatchDecision(
        outcome=MatchOutcome.APPLY,
        rule="oldest_first",
        reason=reason,
        customer_id=customer_id,
        applications=tuple(apps),
        on_account=remaining,
    )


def decide(match: MatchInput, policy: MatchPolicy) -> MatchDecision:
    """Decide how a payment is applied.

    Args:
        match: the payment's amount, invoice number and customer, and what the ERP holds.
        policy: tolerance, allocation and normalization settings.

    Returns:
        The decision: applications and on-account remainder, or needs-attention with a reason.
    """
    amount = match.amount
    customer = match.customer
    customer_id = customer.customer_id if customer else ""
    if amount <= ZERO:
        return _needs_attention("invalid_amount", f"payment amount {amount} is not positive", "")
    open_invoices = tuple(i for i in match.open_invoices if i.balance > ZERO)

    # Rule 1: the invoice number PayTrace carried.
    if match.invoice_id.strip():
        wanted = normalize_invoice_number(match.invoice_id, policy.invoice_prefixes)
        invoice = match.invoice_by_number
        if (
            invoice is None
            or normalize_invoice_number(invoice.invoice_number, policy.invoice_prefixes) != wanted
        ):
            return _needs_attention(
                "invoice_number",
                f"invoice {match.invoice_id!r} was not found in the ERP",
                customer_id,
                open_invoices,
            )
        if customer is not None and invoice.customer_id != customer.customer_id:
            return _needs_attention(
                "invoice_number",
                f"invoice {invoice.invoice_number} belongs to customer {invoice.customer_id},"
                f" not to the paying customer {customer.customer_id}",
                customer_id,
                (invoice, *open_invoices),
            )
        if invoice.balance <= ZERO:
            return _needs_attention(
                "invoice_number",
                f"invoice {invoice.invoice_number} is already paid (balance {invoice.balance});"
                " possible duplicate payment",
                invoice.customer_id,
                open_invoices,
            )
        return _apply_to_one("invoice_number", invoice, amount, policy)

    if customer is None:
        return _needs_attention(
            "customer", "no invoice number and the customer could not be identified", ""
        )
    if not customer.active:
        return _needs_attention("customer", f"customer {customer_id} is inactive", customer_id)
    if not open_invoices:
        return _needs_attention(
            "customer", f"customer {customer_id} has no open invoices to apply to", customer_id
        )

    # Rule 2: exactly one open invoice with this balance.
    exact = tuple(i for i in open_invoices if i.balance == amount)
    if len(exact) == 1:
        return _apply_to_one("exact_balance", exact[0], amount, policy)

    # Rule 3: allocation oldest due date first.
    if policy.allocate_oldest_first:
        return _oldest_first(open_invoices, amount, customer_id)

    if len(exact) > 1:
        return _needs_attention(
            "ambiguous",
            f"{len(exact)} open invoices of customer {customer_id} have balance {amount}",
            customer_id,
            exact,
        )

    # Rule 4: one invoice short within tolerance.
    if policy.tolerance > ZERO:
        short = tuple(i for i in open_invoices if ZERO < i.balance - amount <= policy.tolerance)
        if len(short) == 1:
            return _apply_to_one("short_pay", short[0], amount, policy)

    # Rule 5: over pay of the only open invoice.
    if len(open_invoices) == 1 and amount > open_invoices[0].balance:
        return _apply_to_one("over_pay", open_invoices[0], amount, policy)

    return _needs_attention(
        "ambiguous",
        f"payment of {amount} does not match any open invoice of customer {customer_id}",
        customer_id,
        open_invoices,
    )
