"""The Dynamics SL stand-in database: schema, deterministic demo data, test helpers.

Well-known rows (company ``0010`` by default; PayTrace id in ``Customer.User1``):

| CustId | Name               | User1          | invoices (RefNbr: DocBal)                |
|--------|--------------------|----------------|------------------------------------------|
| C0001  | Acme Supply Co.    | acme-supply    | 001001: 125.00, 001002: 80.50            |
| C0002  | Birch Hardware LLC | birch-hardware | 001003: 1,250.00, 001004: 40.00          |

Generated customers ``C0003`` upward (companies, and people as ``Last~First``), with addresses,
e-mail, terms, a few inactive (Status I) or on credit hold (H), and released invoices (``ARDoc``
IN, Rlsed 1) numbered on from 001005: most open, some partly paid, some paid (OpenDoc 0).
``AR_Balances.CurrBal`` holds each customer's open total. Chunked ``executemany`` keeps large
volumes feasible.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.dynamics_sl import codes, ledger, ledger_schema, user_memos
from connectors.erp.dynamics_sl.ar_schema import (
    AR_Balances,
    ARDoc,
    ARSetup,
    Customer,
    SOAddress,
    Terms,
)
from connectors.erp.dynamics_sl.base import (
    Batch,
    GLSetup,
    metadata,
    money,
    pad,
    period_of,
    text,
    to_float,
)
from connectors.erp.dynamics_sl.connector import DynamicsSlConnector
from connectors.erp.dynamics_sl.rows import blank_row
from connectors.erp.dynamics_sl.settings import local_now
from connectors.erp.protocol import ErpConnector
from connectors.erp.standin import ConnectorOptions, SeedResult, check_demo_size

CHUNK = 5_000
SEED_USER = "SYSADMIN"
SEED_PROG = "08010"
INVOICE_BATCH = "000001"
FIRST_INVOICE = 1001
REF_DIGITS = 6
_ = ledger_schema  # its tables belong to the same metadata

WELL_KNOWN: tuple[tuple[str, str, str, str, tuple[tuple[int, str, int, int], ...]], ...] = (
    (
        "C0001",
        "Acme Supply Co.",
        "acme-supply",
        "ap@acme-supply.example",
        ((1001, "125.00", 0, 30), (1002, "80.50", -10, 20)),
    ),
    (
        "C0002",
        "Birch Hardware LLC",
        "birch-hardware",
        "billing@birch-hardware.example",
        ((1003, "1250.00", -20, 10), (1004, "40.00", -45, -15)),
    ),
)
TERMS = (
    ("00", "Due on receipt", 0),
    ("15", "Net 15", 15),
    ("30", "Net 30", 30),
    ("45", "Net 45", 45),
    ("60", "Net 60", 60),
)
_FIRST = ("Cedar", "Delta", "Evergreen", "Falcon", "Granite", "Harbor", "Iron", "Juniper")
_MORE = ("Lakeside", "Maple", "Northwind", "Oak", "Pioneer", "Quarry", "Ridge", "Summit")
_TRADE = ("Supply", "Hardware", "Builders", "Electric", "Plumbing", "Fasteners", "Lumber")
_FORM = ("Inc.", "LLC", "Co.", "Corp.")
_PEOPLE_FIRST = ("Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hugo")
_PEOPLE_LAST = ("Ortiz", "Nguyen", "Smith", "Kowalski", "Haddad", "Larsen", "Okafor")
_CITIES = (
    ("Spokane", "WA", "99201"),
    ("Boise", "ID", "83702"),
    ("Portland", "OR", "97204"),
    ("Reno", "NV", "89501"),
    ("Tucson", "AZ", "85701"),
    ("Fresno", "CA", "93721"),
)


_BLANK_CUSTOMER = blank_row(Customer)
_BLANK_SOADDRESS = blank_row(SOAddress)
_BLANK_ARDOC = blank_row(ARDoc)


def _dt(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _audit(now: datetime, prog: str = SEED_PROG) -> dict[str, Any]:
    return {
        "Crtd_DateTime": now,
        "Crtd_Prog": pad(prog, 8),
        "Crtd_User": pad(SEED_USER, 10),
        "LUpd_DateTime": now,
        "LUpd_Prog": pad(prog, 8),
        "LUpd_User": pad(SEED_USER, 10),
    }


def ref_nbr(number: int) -> str:
    """An invoice number as SL's counter stores it: zero-padded to 6 digits (``001001``)."""
    return str(number).zfill(REF_DIGITS)


def create_schema(engine: sa.Engine) -> None:
    """Create the stand-in tables (AR, GL, cross-reference); safe to call again."""
    metadata.create_all(engine, checkfirst=True)


