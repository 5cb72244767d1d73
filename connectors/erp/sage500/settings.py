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
USER_FIELDS = PAYTRACE_ID_FIELDS
DEFAULT_AUTOPAY_FIELD = "UserFld2"
DEFAULT_CARD_FIELD = "UserFld3"


def customer_user_fields(
    paytrace_id_field: str, autopay_field: str = "", card_field: str = ""
) -> tuple[str, str]:
    """The autopay and card-on-file user fields, defaults filled in.

    A blank field takes its default (``UserFld2`` autopay, ``UserFld3`` card) unless another
    purpose holds it, then the highest-numbered free user field.

    Args:
        paytrace_id_field: the PayTrace customer id field (already validated).
        autopay_field: the configured autopay field, or blank.
        card_field: the configured card-on-file field, or blank.

    Returns:
        ``(autopay_field, card_field)``.

    Raises:
        ValueError: a field is not a ``tarCustomer`` user field, or two purposes share one.
    """
    for purpose, name in (("autopay", autopay_field), ("card on file", card_field)):
        if name and name not in USER_FIELDS:
            raise ValueError(
                f"tarCustomer.{name} cannot hold the {purpose}: use one of {', '.join(USER_FIELDS)}"
            )
    taken = {paytrace_id_field, autopay_field, card_field} - {""}
    chosen: list[str] = []
    for name, default in ((autopay_field, DEFAULT_AUTOPAY_FIELD), (card_field, DEFAULT_CARD_FIELD)):
        if not name:
            free = [f for f in (default, *reversed(USER_FIELDS)) if f not in taken]
            name = free[0]
            taken.add(name)
        chosen.append(name)
    fields = [paytrace_id_field, *chosen]
    if len(set(fields)) != len(fields):
        raise ValueError(
            "the PayTrace id, autopay and card-on-file fields must be three different"
            f" tarCustomer user fields, not {', '.join(fields)}"
        )
    return chosen[0], chosen[1]


@dataclass(frozen=True)
class SageSettings:
    """What a ``Sage500Connector`` was configured with.

    Attributes:
        company_id: ``CompanyID`` whose rows are read and written.
        strategy: how written batches get posted.
        user_id: the user written into audit columns (at most 30 characters).
        paytrace_id_field: the ``tarCustomer`` column holding the PayTrace customer id.
        autopay_field: the user field holding the autopay enrollment (blank: ``UserFld2``,
            filled in by ``__post_init__``; see ``customer_user_fields``).
        card_field: the user field holding the masked card on file (blank: ``UserFld3``).
        invoice_prefixes: prefixes dropped when normalizing invoice numbers.
        cash_account: ``tglAccount.GLAcctNo`` of the ``tcmCashAcct`` receipts go to.
        accounts: GL account numbers by purpose (see ``DEFAULT_ACCOUNTS``).
        clock: the audit timestamp source.
    """

    company_id: str = "SOA"
    strategy: PostingStrategy = PostingStrategy.EMULATED
    user_id: str = "tracepost"
    paytrace_id_field: str = "UserFld1"
    autopay_field: str = ""
    card_field: str = ""
    invoice_prefixes: tuple[str, ...] = ()
    cash_account: str = codes.DEFAULT_CASH_ACCOUNT
    accounts: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ACCOUNTS))
    clock: Callable[[], datetime] = local_now

    def __post_init__(self) -> None:
        """Refuse a PayTrace id field that is not one of ``tarCustomer``'s user fields.

        Also fills in and checks the autopay and card-on-file fields (``customer_user_fields``).

        Only ``UserFld1``-``UserFld4`` are free for integrations: pointing the setting at a real
        column (``CustName``, ``CustID``) would overwrite customer data with PayTrace ids.
        """
        if self.paytrace_id_field not in PAYTRACE_ID_FIELDS:
            raise ValueError(
                f"tarCustomer.{self.paytrace_id_field} cannot hold the PayTrace id: use one of"
                f" {', '.join(PAYTRACE_ID_FIELDS)}"
            )
        autopay, card = customer_user_fields(
            self.paytrace_id_field, self.autopay_field, self.card_field
        )
        object.__setattr__(self, "autopay_field", autopay)
        object.__setattr__(self, "card_field", card)

    @property
    def user(self) -> str:
        """``user_id`` cut to Sage's ``varchar(30)``."""
        return self.user_id[:30]

    def account(self, purpose: str) -> str:
        """The GL account number configured for a purpose, else the default."""
        return self.accounts.get(purpose) or DEFAULT_ACCOUNTS[purpose]
