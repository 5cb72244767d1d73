"""Business checks before a GL batch is written; every failure is final (not retryable)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.dynamics_sl.base import (
    GLSetup,
    SlContext,
    fiscal_period,
    pad,
    period_of,
    text,
)
from connectors.erp.dynamics_sl.ledger_rows import ZERO, GlLine
from connectors.erp.dynamics_sl.ledger_schema import Account, SubAcct
from connectors.erp.errors import (
    ClosedPeriodError,
    ErpBusinessError,
    MissingGlAccountError,
    UnbalancedEntryError,
)
from domain.erp_documents import JournalEntry
from domain.money import quantize

SETUP_ID_GL = "GL"
DEFAULT_SUB_KEY = "sub"


def split_account(value: str, ctx: SlContext, *, sub: str = "") -> tuple[str, str]:
    """An ``Acct`` and ``Sub`` from ``"1010"``, ``"1010/000000"`` or an explicit subaccount.

    A blank subaccount falls back to ``ctx.accounts["sub"]`` (the company's default subaccount).

    Args:
        value: the account as configured or carried by a journal line.
        ctx: holds the default subaccount.
        sub: an explicit subaccount (wins over one inside ``value``).

    Returns:
        ``(acct, sub)``, stripped.

    Raises:
        MissingGlAccountError: when no subaccount can be determined, or the account is blank.
    """
    acct, _, inline_sub = value.strip().partition("/")
    chosen = sub.strip() or inline_sub.strip() or ctx.accounts.get(DEFAULT_SUB_KEY, "").strip()
    if not acct.strip():
        raise MissingGlAccountError("a GL line has no account number")
    if not chosen:
        raise MissingGlAccountError(
            f"GL account {acct.strip()} has no subaccount: give one on the line, as"
            " 'acct/sub', or configure the default subaccount (accounts['sub'])"
        )
    return acct.strip(), chosen


def account_for(purpose: str, ctx: SlContext) -> tuple[str, str]:
    """The ``(Acct, Sub)`` configured for a purpose such as ``bank`` or ``undeposited``.

    Raises:
        MissingGlAccountError: when the purpose has no account configured.
    """
    value = ctx.accounts.get(purpose, "")
    if not value.strip():
        raise MissingGlAccountError(
            f"no GL account is configured for {purpose!r} (Dynamics SL accounts setting)"
        )
    return split_account(value, ctx)


def journal_lines(entry: JournalEntry, ctx: SlContext) -> tuple[GlLine, ...]:
    """Validate a journal entry's lines and round them to SL's 2 places.

    Raises:
        UnbalancedEntryError: no lines, a line with both or neither side, a negative amount, or
            debits that differ from credits after rounding.
        MissingGlAccountError: a line without account or subaccount.
    """
    if not entry.lines:
        raise UnbalancedEntryError(f"journal entry {entry.key} has no lines")
    lines = []
    for number, line in enumerate(entry.lines, start=1):
        debit, credit = quantize(line.debit, 2), quantize(line.credit, 2)
        if debit < ZERO or credit < ZERO or (debit > ZERO) == (credit > ZERO):
            raise UnbalancedEntryError(
                f"journal entry {entry.key}, line {number}: exactly one of debit ({line.debit})"
                f" and credit ({line.credit}) must be above zero"
            )
        acct, sub = split_account(line.account, ctx, sub=line.subaccount)
        lines.append(GlLine(acct, sub, debit, credit, line.memo.strip()))
    debits = sum((line.debit for line in lines), ZERO)
    credits = sum((line.credit for line in lines), ZERO)
    if debits != credits:
        raise UnbalancedEntryError(
            f"journal entry {entry.key} is out of balance: debits {debits}, credits {credits}"
        )
    return tuple(lines)


def check_accounts(conn: sa.Connection, pairs: set[tuple[str, str]]) -> None:
    """Refuse accounts or subaccounts that are missing or inactive (``Active`` 0).

    SL's own ``ACCOUNT_sactive`` lists an account as active when ``Active <> 0``.

    Raises:
        MissingGlAccountError: naming every bad account and subaccount.
    """
    accts = sorted({acct for acct, _ in pairs})
    subs = sorted({sub for _, sub in pairs})
    acct_active = {
        text(row.Acct): int(row.Active)
        for row in conn.execute(
            sa.select(Account.c.Acct, Account.c.Active).where(
                Account.c.Acct.in_([pad(a, 10) for a in accts])
            )
        )
    }
    sub_active = {
        text(row.Sub): int(row.Active)
        for row in conn.execute(
            sa.select(SubAcct.c.Sub, SubAcct.c.Active).where(
                SubAcct.c.Sub.in_([pad(s, 24) for s in subs])
            )
        )
    }
    problems = [
        f"account {a} {'is inactive' if a in acct_active else 'does not exist'}"
        for a in accts
        if not acct_active.get(a)
    ]
    problems += [
        f"subaccount {s} {'is inactive' if s in sub_active else 'does not exist'}"
        for s in subs
        if not sub_active.get(s)
    ]
    if problems:
        raise MissingGlAccountError("Dynamics SL GL: " + "; ".join(problems))


def gl_account_exists(conn: sa.Connection, acct: str) -> bool:
    """True when the GL account exists and is active.

    Args:
        conn: a connection.
        acct: ``Acct`` (an ``"acct/sub"`` value checks the subaccount as well).

    Returns:
        Whether a GL line may use it.
    """
    number, _, sub = acct.strip().partition("/")
    if not number:
        return False
    active = conn.execute(
        sa.select(Account.c.Active).where(Account.c.Acct == pad(number, 10))
    ).scalar()
    if active is None or int(active) == 0:
        return False
    if not sub.strip():
        return True
    sub_active = conn.execute(
        sa.select(SubAcct.c.Active).where(SubAcct.c.Sub == pad(sub.strip(), 24))
    ).scalar()
    return sub_active is not None and int(sub_active) != 0


def read_setup(conn: sa.Connection) -> sa.Row[Any]:
    """The ``GLSetup`` row (SetupId ``GL``).

    Raises:
        ErpBusinessError: when the GL module is not set up.
    """
    row = conn.execute(sa.select(GLSetup).where(GLSetup.c.SetupId == SETUP_ID_GL)).first()
    if row is None:
        raise ErpBusinessError("Dynamics SL General Ledger is not set up (no GLSetup row)")
    return row


def open_period(setup: sa.Row[Any], day: date, what: str) -> str:
    """The ``PerPost`` of a date whose period is open for GL, else ``ClosedPeriodError``.

    Args:
        setup: the ``GLSetup`` row (its ``PerNbr`` is GL's current period).
        day: the document date.
        what: the document, for the message.

    Returns:
        ``YYYYPP``.
    """
    try:
        period = fiscal_period(setup, day, text(setup.PerNbr))
    except ValueError as exc:
        raise ClosedPeriodError(f"{what}: no fiscal period covers {day.isoformat()}") from exc
    per_post = period_of(setup, day)[0]
    if not period.open:
        raise ClosedPeriodError(
            f"{what}: fiscal period {period.label} is closed in Dynamics SL General Ledger"
            f" (current period {text(setup.PerNbr)}); {day.isoformat()} cannot be posted"
        )
    return per_post


def total_debits(lines: tuple[GlLine, ...]) -> Decimal:
    """The batch total (debits, equal to credits)."""
    return sum((line.debit for line in lines), ZERO)
