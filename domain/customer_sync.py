"""Customer profile sync rules: field ownership, the card on file, expiry notices, linking.

The ERP owns name, e-mail, phone, billing address and terms; PayTrace owns the payment method.
An ERP-owned field PayTrace holds differently is a conflict the ERP wins (PayTrace has no terms
field, so terms never travel). Of the card, only ``x<last four> <MM>/<YYYY>`` reaches the ERP.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date

from domain.customer_io import (
    CardNotice,
    FieldConflict,
    LinkCandidates,
    LinkChoice,
    LinkRule,
    ProfilePlan,
    VaultProfile,
)
from domain.erp_documents import CustomerDetail, PostalAddress

SENSITIVE_FIELDS = frozenset({"email", "phone"})
"""Fields whose values are masked wherever a conflict is logged."""
ADDRESS_FIELDS = ("line1", "line2", "city", "state", "postal_code", "country")
OWNED_FIELDS = ("name", "email", "phone", *ADDRESS_FIELDS)
"""The ERP-owned fields PayTrace also holds, in the order conflicts are reported."""


def owned_values(name: str, email: str, phone: str, address: PostalAddress) -> dict[str, str]:
    """The ERP-owned fields as comparable text, trimmed, keyed like ``OWNED_FIELDS``."""
    values = {"name": name, "email": email, "phone": phone}
    values.update({f: str(getattr(address, f)) for f in ADDRESS_FIELDS})
    return {k: v.strip() for k, v in values.items()}


def erp_values(customer: CustomerDetail) -> dict[str, str]:
    """The ERP customer's owned fields."""
    return owned_values(customer.name, customer.email, customer.phone, customer.address)


def vault_values(profile: VaultProfile) -> dict[str, str]:
    """The same fields as the PayTrace profile holds them."""
    return owned_values(profile.name, profile.email, profile.phone, profile.address)


def mask_value(field: str, value: str) -> str:
    """A value fit for the conflict log: e-mail and phone are masked, others kept.

    Args:
        field: the field's name (``OWNED_FIELDS``).
        value: its value.

    Returns:
        ``j***@example.com`` for an e-mail, ``***1234`` for a phone, else the value.
    """
    value = value.strip()
    if not value or field not in SENSITIVE_FIELDS:
        return value
    if field == "email":
        local, at, domain = value.partition("@")
        return f"{local[:1]}***{at}{domain}" if at else "***"
    digits = "".join(c for c in value if c.isdigit())
    return f"***{digits[-4:]}" if len(digits) >= 4 else "***"


def _same(field: str, erp: str, paytrace: str) -> bool:
    if field in ("email", "state", "country", "postal_code"):
        return erp.casefold() == paytrace.casefold()
    if field == "phone":
        return [c for c in erp if c.isdigit()] == [c for c in paytrace if c.isdigit()]
    return erp == paytrace


def profile_differences(
    customer: CustomerDetail, profile: VaultProfile
) -> tuple[FieldConflict, ...]:
    """The ERP-owned fields PayTrace holds differently, each resolved for the ERP.

    A field the ERP leaves blank is not pushed (PayTrace keeps what it has): blank in the ERP
    means "not known", not "erase". E-mail, state, country and postal code compare
    case-insensitively, phone numbers by their digits.

    Args:
        customer: the ERP customer (the owner of these fields).
        profile: its linked PayTrace vault profile.

    Returns:
        One conflict per differing field, values masked where sensitive.
    """
    erp = erp_values(customer)
    vault = vault_values(profile)
    return tuple(
        FieldConflict(
            field=f,
            erp_value=mask_value(f, erp[f]),
            paytrace_value=mask_value(f, vault[f]),
        )
        for f in OWNED_FIELDS
        if erp[f] and not _same(f, erp[f], vault[f])
    )


def pushed_fields(customer: CustomerDetail, conflicts: Sequence[FieldConflict]) -> dict[str, str]:
    """The ERP values (unmasked) of the conflicting fields, to send to PayTrace."""
    erp = erp_values(customer)
    return {c.field: erp[c.field] for c in conflicts}


def card_on_file_text(masked_number: str, month: int, year: int) -> str:
    """What the ERP keeps of a card: ``x1111 12/2028``, or blank when the card is not usable.

    Args:
        masked_number: PayTrace's masked number (e.g. ``411111******1111``).
        month: expiration month, 1 to 12.
        year: expiration year, four digits (two are taken as 20YY).

    Returns:
        The last four digits and the expiry; blank when either is missing.
    """
    last4 = masked_number.strip()[-4:]
    if year and year < 100:
        year += 2000
    if len(last4) != 4 or not last4.isdigit() or not 1 <= month <= 12 or not 2000 <= year <= 2099:
        return ""
    return f"x{last4} {month:02d}/{year}"


def card_expires_on(month: int, year: int) -> date:
    """A card is good through the last day of its expiration month."""
    if year < 100:
        year += 2000
    return date(year, month, calendar.monthrange(year, month)[1])


