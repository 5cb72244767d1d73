"""The deployment settings every Sage 500 operation reads (company, user, accounts, clock)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from connectors.erp.protocol import PostingStrategy
from connectors.erp.sage500 import codes

ERP_LABEL = "Sage 500"

# GL accounts by purpose when the deployment does not name them (the demo chart of accounts).
DEFAULT_ACCOUNTS: Mapping[str, str] = {
    "bank": "1000",
    "undeposited": codes.DEFAULT_CASH_ACCOUNT,
    "ar": "1200",
    "card_fees": "6100",
    "chargeback_fees": "6110",
    "write_off": "6950",
}


def local_now() -> datetime:
    """Local server time without microseconds, like ``GETDATE()`` in a ``datetime`` column."""
    return datetime.now().replace(microsecond=0)


PAYTRACE_ID_FIELDS = tuple(f"UserFld{i}" for i in range(1, 5))


@dataclass(frozen=True)
class SageSettings:
    """What a ``Sage500Connector`` was configured with.

    Attributes:
        company_id: ``CompanyID`` whose rows are read and written.
        strategy: how written batches get posted.
        user_id: the user written into audit columns (at most 30 characters).
        paytrace_id_field: the ``tarCustomer`` column holding the PayTrace customer id.
        invoice_prefixes: prefixes dropped when normalizing invoice numbers.
        cash_account: ``tglAccount.GLAcctNo`` of the ``tcmCashAcct`` receipts go to.
        accounts: GL account numbers by purpose (see ``DEFAULT_ACCOUNTS``).
        clock: the audit timestamp source.
    """

    company_id: str = "SOA"
    strategy: PostingStrategy = PostingStrategy.EMULATED
    user_id: str = "tracepost"
    paytrace_id_field: str = "UserFld1"
    invoice_prefixes: tuple[str, ...] = ()
    cash_account: str = codes.DEFAULT_CASH_ACCOUNT
    accounts: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ACCOUNTS))
    clock: Callable[[], datetime] = local_now

    def __post_init__(self) -> None:
        """Refuse a PayTrace id field that is not one of ``tarCustomer``'s user fields.

        Only ``UserFld1``-``UserFld4`` are free for integrations: pointing the setting at a real
        column (``CustName``, ``CustID``) would overwrite customer data with PayTrace ids.
        """
        if self.paytrace_id_field not in PAYTRACE_ID_FIELDS:
            raise ValueError(
                f"tarCustomer.{self.paytrace_id_field} cannot hold the PayTrace id: use one of"
                f" {', '.join(PAYTRACE_ID_FIELDS)}"
            )

    @property
    def user(self) -> str:
        """``user_id`` cut to Sage's ``varchar(30)``."""
        return self.user_id[:30]

    def account(self, purpose: str) -> str:
        """The GL account number configured for a purpose, else the default."""
        return self.accounts.get(purpose) or DEFAULT_ACCOUNTS[purpose]