def _insert_chunked(conn: sa.Connection, table: sa.Table, rows: Iterator[dict[str, Any]]) -> None:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            conn.execute(sa.insert(table), chunk)
            chunk = []
    if chunk:
        conn.execute(sa.insert(table), chunk)


def customer_row(
    cust_id: str,
    name: str,
    *,
    status: str,
    email: str,
    now: datetime,
    index: int,
    paytrace_id: str = "",
    terms: str = "30",
) -> dict[str, Any]:
    """A ``Customer`` row as Customer Maintenance (08.260) saves it."""
    city, state, zip_code = _CITIES[index % len(_CITIES)]
    street = f"{100 + (index * 37) % 9800} Main St"
    return _BLANK_CUSTOMER | {
        "CustId": pad(cust_id, 15),
        "Name": pad(name, 60),
        "Addr1": pad(street, 60),
        "Addr2": pad("", 60),
        "City": pad(city, 30),
        "State": pad(state, 3),
        "Zip": pad(zip_code, 10),
        "Country": pad("USA", 3),
        "Phone": pad(f"509555{index % 10000:04d}", 30),
        "EMailAddr": pad(email, 80),
        "BillName": pad(name, 60),
        "BillAddr1": pad(street, 60),
        "BillCity": pad(city, 30),
        "BillState": pad(state, 3),
        "BillZip": pad(zip_code, 10),
        "BillCountry": pad("USA", 3),
        "ArAcct": pad("1200", 10),
        "ArSub": pad(ledger.DEMO_ACCOUNTS["sub"], 24),
        "ClassId": pad("DEFLT", 6),
        "CrLmt": 25000.0,
        "CuryId": pad(codes.CURY_ID, 4),
        "DfltShipToId": pad(codes.DEFAULT_SHIP_TO, 10),
        "Status": status,
        "StmtType": "O",
        "Terms": pad(terms, 2),
        "SetupDate": now,
        "User1": pad(paytrace_id, 30),
        **_audit(now, "08260"),
    }


