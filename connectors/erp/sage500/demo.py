"""The Sage 500 stand-in database: create the schema and seed deterministic demo data.

Well-known rows that the README, the tests and the demo rely on (company ``SOA`` by default):

| CustID | name               | PayTrace id (UserFld1) | invoices (number: balance)      |
|--------|--------------------|------------------------|---------------------------------|
| C0001  | Acme Supply Co.    | acme-supply            | 1001: 125.00, 1002: 80.50       |
| C0002  | Birch Hardware LLC | birch-hardware         | 1003: 1,250.00, 1004: 40.00     |

``customers`` and ``invoices`` are totals including them. Generated customers ``C0003`` upward
share the remaining invoices round-robin (numbered from 1005), with varied payment terms, due
dates and balances (some partially paid, some paid in full); each has a billing address, a primary
contact with an e-mail address, and a few are inactive or on credit hold. Rows go in with chunked
``executemany`` (no per-row round trips), so a million invoices seed in minutes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.sage500 import codes
from connectors.erp.sage500.numbering import next_surrogate_block
from connectors.erp.sage500.schema import (
    SURROGATE_KEY_TABLES,
    metadata,
    tarBatch,
    tarCustAddr,
    tarCustomer,
    tarInvoice,
    tciAddress,
    tciBatchLog,
    tciBatchTypCompany,
    tciContact,
    tciPaymentTerms,
    tciSurrogateKey,
    tciTranTypeCompany,
    tcmCashAcct,
    tglAccount,
    tglFiscalPeriod,
    tglFiscalYear,
    timItem,
    timItemDescription,
    tsmCompany,
)
from connectors.erp.standin import SeedResult, check_demo_size
from domain.money import quantize

CHUNK = 5_000
DEFAULT_COMPANY = "SOA"
FIRST_INVOICE_NO = 1001
SEED_USER = "admin"

# GLAcctNo, description, cash account id (or None when not a cash account), Status.
GL_ACCOUNTS: tuple[tuple[str, str, str | None, int], ...] = (
    ("1000", "Cash - Operating Bank", "OPERATING", 1),
    ("1010", "Undeposited Funds - Card", "CARD-CLEARING", 1),
    ("1200", "Accounts Receivable", None, 1),
    ("2400", "Sales Tax Payable", None, 1),
    ("4000", "Sales - Products", None, 1),
    ("4950", "Sales Discounts", None, 1),
    ("6100", "Credit Card Processing Fees", None, 1),
    ("6110", "Chargeback Fees", None, 1),
    ("6950", "AR Write-Offs", None, 1),
    ("6990", "Bank Charges (inactive)", None, 2),
)
# PmtTermsID, description, days.
PAYMENT_TERMS: tuple[tuple[str, str, int], ...] = (
    ("DUE", "Due on receipt", 0),
    ("NET15", "Net 15", 15),
    ("NET30", "Net 30", 30),
    ("NET45", "Net 45", 45),
    ("NET60", "Net 60", 60),
)
DEFAULT_CASH_ACCOUNT = codes.DEFAULT_CASH_ACCOUNT

# (CustID, CustName, UserFld1, [(invoice no, amount, invoice date offset, due date offset)])
WELL_KNOWN: tuple[tuple[str, str, str, tuple[tuple[int, str, int, int], ...]], ...] = (
    (
        "C0001",
        "Acme Supply Co.",
        "acme-supply",
        ((1001, "125.00", 0, 30), (1002, "80.50", -10, 20)),
    ),
    (
        "C0002",
        "Birch Hardware LLC",
        "birch-hardware",
        ((1003, "1250.00", -20, 10), (1004, "40.00", -45, -15)),
    ),
)
WELL_KNOWN_EMAIL = ("ap@acmesupply.example", "billing@birchhardware.example")
WELL_KNOWN_INVOICES = sum(len(c[3]) for c in WELL_KNOWN)

_FIRST = (
    "Cedar",
    "Delta",
    "Evergreen",
    "Falcon",
    "Granite",
    "Harbor",
    "Iron",
    "Juniper",
    "Keystone",
)
_MORE = ("Lakeside", "Maple", "Northwind", "Oak", "Pioneer", "Quarry", "Ridge", "Summit", "Timber")
_TRADE = ("Supply", "Hardware", "Builders", "Electric", "Plumbing", "Fasteners", "Tool", "Lumber")
_FORM = ("Inc.", "LLC", "Co.", "Corp.", "Ltd.")
_CITIES = (
    ("Spokane", "WA", "99201"),
    ("Boise", "ID", "83702"),
    ("Portland", "OR", "97204"),
    ("Reno", "NV", "89501"),
    ("Tucson", "AZ", "85701"),
    ("Fresno", "CA", "93721"),
)
# ItemID, short description, Status (1 active, 2 inactive).
ITEMS: tuple[tuple[str, str, int], ...] = (
    ("WIDGET-100", "Steel widget, pack of 100", 1),
    ("BOLT-316", "Stainless bolt 3/16 in", 1),
    ("GLOVES-L", "Work gloves, large", 1),
    ("GIFT-CARD", "Gift card", 1),
    ("OLD-PART", "Discontinued part", 2),
    ("WIDGET", "Widget", 1),
    ("GADGET", "Gadget", 1),
)
_STREETS = ("Main St", "Industrial Way", "Commerce Dr", "Depot Rd", "Riverside Ave", "1st Ave")
_MAILBOXES = ("ap", "accounts", "billing", "payables", "finance")


def create_schema(engine: sa.Engine) -> None:
    """Create the stand-in tables and the surrogate key counters; safe to call again.

    Args:
        engine: the ERP database.
    """
    metadata.create_all(engine, checkfirst=True)
    with engine.begin() as conn:
        present = set(conn.execute(sa.select(tciSurrogateKey.c.TableName)).scalars())
        missing = [
            {"TableName": name, "NextKey": 1}
            for name in SURROGATE_KEY_TABLES
            if name not in present
        ]
        if missing:
            conn.execute(sa.insert(tciSurrogateKey), missing)


def seed_demo(
    engine: sa.Engine,
    *,
    company_id: str = "",
    customers: int = 300,
    invoices: int = 1200,
    seed: int = 7,
    today: date | None = None,
) -> SeedResult:
    """Seed a demo company: setup rows, GL, fiscal periods, terms, customers and invoices.

    Deterministic for a given ``seed`` and ``today``. Does nothing when the company exists.

    Args:
        engine: the ERP database (the schema is created if needed).
        company_id: the Sage company to create; blank: ``SOA``.
        customers: total customers, at least 2 (C0001 and C0002 are the well-known ones).
        invoices: total invoices, at least 4 (1001-1004 are the well-known ones).
        seed: random seed of the generated rows.
        today: the demo's "today" (invoice and due dates are relative to it); default today.

    Returns:
        What was written.

    Raises:
        ValueError: for fewer than 2 customers or 4 invoices, or invoices without customers to
            carry them.
    """
    check_demo_size(customers, invoices)
    if customers == len(WELL_KNOWN) and invoices > WELL_KNOWN_INVOICES:
        raise ValueError("seed_demo: more invoices than the well-known ones need more customers")
    company = company_id or DEFAULT_COMPANY
    today = today or date.today()
    create_schema(engine)
    with engine.begin() as conn:
        exists = conn.execute(
            sa.select(tsmCompany.c.CompanyID).where(tsmCompany.c.CompanyID == company)
        ).first()
        if exists is not None:
            return SeedResult(created=False)
        seeder = _Seeder(conn, company, random.Random(seed), today)  # noqa: S311 - demo data
        return seeder.run(customers, invoices)


def _dt(day: date) -> datetime:
    return datetime.combine(day, time())


class _Seeder:
    """Writes one demo company inside one transaction."""

    def __init__(self, conn: sa.Connection, company_id: str, rng: random.Random, today: date):
        self.conn = conn
        self.company = company_id
        self.rng = rng
        self.today = today
        self.now = _dt(today)
        self.terms_key = 0

    def run(self, customers: int, invoices: int) -> SeedResult:
        last_invoice_no = FIRST_INVOICE_NO + invoices - 1
        self._setup(last_invoice_no)
        self._ledger()
        self._terms()
        self._items()
        batch_key = invoice_batch(self.conn, self.company, self.now)
        cust_key = next_surrogate_block(self.conn, "tarCustomer", customers)
        addr_key = next_surrogate_block(self.conn, "tciAddress", customers)
        cntct_key = next_surrogate_block(self.conn, "tciContact", customers)
        invc_key = next_surrogate_block(self.conn, "tarInvoice", invoices)
        ctx = _Keys(cust_key, addr_key, cntct_key, invc_key, FIRST_INVOICE_NO, batch_key)
        for table, rows in (
            (tciAddress, self._addresses(customers, ctx)),
            (tarCustAddr, self._cust_addrs(customers, ctx)),
            (tciContact, self._contacts(customers, ctx)),
            (tarCustomer, self._customers(customers, ctx)),
            (tarInvoice, self._invoices(customers, invoices, ctx)),
        ):
            _insert_chunked(self.conn, table, rows)
        return SeedResult(created=True, customers=customers, invoices=invoices)

    # --- setup -------------------------------------------------------------------------------

    def _setup(self, last_invoice_no: int) -> None:
        c = self.company
        self.conn.execute(
            sa.insert(tsmCompany), [{"CompanyID": c, "CompanyName": f"{c} Demo Company"}]
        )
        self.conn.execute(
            sa.insert(tciBatchTypCompany),
            [
                {
                    "CompanyID": c,
                    "BatchType": batch_type,
                    "BatchTypeID": type_id,
                    "NextBatchNo": nxt,
                }
                for batch_type, type_id, nxt in (
                    (codes.BATCH_TYPE_AR_INVOICE, "IN", 2),
                    (codes.BATCH_TYPE_CASH_RECEIPT, "CR", 1),
                    (codes.BATCH_TYPE_WRITE_OFF, "WO", 1),
                    (codes.BATCH_TYPE_GL_JOURNAL, "JE", 1),
                )
            ],
        )
        self.conn.execute(
            sa.insert(tciTranTypeCompany),
            [
                {"CompanyID": c, "TranType": tran_type, "TranTypeID": type_id, "NextTranNo": nxt}
                for tran_type, type_id, nxt in (
                    (codes.TRAN_TYPE_INVOICE, "IN", last_invoice_no + 1),
                    (codes.TRAN_TYPE_CREDIT_MEMO, "CM", 1),
                    (codes.TRAN_TYPE_CUST_PMT, "PA", 1),
                    (codes.TRAN_TYPE_GL_JOURNAL, "JE", 1),
                    (codes.TRAN_TYPE_SALES_ORDER, "SO", 1),
                )
            ],
        )

    def _ledger(self) -> None:
        c = self.company
        gl_key = next_surrogate_block(self.conn, "tglAccount", len(GL_ACCOUNTS))
        cash = [a for a in GL_ACCOUNTS if a[2]]
        cash_key = next_surrogate_block(self.conn, "tcmCashAcct", len(cash))
        accounts = []
        cash_rows: list[dict[str, Any]] = []
        for i, (acct_no, description, cash_id, status) in enumerate(GL_ACCOUNTS):
            accounts.append(
                {
                    "GLAcctKey": gl_key + i,
                    "CompanyID": c,
                    "GLAcctNo": acct_no,
                    "Description": description,
                    "NaturalAcctKey": None,
                    "Status": status,
                }
            )
            if cash_id:
                cash_rows.append(
                    {
                        "CashAcctKey": cash_key + len(cash_rows),
                        "CompanyID": c,
                        "CashAcctID": cash_id,
                        "Description": description,
                        "GLAcctKey": gl_key + i,
                    }
                )
        self.conn.execute(sa.insert(tglAccount), accounts)
        self.conn.execute(sa.insert(tcmCashAcct), cash_rows)
        years = (self.today.year - 1, self.today.year, self.today.year + 1)
        self.conn.execute(
            sa.insert(tglFiscalYear),
            [{"CompanyID": c, "FiscYear": str(y), "NoOfPeriods": 12} for y in years],
        )
        periods = []
        for year in years:
            for month in range(1, 13):
                start = date(year, month, 1)
                end = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
                periods.append(
                    {
                        "CompanyID": c,
                        "FiscYear": str(year),
                        "FiscPer": month,
                        "StartDate": _dt(start),
                        "EndDate": _dt(end),
                        # The prior fiscal year is closed; this year and next are open.
                        "Status": codes.PERIOD_STATUS_CLOSED
                        if year < self.today.year
                        else codes.PERIOD_STATUS_OPEN,
                    }
                )
        self.conn.execute(sa.insert(tglFiscalPeriod), periods)

    def _items(self) -> None:
        first = next_surrogate_block(self.conn, "timItem", len(ITEMS))
        self.conn.execute(
            sa.insert(timItem),
            [
                {"ItemKey": first + i, "CompanyID": self.company, "ItemID": item_id, "Status": st}
                for i, (item_id, _, st) in enumerate(ITEMS)
            ],
        )
        self.conn.execute(
            sa.insert(timItemDescription),
            [
                {"ItemKey": first + i, "LanguageID": 1033, "ShortDesc": description}
                for i, (_, description, _) in enumerate(ITEMS)
            ],
        )

    def _terms(self) -> None:
        self.terms_key = next_surrogate_block(self.conn, "tciPaymentTerms", len(PAYMENT_TERMS))
        self.conn.execute(
            sa.insert(tciPaymentTerms),
            [
                {
                    "PmtTermsKey": self.terms_key + i,
                    "CompanyID": self.company,
                    "PmtTermsID": terms_id,
                    "Description": description,
                    "DueDayOrMonth": days,
                }
                for i, (terms_id, description, days) in enumerate(PAYMENT_TERMS)
            ],
        )

    # --- customers -----------------------------------------------------------------------------

    def _customer_profile(self, index: int) -> tuple[str, str, str | None, int, int]:
        """CustID, name, PayTrace id, Status and Hold of customer ``index`` (0-based)."""
        cust_id = f"C{index + 1:04d}"
        if index < len(WELL_KNOWN):
            _, known_name, known_pt_id, _ = WELL_KNOWN[index]
            return cust_id, known_name, known_pt_id, codes.CUST_STATUS_ACTIVE, 0
        rng = self.rng
        name = f"{rng.choice(_FIRST)} {rng.choice(_MORE)} {rng.choice(_TRADE)} {rng.choice(_FORM)}"
        paytrace_id = f"pt-{index + 1:06d}" if index % 3 == 0 else None
        roll = rng.random()
        status = codes.CUST_STATUS_INACTIVE if roll < 0.04 else codes.CUST_STATUS_ACTIVE
        hold = 1 if 0.04 <= roll < 0.08 else 0
        return cust_id, name, paytrace_id, status, hold

    def _addresses(self, customers: int, k: _Keys) -> Iterator[dict[str, Any]]:
        for i in range(customers):
            city, state, postal = _CITIES[i % len(_CITIES)]
            yield {
                "AddrKey": k.addr + i,
                "AddrName": None,
                "AddrLine1": f"{100 + (i * 37) % 9800} {_STREETS[i % len(_STREETS)]}",
                "AddrLine2": f"Suite {100 + i % 400}" if i % 5 == 0 else None,
                "AddrLine3": None,
                "AddrLine4": None,
                "AddrLine5": None,
                "City": city,
                "StateID": state,
                "PostalCode": postal,
                "CountryID": "USA",
                "UpdateCounter": 0,
            }

    def _cust_addrs(self, customers: int, k: _Keys) -> Iterator[dict[str, Any]]:
        for i in range(customers):
            # NET30 for the well-known customers, a spread of terms for the others.
            terms = 2 if i < len(WELL_KNOWN) else (i * 7) % len(PAYMENT_TERMS)
            yield {
                "AddrKey": k.addr + i,
                "CustKey": k.cust + i,
                "CustAddrID": f"C{i + 1:04d}",
                "PmtTermsKey": self.terms_key + terms,
            }

    def _contacts(self, customers: int, k: _Keys) -> Iterator[dict[str, Any]]:
        for i in range(customers):
            cust_id = f"C{i + 1:04d}"
            if i < len(WELL_KNOWN):
                email = WELL_KNOWN_EMAIL[i]
            else:
                email = f"{_MAILBOXES[i % len(_MAILBOXES)]}+{cust_id.lower()}@customers.example"
            yield {
                "CntctKey": k.cntct + i,
                "CntctOwnerKey": k.cust + i,
                "EntityType": codes.ENTITY_TYPE_CUSTOMER,
                "Name": "Accounts Payable",
                "Title": None,
                "Phone": f"509-555-{i % 10000:04d}",
                "Fax": None,
                "EMailAddr": email,
                "CreateDate": self.now,
                "CreateUserID": SEED_USER,
                "UpdateDate": self.now,
                "UpdateUserID": SEED_USER,
                "UpdateCounter": 0,
            }

    def _customers(self, customers: int, k: _Keys) -> Iterator[dict[str, Any]]:
        for i in range(customers):
            cust_id, name, paytrace_id, status, hold = self._customer_profile(i)
            yield {
                "CustKey": k.cust + i,
                "CompanyID": self.company,
                "CustID": cust_id,
                "CustName": name[:40],
                "Status": status,
                "Hold": hold,
                "CustClassKey": None,
                "CreditLimit": Decimal("25000.000"),
                "PrimaryAddrKey": k.addr + i,
                "DfltBillToAddrKey": k.addr + i,
                "DfltShipToAddrKey": k.addr + i,
                "PrimaryCntctKey": k.cntct + i,
                "CustRefNo": None,
                "UserFld1": paytrace_id,
                "UserFld2": None,
                "UserFld3": None,
                "UserFld4": None,
                "DateEstab": _dt(self.today - timedelta(days=365 * 3)),
                "CreateDate": self.now,
                "CreateUserID": SEED_USER,
                "UpdateDate": self.now,
                "UpdateUserID": SEED_USER,
                "UpdateCounter": 0,
                "CreateType": codes.CREATE_TYPE_STANDARD,
            }

    # --- invoices ------------------------------------------------------------------------------

    def _invoices(self, customers: int, invoices: int, k: _Keys) -> Iterator[dict[str, Any]]:
        seq = 0
        for i, (_, _, _, known) in enumerate(WELL_KNOWN):
            for number, amount, date_offset, due_offset in known:
                tran_date = self.today + timedelta(days=date_offset)
                due = self.today + timedelta(days=due_offset)
                total = Decimal(amount)
                terms = f"Net {(due - tran_date).days}"
                yield self._invoice(k, seq, number, k.cust + i, tran_date, due, total, total, terms)
                seq += 1
        rng = self.rng
        generated = customers - len(WELL_KNOWN)
        for n in range(invoices - WELL_KNOWN_INVOICES):
            cust_index = len(WELL_KNOWN) + n % generated
            tran_date = self.today - timedelta(days=rng.randint(0, 120))
            days = PAYMENT_TERMS[rng.randrange(len(PAYMENT_TERMS))][2]
            total = Decimal(rng.randint(2_500, 750_000)) / 100
            roll = rng.random()
            if roll < 0.10:
                balance = Decimal("0")  # paid in full
            elif roll < 0.30:
                balance = (total * Decimal(rng.randint(10, 90)) / 100).quantize(Decimal("0.01"))
            else:
                balance = total
            number = k.first_no + seq
            due = tran_date + timedelta(days=days)
            yield self._invoice(
                k, seq, number, k.cust + cust_index, tran_date, due, total, balance, f"Net {days}"
            )
            seq += 1

    def _invoice(
        self,
        k: _Keys,
        seq: int,
        number: int,
        cust_key: int,
        tran_date: date,
        due: date,
        total: Decimal,
        balance: Decimal,
        terms: str,
    ) -> dict[str, Any]:
        return invoice_row(
            company_id=self.company,
            invc_key=k.invc + seq,
            number=str(number),
            cust_key=cust_key,
            batch_key=k.batch,
            tran_date=tran_date,
            due=due,
            total=total,
            balance=balance,
            comment=terms,
            now=self.now,
        )


def invoice_row(
    *,
    company_id: str,
    invc_key: int,
    number: str,
    cust_key: int,
    batch_key: int | None,
    tran_date: date,
    due: date,
    total: Decimal,
    balance: Decimal,
    comment: str,
    now: datetime,
    user_id: str = SEED_USER,
) -> dict[str, Any]:
    """A posted AR invoice (``tarInvoice``, TranType 501) as the invoice posting leaves it."""
    no = codes.tran_no(number)
    amount = quantize(total, 3)
    open_amount = quantize(balance, 3)
    return {
        "InvcKey": invc_key,
        "CompanyID": company_id,
        "TranID": codes.tran_id(no, "IN"),
        "TranNo": no,
        "TranType": codes.TRAN_TYPE_INVOICE,
        "CustKey": cust_key,
        "BatchKey": batch_key,
        "TranDate": _dt(tran_date),
        "PostDate": _dt(tran_date),
        "DueDate": _dt(due),
        "DiscDate": None,
        "TranAmt": amount,
        "TranAmtHC": amount,
        "Balance": open_amount,
        "BalanceHC": open_amount,
        "SalesAmt": amount,
        "STaxAmt": Decimal("0.000"),
        "DiscAmt": Decimal("0.000"),
        "CurrID": "USD",
        "CurrExchRate": 1,
        "Status": codes.DOC_STATUS_OPEN,
        "SourceModule": codes.MODULE_AR,
        "CustPONo": f"PO-{number}"[:15],
        "TranCmnt": comment,
        "CreateDate": now,
        "CreateUserID": user_id,
        "UpdateDate": None,
        "UpdateUserID": None,
        "UpdateCounter": 0,
        "CreateType": codes.CREATE_TYPE_STANDARD,
    }


def invoice_batch(conn: sa.Connection, company_id: str, now: datetime) -> int:
    """One posted AR invoice batch (type 501) that seeded invoices come from; its key."""
    key = next_surrogate_block(conn, "tciBatchLog", 1)
    conn.execute(
        sa.insert(tciBatchLog),
        [
            {
                "BatchKey": key,
                "BatchID": codes.batch_id("AR", "IN", 1),
                "BatchNo": 1,
                "BatchType": codes.BATCH_TYPE_AR_INVOICE,
                "Status": codes.BATCH_STATUS_POSTED,
                "PostStatus": codes.POST_STATUS_COMPLETE,
                "SourceCompanyID": company_id,
                "PostCompanyID": company_id,
                "BatchCmnt": "Demo invoices",
                "PostDate": now,
                "NextSeqNo": 1,
                "RgstrPrinted": 1,
                "CreateDate": now,
                "CreateUserID": SEED_USER,
                "UpdateCounter": 0,
            }
        ],
    )
    conn.execute(
        sa.insert(tarBatch),
        [
            {
                "BatchKey": key,
                "CashAcctKey": None,
                "BatchCmnt": "Demo invoices",
                "PostDate": now,
                "Hold": 0,
                "Private": 0,
                "SourceModule": codes.MODULE_AR,
            }
        ],
    )
    return key


@dataclass(frozen=True)
class _Keys:
    """First keys of the blocks reserved for one seeding run."""

    cust: int
    addr: int
    cntct: int
    invc: int
    first_no: int
    batch: int


def _insert_chunked(conn: sa.Connection, table: sa.Table, rows: Iterator[dict[str, Any]]) -> None:
    """Insert rows with ``executemany`` in chunks, so memory stays flat at any volume."""
    chunk: list[dict[str, Any]] = []
    insert = sa.insert(table)
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            conn.execute(insert, chunk)
            chunk = []
    if chunk:
        conn.execute(insert, chunk)
