"""The Sage 500 stand-in database: create the schema and seed deterministic demo data.

Well-known rows that the README, the tests and the demo rely on (company ``SOA`` by default):

| CustID | name               | PayTrace id (UserFld1) | invoices (number: balance)      |
|--------|--------------------|------------------------|---------------------------------|
| C0001  | Acme Supply Co.    | acme-supply            | 1001: 125.00, 1002: 80.50       |
| C0002  | Birch Hardware LLC | birch-hardware         | 1003: 1,250.00, 1004: 40.00     |

Generated customers ``C0003`` upward get ``invoices_per_customer`` invoices numbered from 1005,
with varied terms, due dates and balances (some partially paid, some paid in full), a few inactive
or on credit hold. Rows go in with chunked ``executemany`` so large volumes stay feasible.
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
    tciSurrogateKey,
    tciTranTypeCompany,
    tcmCashAcct,
    tglAccount,
    tglFiscalPeriod,
    tglFiscalYear,
    tsmCompany,
)
from domain.money import quantize

CHUNK = 5_000
FIRST_INVOICE_NO = 1001
SEED_USER = "admin"

# GLAcctNo, description, cash account id (or None when not a cash account).
GL_ACCOUNTS: tuple[tuple[str, str, str | None], ...] = (
    ("1000", "Cash - Operating", "OPERATING"),
    ("1010", "Undeposited Funds - Card", "CARD-CLEARING"),
    ("1200", "Accounts Receivable", None),
    ("4950", "Sales Discounts", None),
    ("6950", "AR Write-Offs", None),
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
_TERMS = ((0, "Due on receipt"), (15, "Net 15"), (30, "Net 30"), (45, "Net 45"), (60, "Net 60"))


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
    company_id: str = "SOA",
    customers: int = 50,
    invoices_per_customer: int = 4,
    seed: int = 7,
    today: date | None = None,
) -> SeedResult:
    """Seed a demo company: setup rows, GL accounts, fiscal periods, customers and invoices.

    Deterministic for a given ``seed`` and ``today``. Does nothing when the company exists.

    Args:
        engine: the ERP database (the schema is created if needed).
        company_id: the Sage company to create.
        customers: number of customers, at least 2 (C0001 and C0002 are the well-known ones).
        invoices_per_customer: invoices of each generated customer (C0003 upward).
        seed: random seed of the generated rows.
        today: the demo's "today" (invoice and due dates are relative to it); default today.

    Returns:
        What was written.

    Raises:
        ValueError: if fewer than 2 customers or a negative invoice count is asked for.
    """
    if customers < len(WELL_KNOWN) or invoices_per_customer < 0:
        raise ValueError("seed_demo needs customers >= 2 and invoices_per_customer >= 0")
    today = today or date.today()
    create_schema(engine)
    with engine.begin() as conn:
        exists = conn.execute(
            sa.select(tsmCompany.c.CompanyID).where(tsmCompany.c.CompanyID == company_id)
        ).first()
        if exists is not None:
            return SeedResult(created=False)
        seeder = _Seeder(conn, company_id, random.Random(seed), today)  # noqa: S311 - demo data
        return seeder.run(customers, invoices_per_customer)


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

    def run(self, customers: int, invoices_per_customer: int) -> SeedResult:
        generated = customers - len(WELL_KNOWN)
        invoice_count = sum(len(c[3]) for c in WELL_KNOWN) + generated * invoices_per_customer
        last_invoice_no = FIRST_INVOICE_NO + invoice_count - 1
        self._setup(last_invoice_no)
        self._ledger()
        batch_key = self._invoice_batch()
        cust_key = next_surrogate_block(self.conn, "tarCustomer", customers)
        addr_key = next_surrogate_block(self.conn, "tciAddress", customers)
        invc_key = next_surrogate_block(self.conn, "tarInvoice", max(invoice_count, 1))
        ctx = _Keys(cust_key, addr_key, invc_key, FIRST_INVOICE_NO, batch_key)
        for table, rows in (
            (tciAddress, self._addresses(customers, ctx)),
            (tarCustAddr, self._cust_addrs(customers, ctx)),
            (tarCustomer, self._customers(customers, ctx)),
            (tarInvoice, self._invoices(customers, invoices_per_customer, ctx)),
        ):
            _insert_chunked(self.conn, table, rows)
        return SeedResult(created=True, customers=customers, invoices=invoice_count)

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
                    "BatchType": codes.BATCH_TYPE_AR_INVOICE,
                    "BatchTypeID": "IN",
                    "NextBatchNo": 2,
                },
                {
                    "CompanyID": c,
                    "BatchType": codes.BATCH_TYPE_CASH_RECEIPT,
                    "BatchTypeID": "CR",
                    "NextBatchNo": 1,
                },
            ],
        )
        self.conn.execute(
            sa.insert(tciTranTypeCompany),
            [
                {
                    "CompanyID": c,
                    "TranType": codes.TRAN_TYPE_INVOICE,
                    "TranTypeID": "IN",
                    "NextTranNo": last_invoice_no + 1,
                },
                {
                    "CompanyID": c,
                    "TranType": codes.TRAN_TYPE_CUST_PMT,
                    "TranTypeID": "PA",
                    "NextTranNo": 1,
                },
            ],
        )

    def _ledger(self) -> None:
        c = self.company
        gl_key = next_surrogate_block(self.conn, "tglAccount", len(GL_ACCOUNTS))
        cash = [a for a in GL_ACCOUNTS if a[2]]
        cash_key = next_surrogate_block(self.conn, "tcmCashAcct", len(cash))
        accounts = []
        cash_rows: list[dict[str, Any]] = []
        for i, (acct_no, description, cash_id) in enumerate(GL_ACCOUNTS):
            accounts.append(
                {
                    "GLAcctKey": gl_key + i,
                    "CompanyID": c,
                    "GLAcctNo": acct_no,
                    "Description": description,
                    "NaturalAcctKey": None,
                    "Status": 1,
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
                        "Status": 2 if year < self.today.year else 1,
                    }
                )
        self.conn.execute(sa.insert(tglFiscalPeriod), periods)

    def _invoice_batch(self) -> int:
        """One posted AR invoice batch (type 501) that the seeded invoices came from."""
        key = next_surrogate_block(self.conn, "tciBatchLog", 1)
        self.conn.execute(
            sa.insert(tciBatchLog),
            [
                {
                    "BatchKey": key,
                    "BatchID": codes.batch_id("AR", "IN", 1),
                    "BatchNo": 1,
                    "BatchType": codes.BATCH_TYPE_AR_INVOICE,
                    "Status": codes.BATCH_STATUS_POSTED,
                    "PostStatus": codes.POST_STATUS_COMPLETE,
                    "SourceCompanyID": self.company,
                    "PostCompanyID": self.company,
                    "BatchCmnt": "Demo invoices",
                    "PostDate": self.now,
                    "NextSeqNo": 1,
                    "RgstrPrinted": 1,
                    "CreateDate": self.now,
                    "CreateUserID": SEED_USER,
                    "UpdateCounter": 0,
                }
            ],
        )
        self.conn.execute(
            sa.insert(tarBatch),
            [
                {
                    "BatchKey": key,
                    "CashAcctKey": None,
                    "BatchCmnt": "Demo invoices",
                    "PostDate": self.now,
                    "Hold": 0,
                    "Private": 0,
                    "SourceModule": codes.MODULE_AR,
                }
            ],
        )
        return key

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
                "AddrLine1": f"{100 + (i * 37) % 9800} Main St",
                "AddrLine2": None,
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
            yield {"AddrKey": k.addr + i, "CustKey": k.cust + i, "CustAddrID": "MAIN"}

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
                "PrimaryCntctKey": None,
                "CustRefNo": None,
                "UserFld1": paytrace_id,
                "UserFld2": None,
                "UserFld3": None,
                "UserFld4": None,
                "DateEstab": _dt(self.today - timedelta(days=365 * 3)),
                "CreateDate": self.now,
                "CreateUserID": SEED_USER,
                "UpdateDate": None,
                "UpdateUserID": None,
                "UpdateCounter": 0,
                "CreateType": codes.CREATE_TYPE_STANDARD,
            }

    # --- invoices ------------------------------------------------------------------------------

    def _invoices(self, customers: int, per_customer: int, k: _Keys) -> Iterator[dict[str, Any]]:
        seq = 0
        for i, (_, _, _, invoices) in enumerate(WELL_KNOWN):
            for number, amount, date_offset, due_offset in invoices:
                tran_date = self.today + timedelta(days=date_offset)
                due = self.today + timedelta(days=due_offset)
                total = Decimal(amount)
                terms = f"Net {(due - tran_date).days}"
                yield self._invoice(k, seq, number, k.cust + i, tran_date, due, total, total, terms)
                seq += 1
        rng = self.rng
        for i in range(len(WELL_KNOWN), customers):
            for _ in range(per_customer):
                tran_date = self.today - timedelta(days=rng.randint(0, 120))
                days, terms = rng.choice(_TERMS)
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
                    k, seq, number, k.cust + i, tran_date, due, total, balance, terms
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
        no = codes.tran_no(number)
        amount = quantize(total, 3)
        open_amount = quantize(balance, 3)
        return {
            "InvcKey": k.invc + seq,
            "CompanyID": self.company,
            "TranID": codes.tran_id(no, "IN"),
            "TranNo": no,
            "TranType": codes.TRAN_TYPE_INVOICE,
            "CustKey": cust_key,
            "BatchKey": k.batch,
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
            "CustPONo": f"PO-{number}",
            "TranCmnt": terms,
            "CreateDate": self.now,
            "CreateUserID": SEED_USER,
            "UpdateDate": None,
            "UpdateUserID": None,
            "UpdateCounter": 0,
            "CreateType": codes.CREATE_TYPE_STANDARD,
        }


@dataclass(frozen=True)
class _Keys:
    """First keys of the blocks reserved for one seeding run."""

    cust: int
    addr: int
    invc: int
    first_no: int
    batch: int


def _insert_chunked(conn: sa.Connection, table: sa.Table, rows: Iterator[dict[str, Any]]) -> None:
    """Insert rows with ``executemany`` in chunks, so memory stays flat at any volume."""
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            conn.execute(sa.insert(table), chunk)
            chunk = []
    if chunk:
        conn.execute(sa.insert(table), chunk)