def ship_to_row(cust: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The default ``SOAddress`` of a customer row."""
    return _BLANK_SOADDRESS | {
        "CustId": cust["CustId"],
        "ShipToId": pad(codes.DEFAULT_SHIP_TO, 10),
        "Descr": pad("Default", 30),
        "Name": cust["Name"],
        "Addr1": cust["Addr1"],
        "City": cust["City"],
        "State": cust["State"],
        "Zip": cust["Zip"],
        "Country": cust["Country"],
        "Phone": cust["Phone"],
        "EMailAddr": cust["EMailAddr"],
        "Status": codes.CUST_ACTIVE,
        **_audit(now, "08260"),
    }


def invoice_row(
    cust_id: str,
    number: str,
    seq: int,
    *,
    amount: Decimal,
    balance: Decimal,
    doc_date: date,
    due: date,
    terms: str,
    per_post: str,
    now: datetime,
    cpny_id: str = codes.DEFAULT_COMPANY,
) -> dict[str, Any]:
    """A released invoice (``ARDoc`` IN, Rlsed 1) of the seeded invoice batch."""
    open_doc = 1 if balance > 0 else 0
    return _BLANK_ARDOC | {
        "CustId": pad(cust_id, 15),
        "DocType": codes.DOC_INVOICE,
        "RefNbr": pad(number, 10),
        "BatNbr": pad(INVOICE_BATCH, 10),
        "BatSeq": seq,
        "CpnyID": pad(cpny_id, 10),
        "CuryId": pad(codes.CURY_ID, 4),
        "CuryMultDiv": codes.CURY_MULT,
        "CuryRate": 1.0,
        "OrigDocAmt": to_float(amount),
        "CuryOrigDocAmt": to_float(amount),
        "DocBal": to_float(balance),
        "CuryDocBal": to_float(balance),
        "DocDate": _dt(doc_date),
        "DueDate": _dt(due),
        "DiscDate": _dt(doc_date),
        "DocClass": codes.DOC_CLASS_NORMAL,
        "DocDesc": pad(f"Invoice {number}", 30),
        "OpenDoc": open_doc,
        "PerEnt": pad(per_post, 6),
        "PerPost": pad(per_post, 6),
        "PerClosed": pad("" if open_doc else per_post, 6),
        "Rlsed": 1,
        "Status": codes.DOC_STATUS_ACTIVE,
        "Terms": pad(terms, 2),
        "CustOrdNbr": pad(f"PO-{number}", 25),
        **_audit(now),
    }


class DynamicsSlStandIn:
    """``StandIn`` of Dynamics SL."""

    @property
    def erp_name(self) -> str:
        """``dynamics_sl``."""
        return codes.ERP_NAME

    @property
    def default_company(self) -> str:
        """``0010``."""
        return codes.DEFAULT_COMPANY

    @property
    def demo_accounts(self) -> Mapping[str, str]:
        """GL accounts of the demo chart by purpose (the ledger side's ``DEMO_ACCOUNTS``)."""
        return {k: v for k, v in ledger.DEMO_ACCOUNTS.items() if k != "sub"}

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
        """Seed the demo company (totals include the well-known rows); no-op when seeded.

        Raises:
            ValueError: fewer than 2 customers or 4 invoices.
        """
        check_demo_size(customers, invoices)
        today = today or date.today()
        cpny = company_id or codes.DEFAULT_COMPANY
        create_schema(engine)
        with engine.begin() as conn:
            if conn.execute(sa.select(ARSetup.c.SetupId)).first() is not None:
                return SeedResult(created=False)
            ledger.seed_ledger(conn, cpny, today)
            _Seeder(conn, cpny, random.Random(seed), today).run(customers, invoices)  # noqa: S311
        return SeedResult(created=True, customers=customers, invoices=invoices)

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
        """Add a customer as Customer Maintenance would."""
        now = local_now()
        status = (
            codes.CUST_INACTIVE
            if not active
            else (codes.CUST_CREDIT_HOLD if on_hold else codes.CUST_ACTIVE)
        )
        row = customer_row(customer_id, name, status=status, email=email, now=now, index=0)
        with engine.begin() as conn:
            conn.execute(sa.insert(Customer), [row])
            conn.execute(sa.insert(SOAddress), [ship_to_row(row, now)])

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
        """Add a released, open invoice of the customer to the seeded invoice batch."""
        now = local_now()
        with engine.begin() as conn:
            setup = conn.execute(sa.select(GLSetup)).one()
            seq = conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(ARDoc.c.BatSeq), 0)).where(
                    ARDoc.c.BatNbr == pad(INVOICE_BATCH, 10)
                )
            ).scalar_one()
            per_post = period_of(setup, invoice_date)[0]
            row = invoice_row(
                customer_id,
                number,
                int(seq) + 1,
                amount=amount,
                balance=amount,
                doc_date=invoice_date,
                due=due_date,
                terms="30",
                per_post=per_post,
                now=now,
                cpny_id=company_id or codes.DEFAULT_COMPANY,
            )
            conn.execute(sa.insert(ARDoc), [row])
            _add_balance(conn, company_id or codes.DEFAULT_COMPANY, customer_id, amount, now)

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
        """Enter and release a credit memo as an SL user would (``user_memos``).

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
        """Close or open the period of a day by moving ``ARSetup``/``GLSetup.PerNbr``.

        SL closes periods by advancing the current period: closing moves it past the day's
        period, opening rewinds it to that period.
        """
        with engine.begin() as conn:
            setup = conn.execute(sa.select(GLSetup)).one()
            per, _, end = period_of(setup, day)
            following = period_of(setup, end + timedelta(days=1))[0]
            for table in (ARSetup, GLSetup):
                current = text(conn.execute(sa.select(table.c.PerNbr)).scalar_one())
                if is_open and current > per:
                    value = per
                elif not is_open and current <= per:
                    value = following
                else:
                    continue
                conn.execute(sa.update(table).values(PerNbr=value))

    def build_connector(self, engine: sa.Engine, options: ConnectorOptions) -> ErpConnector:
        """The SL connector; blank options take the SL defaults.

        CpnyID ``0010``, PayTrace id in ``Customer.User1``, the demo chart's accounts
        (receipts to ``undeposited`` 1010, default subaccount ``000000``).
        """
        return DynamicsSlConnector(
            engine,
            company_id=options.company_id or codes.DEFAULT_COMPANY,
            strategy=options.strategy,
            user_id=options.user_id,
            paytrace_id_field=options.paytrace_id_field or "User1",
            autopay_field=options.autopay_field,
            card_field=options.card_field,
            invoice_prefixes=options.invoice_prefixes,
            cash_account=options.cash_account,
            accounts={**ledger.DEMO_ACCOUNTS, **options.accounts},
            clock=options.clock or local_now,
        )


def _add_balance(
    conn: sa.Connection, cpny: str, cust_id: str, amount: Decimal, now: datetime
) -> None:
    b = AR_Balances.c
    where = (b.CpnyID == pad(cpny, 10), b.CustID == pad(cust_id, 15))
    current = conn.execute(sa.select(b.CurrBal).where(*where)).first()
    if current is None:
        conn.execute(
            sa.insert(AR_Balances),
            [
                blank_row(AR_Balances)
                | {
                    "CpnyID": pad(cpny, 10),
                    "CustID": pad(cust_id, 15),
                    "CurrBal": to_float(amount),
                    "CuryID": pad(codes.CURY_ID, 4),
                    "LastInvcDate": now,
                    "LastActDate": now,
                    **_audit(now),
                }
            ],
        )
    else:
        conn.execute(
            sa.update(AR_Balances)
            .where(*where)
            .values(CurrBal=to_float(money(current[0]) + amount), LastInvcDate=now)
        )


class _Seeder:
    def __init__(self, conn: sa.Connection, cpny: str, rng: random.Random, today: date) -> None:
        self.conn, self.cpny, self.rng, self.today = conn, cpny, rng, today
        self.now = _dt(today)
        self.gl = conn.execute(sa.select(GLSetup)).one()
        self.balances: dict[str, Decimal] = defaultdict(Decimal)
        self.statuses: list[str] = []

    def run(self, customers: int, invoices: int) -> None:
        per = period_of(self.gl, self.today)[0]
        last_ref = ref_nbr(FIRST_INVOICE + invoices - 1)
        self._setup(per, last_ref)
        _insert_chunked(
            self.conn,
            Terms,
            iter(
                [
                    blank_row(Terms)
                    | {
                        "TermsId": pad(t, 2),
                        "Descr": pad(d, 30),
                        "TermsType": "S",
                        "DueType": "D",
                        "DueIntrv": days,
                        "ApplyTo": "B",
                        **_audit(self.now, "21270"),
                    }
                    for t, d, days in TERMS
                ]
            ),
        )
        cust_rows = list(self._customers(customers))
        _insert_chunked(self.conn, Customer, iter(cust_rows))
        _insert_chunked(self.conn, SOAddress, (ship_to_row(c, self.now) for c in cust_rows))
        ids = [text(c["CustId"]) for c in cust_rows]
        del cust_rows
        _insert_chunked(self.conn, ARDoc, self._invoices(ids, invoices))
        total = sum(self.balances.values(), Decimal(0))
        self.conn.execute(
            sa.insert(Batch),
            [
                blank_row(Batch)
                | {
                    "Module": codes.MODULE_AR,
                    "BatNbr": pad(INVOICE_BATCH, 10),
                    "CpnyID": pad(self.cpny, 10),
                    "BatType": codes.BAT_TYPE_NORMAL,
                    "Status": codes.BATCH_POSTED,
                    "Rlsed": 1,
                    "EditScrnNbr": codes.SCREEN_INVOICES,
                    "JrnlType": pad("AR", 3),
                    "LedgerID": self.gl.LedgerID,
                    "PerPost": pad(per, 6),
                    "PerEnt": pad(per, 6),
                    "Descr": pad("Demo invoices", 30),
                    "CuryId": pad(codes.CURY_ID, 4),
                    "CtrlTot": to_float(total),
                    "CuryCtrlTot": to_float(total),
                    "DrTot": to_float(total),
                    "CuryDrTot": to_float(total),
                    "DateEnt": self.now,
                    **_audit(self.now),
                }
            ],
        )
        _insert_chunked(
            self.conn,
            AR_Balances,
            (
                blank_row(AR_Balances)
                | {
                    "CpnyID": pad(self.cpny, 10),
                    "CustID": pad(cust, 15),
                    "CurrBal": to_float(self.balances.get(cust, Decimal(0))),
                    "CuryID": pad(codes.CURY_ID, 4),
                    "LastInvcDate": self.now,
                    "LastActDate": self.now,
                    "PerNbr": pad(per, 6),
                    **_audit(self.now),
                }
                for cust in ids
            ),
        )

    def _setup(self, per: str, last_ref: str) -> None:
        sub = ledger.DEMO_ACCOUNTS["sub"]
        self.conn.execute(
            sa.insert(ARSetup),
            [
                blank_row(ARSetup)
                | {
                    "SetupId": codes.SETUP_ID_AR,
                    "ArAcct": pad("1200", 10),
                    "ArSub": pad(sub, 24),
                    "ChkAcct": pad("1010", 10),
                    "ChkSub": pad(sub, 24),
                    "PrePayAcct": pad("2100", 10),
                    "PrePaySub": pad(sub, 24),
                    "DfltSBWOAcct": pad("6950", 10),
                    "DfltSBWOSub": pad(sub, 24),
                    "DfltNSFAcct": pad("1010", 10),
                    "DfltNSFSub": pad(sub, 24),
                    "DiscAcct": pad("4000", 10),
                    "DiscSub": pad(sub, 24),
                    "RfndAcct": pad("1010", 10),
                    "RfndSub": pad(sub, 24),
                    "AutoRef": 1,
                    "AutoNSF": 0,
                    "CurrPerNbr": pad(per, 6),
                    "PerNbr": pad(per, 6),
                    "PerRetTran": 2,
                    "LastBatNbr": pad(INVOICE_BATCH, 10),
                    "LastRefNbr": pad(last_ref, 10),
                    "LastCrMemoNbr": pad("000000", 10),
                    "LastDrMemoNbr": pad("000000", 10),
                    "LastFinChrgRefNbr": pad("000000", 10),
                    "LastWORefNbr": pad("000000", 10),
                    "SBLimit": 5.0,
                    "GLPostOpt": "D",
                    "DfltClass": pad("DEFLT", 6),
                    **_audit(self.now, "08950"),
                }
            ],
        )

    def _customers(self, count: int) -> Iterator[dict[str, Any]]:
        rng = self.rng
        for i in range(count):
            cust_id = f"C{i + 1:04d}"
            if i < len(WELL_KNOWN):
                _, name, pt_id, email, _ = WELL_KNOWN[i]
                self.statuses.append(codes.CUST_ACTIVE)
                yield customer_row(
                    cust_id,
                    name,
                    status=codes.CUST_ACTIVE,
                    email=email,
                    now=self.now,
                    index=i,
                    paytrace_id=pt_id,
                )
                continue
            if rng.random() < 0.25:
                name = f"{rng.choice(_PEOPLE_LAST)}~{rng.choice(_PEOPLE_FIRST)}"
                email = f"{name.split('~')[1].lower()}.{i + 1}@example.com"
            else:
                name = (
                    f"{rng.choice(_FIRST)} {rng.choice(_MORE)} {rng.choice(_TRADE)}"
                    f" {rng.choice(_FORM)}"
                )
                email = f"ar{i + 1}@{name.split()[0].lower()}-{i + 1}.example"
            roll = rng.random()
            status = (
                codes.CUST_INACTIVE
                if roll < 0.04
                else codes.CUST_CREDIT_HOLD
                if roll < 0.08
                else codes.CUST_ACTIVE
            )
            pt_id = f"pt-{i + 1:06d}" if i % 3 == 0 else ""
            terms = TERMS[rng.randrange(len(TERMS))][0]
            yield customer_row(
                cust_id,
                name,
                status=status,
                email=email,
                now=self.now,
                index=i,
                paytrace_id=pt_id,
                terms=terms,
            )

    def _invoices(self, ids: list[str], count: int) -> Iterator[dict[str, Any]]:
        seq = 0
        for i, (_, _, _, _, invoices) in enumerate(WELL_KNOWN):
            for number, amount, date_offset, due_offset in invoices:
                seq += 1
                doc_date = self.today + timedelta(days=date_offset)
                total = Decimal(amount)
                self.balances[ids[i]] += total
                yield invoice_row(
                    ids[i],
                    ref_nbr(number),
                    seq,
                    amount=total,
                    balance=total,
                    doc_date=doc_date,
                    due=self.today + timedelta(days=due_offset),
                    terms="30",
                    per_post=period_of(self.gl, doc_date)[0],
                    now=self.now,
                    cpny_id=self.cpny,
                )
        generated = ids[len(WELL_KNOWN) :] or ids
        rng = self.rng
        periods: dict[date, str] = {}
        for n in range(count - seq):
            cust = generated[n % len(generated)]
            number = FIRST_INVOICE + seq
            seq += 1
            doc_date = self.today - timedelta(days=rng.randint(0, 120))
            if doc_date not in periods:
                periods[doc_date] = period_of(self.gl, doc_date)[0]
            terms, _, days = TERMS[rng.randrange(len(TERMS))]
            total = Decimal(rng.randint(2_500, 750_000)) / 100
            roll = rng.random()
            if roll < 0.10:
                balance = Decimal("0.00")
            elif roll < 0.30:
                balance = (total * rng.randint(10, 90) / 100).quantize(Decimal("0.01"))
            else:
                balance = total
            self.balances[cust] += balance
            yield invoice_row(
                cust,
                ref_nbr(number),
                seq,
                amount=total,
                balance=balance,
                doc_date=doc_date,
                due=doc_date + timedelta(days=days),
                terms=terms,
                per_post=periods[doc_date],
                now=self.now,
                cpny_id=self.cpny,
            )


__all__ = ["DynamicsSlStandIn", "create_schema", "ref_nbr"]
