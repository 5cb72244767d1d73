"""Whether the GL accounts a mapping names exist and can take postings (``mapping check``).

Read from ``tglAccount`` of the connector's company, by the unformatted ``GLAcctNo`` the
``accounts`` and ``cash_account`` options take. ``Status`` 1 is active, any other value is not:
the rule every posting check of this adapter applies (``validation.ACCOUNT_ACTIVE``). Whether
an account is also set up as a cash account (``tcmCashAcct``) is the receipt write's check, not
this one's.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from connectors.erp.guard import erp_guard
from connectors.erp.sage500.schema import tglAccount
from connectors.erp.sage500.settings import ERP_LABEL, SageSettings
from connectors.erp.sage500.validation import ACCOUNT_ACTIVE
from connectors.erp.xref import chunked
from domain.erp_documents import AccountState


def gl_account_states(
    engine: sa.Engine, s: SageSettings, accounts: Sequence[str]
) -> dict[str, AccountState]:
    """The state of each GL account number, keyed by the strings given.

    Args:
        engine: the Sage database.
        s: the connector settings (company).
        accounts: ``GLAcctNo`` values; surrounding blanks are ignored, a blank one is missing.

    Returns:
        ``ACTIVE`` (Status 1), ``INACTIVE`` (another Status) or ``MISSING`` (no such account in
        the company), one entry per distinct string.
    """
    wanted = list(dict.fromkeys(accounts))
    numbers = sorted({a.strip() for a in wanted if a.strip()})
    acct = tglAccount.c
    status: dict[str, int] = {}
    with erp_guard(ERP_LABEL, "gl_account_states"), engine.connect() as conn:
        for chunk in chunked(numbers):
            for row in conn.execute(
                sa.select(acct.GLAcctNo, acct.Status).where(
                    acct.CompanyID == s.company_id, acct.GLAcctNo.in_(list(chunk))
                )
            ):
                status[str(row.GLAcctNo).strip()] = int(row.Status)
    return {account: _state(status.get(account.strip())) for account in wanted}


def _state(status: int | None) -> AccountState:
    if status is None:
        return AccountState.MISSING
    return AccountState.ACTIVE if status == ACCOUNT_ACTIVE else AccountState.INACTIVE
