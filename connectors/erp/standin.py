"""What every ERP package offers besides its connector: a stand-in database and a factory.

``tracepost erp init``, the dev stack, the tests and the benchmarks use these, so a second ERP
plugs in without any of them knowing its tables. Each ERP package (``connectors.erp.sage500``,
``connectors.erp.dynamics_sl``) exposes a module-level ``STAND_IN`` satisfying ``StandIn``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

import sqlalchemy as sa

from connectors.erp.protocol import ErpConnector, PostingStrategy


@dataclass(frozen=True)
class SeedResult:
    """What ``seed_demo`` did.

    Attributes:
        created: False when the company already had data and nothing was written.
        customers: customers written.
        invoices: invoices written.
    """

    created: bool
    customers: int = 0
    invoices: int = 0


@dataclass(frozen=True)
class ConnectorOptions:
    """Deployment options every ERP connector takes; blank means the ERP's own default.

    Attributes:
        company_id: Sage ``CompanyID`` / SL ``CpnyID``; blank: the stand-in's demo company.
        strategy: how written batches get posted.
        user_id: the user written into audit columns.
        paytrace_id_field: the customer column holding the PayTrace customer id.
        autopay_field: the customer user field holding the autopay enrollment (blank: Sage
            ``UserFld2``, Dynamics SL ``User5``; another free user field when that one holds
            the PayTrace id).
        card_field: the customer user field holding the masked card on file (blank: Sage
            ``UserFld3``, Dynamics SL ``User2``; likewise).
        invoice_prefixes: prefixes dropped when normalizing invoice numbers.
        cash_account: the GL (Sage ``GLAcctNo``) or bank (SL ``Acct``) account of receipts; a
            receipt's own ``CashReceipt.cash_account`` wins over it.
        accounts: GL account numbers by purpose (``bank``, ``undeposited``, ``ar``,
            ``card_fees``, ``chargeback_fees``, ``write_off``; Dynamics SL also ``refunds`` and
            ``sub``, the default subaccount); missing purposes use the ERP's default.
        clock: audit timestamp source; local time without microseconds by default.
    """

    company_id: str = ""
    strategy: PostingStrategy = PostingStrategy.EMULATED
    user_id: str = "tracepost"
    paytrace_id_field: str = ""
    autopay_field: str = ""
    card_field: str = ""
    invoice_prefixes: tuple[str, ...] = ()
    cash_account: str = ""
    accounts: dict[str, str] = field(default_factory=dict)
    clock: Callable[[], datetime] | None = None


# The well-known rows every stand-in seeds first (see ``StandIn.seed_demo``).
WELL_KNOWN_CUSTOMERS = 2
WELL_KNOWN_INVOICES = 4


def check_demo_size(customers: int, invoices: int) -> None:
    """Refuse a demo size that cannot hold the well-known rows.

    Args:
        customers: customers asked for, in total.
        invoices: invoices asked for, in total.

    Raises:
        ValueError: with fewer than 2 customers or 4 invoices.
    """
    if customers < WELL_KNOWN_CUSTOMERS or invoices < WELL_KNOWN_INVOICES:
        raise ValueError(
            f"seed_demo needs customers >= {WELL_KNOWN_CUSTOMERS} and invoices >="
            f" {WELL_KNOWN_INVOICES} (the well-known demo rows)"
        )


class StandIn(Protocol):
    """An ERP's stand-in database (SQLite/PostgreSQL) and its connector factory."""

    @property
    def erp_name(self) -> str:
        """``sage500`` or ``dynamics_sl``."""
        ...

    @property
    def default_company(self) -> str:
        """The demo company id (``SOA``, ``0010``)."""
        ...

    @property
    def demo_accounts(self) -> Mapping[str, str]:
        """GL account numbers of the demo company by purpose.

        Purposes: ``bank``, ``undeposited`` (card clearing), ``ar``, ``card_fees``,
        ``chargeback_fees``, ``write_off``, as ``JournalLine.account`` takes them.
        """
        ...

    def create_schema(self, engine: sa.Engine) -> None:
        """Create the stand-in tables; safe to call again."""
        ...

    def seed_demo(
        self,
        engine: sa.Engine,
        *,
        company_id: str = "",
        customers: int = 300,
        invoices: int = 1200,
        seed: int = 7,
        today: date | None = None,
    ) -> SeedResult:
        """Seed a demo company; the well-known customers and invoices come first.

        Well-known rows in every ERP: ``C0001`` (PayTrace id ``acme-supply``) with invoices 1001
        (125.00) and 1002 (80.50); ``C0002`` (``birch-hardware``) with 1003 (1250.00) and 1004
        (40.00). ``customers`` and ``invoices`` are totals including them. Does nothing when the
        company exists.
        """
        ...

    def add_customer(
        self,
        engine: sa.Engine,
        *,
        company_id: str,
        customer_id: str,
        name: str,
        active: bool = True,
        on_hold: bool = False,
        email: str = "",
    ) -> None:
        """Add a customer as an ERP user would (tests and demos)."""
        ...

    def add_invoice(
        self,
        engine: sa.Engine,
        *,
        company_id: str,
        customer_id: str,
        number: str,
        amount: Decimal,
        invoice_date: date,
        due_date: date,
    ) -> None:
        """Add a posted, open invoice as an ERP user would (tests and demos)."""
        ...

    def add_credit_memo(
        self,
        engine: sa.Engine,
        *,
        company_id: str,
        customer_id: str,
        number: str,
        amount: Decimal,
        memo_date: date,
        comment: str,
        apply_to: str = "",
    ) -> None:
        """Add a posted credit memo as an ERP user enters and posts it (tests and demos).

        What the ERP's own screens and posting leave: Sage 500 a posted ``tarInvoice`` row of
        TranType 502 with negative amounts and balance; Dynamics SL a released ``ARDoc`` CM.
        When ``apply_to`` names an open invoice of the customer, the memo is applied to it (up to
        its balance) the way posting / release records it, lowering that invoice's balance. The
        demo uses it for memos flagged ``REFUND PT <id>``.

        Args:
            engine: the stand-in database.
            company_id: the company; blank: the demo company.
            customer_id: the customer credited.
            number: the memo's number as the user keys it (Sage ``TranNo``, SL ``RefNbr``).
            amount: the memo amount, positive, whole cents.
            memo_date: the memo date.
            comment: the memo's comment (Sage ``TranCmnt``, SL ``DocDesc``), cut to its column.
            apply_to: the visible number of the invoice it pays, or blank (left open).

        Raises:
            ValueError: the customer or the invoice does not exist, the invoice is not open, or
                the amount is not positive.
        """
        ...

    def set_period_open(
        self, engine: sa.Engine, *, company_id: str, day: date, is_open: bool
    ) -> None:
        """Open or close the fiscal period covering a day (tests)."""
        ...

    def build_connector(self, engine: sa.Engine, options: ConnectorOptions) -> ErpConnector:
        """The ERP's connector for a database."""
        ...


def stand_in(erp: str) -> StandIn:
    """The stand-in of an ERP by short name.

    Args:
        erp: ``sage500`` or ``dynamics_sl``.

    Returns:
        Its ``StandIn``.

    Raises:
        ValueError: for an unknown ERP.
    """
    if erp == "sage500":
        from connectors.erp.sage500 import STAND_IN as SAGE

        return SAGE
    if erp == "dynamics_sl":
        from connectors.erp.dynamics_sl import STAND_IN as SL

        return SL
    raise ValueError(f"unknown ERP {erp!r}: expected sage500 or dynamics_sl")


ERP_NAMES = ("sage500", "dynamics_sl")
