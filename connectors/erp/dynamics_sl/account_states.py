"""Whether the GL accounts a mapping names exist and can take postings (``mapping check``).

An account string is what the ``accounts`` and ``cash_account`` options take: ``Acct`` or
``Acct/Sub``. ``Account.Active`` (and ``SubAcct.Active`` for a subaccount the string names)
decide, ``Active <> 0`` being active as SL's own ``ACCOUNT_sactive`` lists it, the rule the
ledger checks apply (``ledger_checks.check_accounts``). SL's chart of accounts has no company
column: it is the application database's.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from connectors.erp.dynamics_sl.base import pad, text
from connectors.erp.dynamics_sl.ledger_schema import Account, SubAcct
from connectors.erp.xref import chunked
from domain.erp_documents import AccountState

ACCT_WIDTH = 10
SUB_WIDTH = 24


def gl_account_states(conn: sa.Connection, accounts: Sequence[str]) -> dict[str, AccountState]:
    """The state of each account string, keyed by the strings given.

    Args:
        conn: a connection.
        accounts: ``"1010"`` or ``"1010/000000"``-like strings.

    Returns:
        ``MISSING`` when the account or the subaccount it names does not exist (or the string is
        blank, or too wide for ``Acct`` char 10 / ``Sub`` char 24), else ``INACTIVE`` when either
        is inactive, else ``ACTIVE``; one entry per distinct string.
    """
    wanted = list(dict.fromkeys(accounts))
    parts = {account: _split(account) for account in wanted}
    accts = sorted({acct for acct, _ in parts.values() if _fits(acct, ACCT_WIDTH)})
    subs = sorted({sub for _, sub in parts.values() if sub and _fits(sub, SUB_WIDTH)})
    acct_active = _active(conn, Account, Account.c.Acct, accts, ACCT_WIDTH)
    sub_active = _active(conn, SubAcct, SubAcct.c.Sub, subs, SUB_WIDTH)
    states: dict[str, AccountState] = {}
    for account, (acct, sub) in parts.items():
        flags = [acct_active.get(acct)] + ([sub_active.get(sub)] if sub else [])
        if not _fits(acct, ACCT_WIDTH) or any(flag is None for flag in flags):
            states[account] = AccountState.MISSING
        elif all(flags):
            states[account] = AccountState.ACTIVE
        else:
            states[account] = AccountState.INACTIVE
    return states


def _split(account: str) -> tuple[str, str]:
    acct, _, sub = account.strip().partition("/")
    return acct.strip(), sub.strip()


def _fits(value: str, width: int) -> bool:
    return 0 < len(value) <= width


def _active(
    conn: sa.Connection,
    table: sa.Table,
    column: sa.Column[str],
    values: list[str],
    width: int,
) -> dict[str, bool]:
    """``Active <> 0`` of each value found, by stripped value."""
    found: dict[str, bool] = {}
    for chunk in chunked(values):
        rows = conn.execute(
            sa.select(column, table.c.Active).where(column.in_([pad(v, width) for v in chunk]))
        )
        for row in rows:
            found[text(row[0])] = int(row.Active) != 0
    return found
