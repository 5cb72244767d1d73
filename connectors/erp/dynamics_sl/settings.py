"""Deployment settings of the SL connector and the context every SL write receives."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from connectors.erp.dynamics_sl import codes
from connectors.erp.dynamics_sl.base import SlContext, text
from connectors.erp.dynamics_sl.lookups import to_detail
from connectors.erp.dynamics_sl.rows import Account
from connectors.erp.protocol import PostingStrategy
from domain.erp_documents import CustomerDetail


def local_now() -> datetime:
    """Local time to the second (SL ``SMALLDATETIME`` keeps minutes; the stand-in keeps more)."""
    return datetime.now().replace(microsecond=0)


def split_account(value: str) -> Account:
    """``"1010"`` or ``"1010/00-000"`` as an ``Acct`` and ``Sub``."""
    acct, _, sub = value.partition("/")
    return Account(acct.strip(), sub.strip())


@dataclass(frozen=True)
class SlSettings:
    """What the connector was configured with.

    Attributes:
        cpny_id: ``CpnyID`` written on documents.
        strategy: posting strategy.
        user_id: ``Crtd_User``/``LUpd_User`` (cut to 10).
        paytrace_id_field: the ``Customer`` user field holding the PayTrace customer id.
        autopay_field: the ``Customer`` user field holding the autopay enrollment.
        card_field: the ``Customer`` user field holding the masked card on file.
        invoice_prefixes: prefixes dropped when normalizing invoice numbers.
        cash_account: bank ``Acct`` or ``Acct/Sub`` of receipts; blank: ``ARSetup.ChkAcct``.
        accounts: GL accounts by purpose (``write_off``, ``refunds``, ``bank`` ...).
        clock: the audit timestamp.
    """

    cpny_id: str = codes.DEFAULT_COMPANY
    strategy: PostingStrategy = PostingStrategy.EMULATED
    user_id: str = "tracepost"
    paytrace_id_field: str = "User1"
    autopay_field: str = "User5"
    card_field: str = "User2"
    invoice_prefixes: tuple[str, ...] = ()
    cash_account: str = ""
    accounts: Mapping[str, str] = field(default_factory=dict)
    clock: Callable[[], datetime] = local_now

    def context(self, prog: str) -> SlContext:
        """The ``SlContext`` of one write, stamped now, as screen ``prog``."""
        return SlContext(
            cpny_id=self.cpny_id,
            user_id=self.user_id[:10],
            prog=prog,
            now=self.clock(),
            strategy=self.strategy,
            accounts=dict(self.accounts),
        )

    def bank(self, setup: sa.Row[tuple[object, ...]], override: str = "") -> Account:
        """The cash (bank) account of a receipt.

        ``override`` (the receipt's own ``cash_account``), else ``cash_account``, else the
        ``undeposited`` (card clearing) account, else ``ARSetup.ChkAcct/ChkSub``; a blank
        subaccount takes ``accounts['sub']`` or ``ChkSub``.
        """
        configured = override.strip() or self.cash_account or self.accounts.get("undeposited", "")
        if configured:
            account = split_account(configured)
            sub = account.sub or self.accounts.get("sub", "") or text(setup._mapping["ChkSub"])
            return Account(account.acct, sub)
        return Account(text(setup._mapping["ChkAcct"]), text(setup._mapping["ChkSub"]))

    def account(
        self, purpose: str, setup: sa.Row[tuple[object, ...]], acct_col: str, sub_col: str
    ) -> Account:
        """A GL account by purpose: the option, else the ``ARSetup`` default columns."""
        configured = self.accounts.get(purpose, "")
        default = Account(text(setup._mapping[acct_col]), text(setup._mapping[sub_col]))
        if configured:
            account = split_account(configured)
            return Account(account.acct, account.sub or self.accounts.get("sub", "") or default.sub)
        return default


def detail(settings: SlSettings, row: sa.Row[tuple[object, ...]]) -> CustomerDetail:
    """A ``Customer`` row as ``CustomerDetail``, with the settings' user fields."""
    return to_detail(row, settings.paytrace_id_field, settings.autopay_field, settings.card_field)
