"""``STAND_IN``: the Sage 500 stand-in database and connector factory (``connectors.erp.standin``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal

import sqlalchemy as sa

from connectors.erp.locks import write_transaction
from connectors.erp.protocol import ErpConnector
from connectors.erp.sage500 import codes, customers, user_memos
from connectors.erp.sage500.connector import Sage500Connector
from connectors.erp.sage500.demo import (
    DEFAULT_COMPANY,
    SEED_USER,
    create_schema,
    invoice_batch,
    invoice_row,
    seed_demo,
)
from connectors.erp.sage500.numbering import next_surrogate_block
from connectors.erp.sage500.schema import (
    tarCustomer,
    tarInvoice,
    tciBatchLog,
    tciTranTypeCompany,
    tglFiscalPeriod,
)
from connectors.erp.sage500.settings import DEFAULT_ACCOUNTS, SageSettings, local_now
from connectors.erp.standin import ConnectorOptions, SeedResult
from domain.erp_documents import CustomerProfile


class Sage500StandIn:
    """Sage 500's ``StandIn``: schema, demo data, test helpers and ``build_connector``."""

    @property
    def erp_name(self) -> str:
        """``sage500``."""
        return "sage500"

    @property
    def default_company(self) -> str:
        """``SOA``, the demo company."""
        return DEFAULT_COMPANY

    @property
    def demo_accounts(self) -> Mapping[str, str]:
        """GL account numbers of the demo company by purpose (bank, undeposited, ar, fees...)."""
        return dict(DEFAULT_ACCOUNTS)

    def create_schema(self, engine: sa.Engine) -> None:
        """Create the stand-in tables; safe to call again."""
        create_schema(engine)

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
        """Seed a demo company (totals include the well-known rows); see ``demo.seed_demo``."""
        return seed_demo(
            engine,
            company_id=company_id,
            customers=customers,
            invoices=invoices,
            seed=seed,
            today=today,
        )

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
        """Add a customer as Maintain Customers would (address, contact), then set its status."""
        settings = SageSettings(company_id=company_id or DEFAULT_COMPANY, user_id=SEED_USER)
        customers.upsert_customer(
            engine, settings, CustomerProfile(customer_id=customer_id, name=name, email=email)
        )
        if active and not on_hold:
            return
        cust = tarCustomer.c
        with engine.begin() as conn:
            conn.execute(
                sa.update(tarCustomer)
                .where(cust.CompanyID == settings.company_id, cust.CustID == customer_id)
                .values(
                    Status=codes.CUST_STATUS_ACTIVE if active else codes.CUST_STATUS_INACTIVE,
                    Hold=1 if on_hold else 0,
                )
            )

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
        """Add a posted, open invoice to the company's posted demo invoice batch.

        Raises:
            ValueError: the customer does not exist.
        """
        company = company_id or DEFAULT_COMPANY
        now = local_now()
        with write_transaction(engine) as conn:
            cust_key = conn.execute(
                sa.select(tarCustomer.c.CustKey).where(
                    tarCustomer.c.CompanyID == company, tarCustomer.c.CustID == customer_id
                )
            ).scalar()
            if cust_key is None:
                raise ValueError(f"customer {customer_id!r} does not exist in company {company}")
            batch_key = conn.execute(
                sa.select(tciBatchLog.c.BatchKey).where(
                    tciBatchLog.c.SourceCompanyID == company,
                    tciBatchLog.c.BatchID == codes.batch_id("AR", "IN", 1),
                )
            ).scalar()
            if batch_key is None:
                batch_key = invoice_batch(conn, company, now)
            row = invoice_row(
                company_id=company,
                invc_key=next_surrogate_block(conn, "tarInvoice", 1),
                number=number,
                cust_key=int(cust_key),
                batch_key=int(batch_key),
                tran_date=invoice_date,
                due=due_date,
                total=amount,
                balance=amount,
                comment="",
                now=now,
            )
            conn.execute(sa.insert(tarInvoice), [row])
            if number.isdigit():
                tt = tciTranTypeCompany.c
                conn.execute(
                    sa.update(tciTranTypeCompany)
                    .where(
                        tt.CompanyID == company,
                        tt.TranType == codes.TRAN_TYPE_INVOICE,
                        tt.NextTranNo <= int(number),
                    )
                    .values(NextTranNo=int(number) + 1)
                )

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
        """Add a posted TranType 502 memo as a Sage user enters and posts it (``user_memos``).

        Raises:
            ValueError: the customer or the invoice does not exist, the invoice is not open, or
                the amount is not positive whole cents.
        """
        user_memos.add_credit_memo(
            engine,
            company_id=company_id,
            customer_id=customer_id,
            number=number,
            amount=amount,
            memo_date=memo_date,
            comment=comment,
            apply_to=apply_to,
        )

    def set_period_open(
        self, engine: sa.Engine, *, company_id: str, day: date, is_open: bool
    ) -> None:
        """Open or close the fiscal period covering a day.

        Raises:
            ValueError: no period covers the day.
        """
        per = tglFiscalPeriod.c
        moment = datetime.combine(day, time())
        with engine.begin() as conn:
            done = conn.execute(
                sa.update(tglFiscalPeriod)
                .where(
                    per.CompanyID == (company_id or DEFAULT_COMPANY),
                    per.StartDate <= moment,
                    per.EndDate >= moment,
                )
                .values(Status=codes.PERIOD_STATUS_OPEN if is_open else codes.PERIOD_STATUS_CLOSED)
            )
        if done.rowcount == 0:
            raise ValueError(f"no fiscal period covers {day.isoformat()}")

    def build_connector(self, engine: sa.Engine, options: ConnectorOptions) -> ErpConnector:
        """The Sage 500 connector; blank options take Sage defaults (SOA, UserFld1, 1010)."""
        return Sage500Connector(
            engine,
            company_id=options.company_id or DEFAULT_COMPANY,
            strategy=options.strategy,
            user_id=options.user_id or "tracepost",
            cash_account=options.cash_account or codes.DEFAULT_CASH_ACCOUNT,
            paytrace_id_field=options.paytrace_id_field or "UserFld1",
            autopay_field=options.autopay_field,
            card_field=options.card_field,
            invoice_prefixes=tuple(options.invoice_prefixes),
            accounts=dict(options.accounts),
            clock=options.clock or local_now,
        )


STAND_IN = Sage500StandIn()