def card_notice(
    customer_id: str,
    profile: VaultProfile,
    today: date,
    notice_days: int,
) -> CardNotice | None:
    """The notice to finance for a card expiring within ``notice_days`` of today (or expired).

    Args:
        customer_id: the linked ERP customer.
        profile: the vault profile with the card's expiry.
        today: the merchant-local date.
        notice_days: how many days ahead to warn (the mapping's ``card_expiry_notice_days``).

    Returns:
        The notice, keyed once per customer and expiry; None when no notice is due.
    """
    label = card_on_file_text(
        profile.masked_number, profile.expiration_month, profile.expiration_year
    )
    if not label:
        return None
    expires = card_expires_on(profile.expiration_month, profile.expiration_year)
    days_left = (expires - today).days
    if days_left > notice_days:
        return None
    expired = days_left < 0
    state = "has expired" if expired else f"expires on {expires.isoformat()}"
    return CardNotice(
        alert_key=f"card-expiry/{customer_id}/{expires:%Y-%m}",
        subject=f"Customer {customer_id}: the card on file {state}",
        message=(
            f"The card on file of ERP customer {customer_id} (PayTrace profile"
            f" {profile.paytrace_customer_id}), {label}, {state}. Ask the customer for a new card"
            " and update the profile in PayTrace; the sync copies it to the ERP."
        ),
        expires_on=expires,
        expired=expired,
    )


def plan_profile(
    profile: VaultProfile,
    holders: Sequence[CustomerDetail],
    today: date,
    notice_days: int,
) -> ProfilePlan:
    """What the sync does for one vault profile, from the ERP customers holding its id.

    Args:
        profile: the vault profile.
        holders: the ERP customers whose link field holds its PayTrace id.
        today: the merchant-local date.
        notice_days: the expiry notice horizon in days.

    Returns:
        Unlinked (no holder): nothing but a CustomerLink; several holders: nothing (the ERP
        data needs a person); one: the card on file to write when it changed, the expiry
        notice, and the ERP-owned fields PayTrace holds differently.
    """
    pt_id = profile.paytrace_customer_id
    if not holders:
        return ProfilePlan(paytrace_customer_id=pt_id)
    if len(holders) > 1:
        return ProfilePlan(
            paytrace_customer_id=pt_id, holders=tuple(h.customer_id for h in holders)
        )
    (customer,) = holders
    text = card_on_file_text(
        profile.masked_number, profile.expiration_month, profile.expiration_year
    )
    drift = profile_differences(customer, profile)
    return ProfilePlan(
        paytrace_customer_id=pt_id,
        customer_id=customer.customer_id,
        holders=(customer.customer_id,),
        card_on_file=text if text and text != customer.card_on_file.strip() else "",
        notice=card_notice(customer.customer_id, profile, today, notice_days),
        drift=drift,
        customer=customer if drift else None,
    )


def _describe(customer: CustomerDetail) -> str:
    extra = ", ".join(v for v in (customer.name, customer.email) if v)
    return f"{customer.customer_id} ({extra})" if extra else customer.customer_id


def choose_link(candidates: LinkCandidates, operator_choice: str = "") -> LinkChoice:
    """The ERP customer a vault profile belongs to, by the first decisive rule.

    Rules in the mapping's order: ``exact_id`` (the harmonized PayTrace id is an active
    customer's id), ``email`` (exactly one active customer has the profile's e-mail). An
    operator's ``link_to`` choice overrides the rules. Never a guess: no decisive rule, no
    customer.

    Args:
        candidates: what the ERP holds for the profile, and the rules.
        operator_choice: the customer id an operator chose, if any.

    Returns:
        The customer (blank when none), the rule that decided and why, and the candidates
        a person could choose from.
    """
    if operator_choice.strip():
        chosen = candidates.chosen
        if chosen is None:
            return LinkChoice(
                rule="operator", reason=f"ERP customer {operator_choice.strip()} does not exist"
            )
        return LinkChoice(
            customer_id=chosen.customer_id,
            rule="operator",
            reason=f"an operator chose {_describe(chosen)}",
        )
    notes: list[str] = []
    shown: dict[str, CustomerDetail] = {}
    for rule in candidates.rules:
        if rule is LinkRule.EXACT_ID:
            exact = candidates.exact
            if exact is None:
                notes.append(f"no ERP customer has the id {candidates.harmonized_id or '(blank)'}")
            elif not exact.active:
                shown[exact.customer_id] = exact
                notes.append(f"customer {exact.customer_id} has the id but is inactive")
            else:
                return LinkChoice(
                    customer_id=exact.customer_id,
                    rule=rule.value,
                    reason=f"the PayTrace customer id is ERP customer {_describe(exact)}",
                )
        elif rule is LinkRule.EMAIL:
            matches = candidates.by_email
            if len(matches) == 1:
                return LinkChoice(
                    customer_id=matches[0].customer_id,
                    rule=rule.value,
                    reason=f"the only active customer with the profile's e-mail:"
                    f" {_describe(matches[0])}",
                )
            shown.update({m.customer_id: m for m in matches})
            notes.append(
                f"{len(matches)} active customers share the profile's e-mail"
                if matches
                else "no active customer has the profile's e-mail"
            )
    listed = "; candidates: " + ", ".join(_describe(c) for c in shown.values()) if shown else ""
    return LinkChoice(
        rule="none",
        reason="; ".join(notes) + listed if notes else "no link rule is configured",
        candidates=tuple(shown),
    )
