"""Dynamics SL general ledger side: journals, deposits, GL release, sales orders, procedures.

Every test runs on SQLite and PostgreSQL (``erp_url``); the concurrency and fault tests are in
tests/test_erp_dynamics_sl_ledger_pg.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from sqlalchemy.sql.elements import (
    ReleaseSavepointClause,
    RollbackToSavepointClause,
    SavepointClause,
)

from connectors.erp import xref as xref_module
from connectors.erp.dynamics_sl import ar_schema, base, ledger, ledger_schema
from connectors.erp.dynamics_sl.base import Batch, GLSetup, SlContext, tptPaytraceXref
from connectors.erp.dynamics_sl.ledger import (
    DEMO_ACCOUNTS,
    gl_account_exists,
    release_gl_batch,
    seed_ledger,
    write_deposit,
    write_journal,
)
from connectors.erp.dynamics_sl.ledger_schema import (
    Account,
    GLTran,
    SOHeader,
    SOLine,
    SOSched,
    SOType,
    SubAcct,
    WrkRelease,
    WrkReleaseBad,
    tptPaytraceDepositLink,
)
from connectors.erp.dynamics_sl.procedures import release_calls, user_address
from connectors.erp.dynamics_sl.sales_orders import write_sales_order
from connectors.erp.errors import (
    ClosedPeriodError,
    CustomerNotUsableError,
    DocumentNotFoundError,
    ErpBusinessError,
    MissingGlAccountError,
    UnbalancedEntryError,
)
from connectors.erp.guard import erp_guard
from connectors.erp.locks import write_transaction
from connectors.erp.procedures import ProcedureCall, run_calls
from connectors.erp.protocol import PostingStrategy
from connectors.erp.xref import xref_row
from domain.erp_documents import (
    Deposit,
    DocumentKind,
    DocumentStatus,
    ErpDocument,
    JournalEntry,
    JournalLine,
    SalesOrder,
    SalesOrderLine,
)
from tests.erp_helpers import captured, rows

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite\\+pysqlite does \\*not\\* support")

TODAY = date(2025, 6, 2)
NOW = datetime(2025, 6, 2, 14, 30)
CPNY = "0010"
LABEL = "Dynamics SL"
CTX = SlContext(
    cpny_id=CPNY,
    user_id="tracepost",
    prog="01010",
    now=NOW,
    strategy=PostingStrategy.EMULATED,
    accounts=DEMO_ACCOUNTS,
)
MIDNIGHT = datetime(2025, 6, 2)
SAVEPOINTS = SavepointClause | ReleaseSavepointClause | RollbackToSavepointClause

assert ar_schema.Customer is not None and ledger_schema.GLTran is not None


@pytest.fixture
def engine(erp_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(erp_url)
    base.metadata.create_all(eng)
    with eng.begin() as conn:
        seed_ledger(conn, CPNY, TODAY)
    yield eng
    eng.dispose()


def fees(key: str = "fees:batch:77", *lines: JournalLine, day: date = TODAY) -> JournalEntry:
    return JournalEntry(
        key=key,
        entry_date=day,
        description="PayTrace fees batch 77",
        lines=lines
        or (
            JournalLine(account="6100", debit=Decimal("12.34"), memo="card fees"),
            JournalLine(account="1010", credit=Decimal("12.34")),
        ),
    )


def journal(engine: sa.Engine, entry: JournalEntry, ctx: SlContext = CTX) -> ErpDocument:
    with erp_guard(LABEL, "write_journal"), write_transaction(engine) as conn:
        return write_journal(conn, entry, ctx)


def deposit(engine: sa.Engine, dep: Deposit, ctx: SlContext = CTX) -> ErpDocument:
    with erp_guard(LABEL, "write_deposit"), write_transaction(engine) as conn:
        return write_deposit(conn, dep, ctx)


def release(engine: sa.Engine, bat_nbr: str) -> None:
    with erp_guard(LABEL, "release_gl_batch"), write_transaction(engine) as conn:
        release_gl_batch(conn, bat_nbr, CTX)


def order(engine: sa.Engine, so: SalesOrder) -> ErpDocument:
    with erp_guard(LABEL, "write_sales_order"), write_transaction(engine) as conn:
        return write_sales_order(conn, so, CTX)


def scalar(engine: sa.Engine, stmt: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(stmt).scalar()


def last_bat_nbr(engine: sa.Engine) -> str:
    return str(scalar(engine, sa.select(GLSetup.c.LastBatNbr)))


COUNTED = (Batch, GLTran, tptPaytraceXref, tptPaytraceDepositLink, SOHeader, SOLine, SOSched)


def snapshot(engine: sa.Engine) -> dict[str, Any]:
    """Row counts and counters: what a refused write must leave alone."""
    with engine.connect() as conn:
        state: dict[str, Any] = {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in COUNTED
        }
        state["LastBatNbr"] = conn.execute(sa.select(GLSetup.c.LastBatNbr)).scalar()
        state["LastOrdNbr"] = conn.execute(sa.select(SOType.c.LastOrdNbr)).scalar()
    return state


def add_receipt(engine: sa.Engine, pt_id: int, ref_nbr: str, amount: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(tptPaytraceXref),
            [
                xref_row(
                    kind=DocumentKind.RECEIPT,
                    key=str(pt_id),
                    company_id=CPNY,
                    doc_no=ref_nbr,
                    batch_id="000045",
                    amount=Decimal(amount),
                    now=NOW,
                    paytrace_transaction_id=pt_id,
                    customer_id="C0001",
                    doc_date=TODAY,
                )
            ],
        )


def add_customer(engine: sa.Engine, cust_id: str, status: str = "A") -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(ar_schema.Customer),
            [
                {
                    "CustId": base.pad(cust_id, 15),
                    "Name": base.pad("Acme Supply Co.", 60),
                    "BillName": base.pad("Acme Supply Co.", 60),
                    "BillAddr1": base.pad("1 Main St", 60),
                    "BillCity": base.pad("Springfield", 30),
                    "BillState": base.pad("IL", 3),
                    "BillZip": base.pad("62701", 10),
                    "BillCountry": base.pad("USA", 3),
                    "ArAcct": base.pad("1200", 10),
                    "ArSub": base.pad("000000", 24),
                    "Terms": base.pad("30", 2),
                    "DfltShipToId": base.pad("DEFAULT", 10),
                    "Status": status,
                    "CuryId": base.pad("USD", 4),
                }
            ],
        )


AUDIT = {
    "Crtd_DateTime": NOW,
    "Crtd_Prog": "01010   ",
    "Crtd_User": "tracepost ",
    "LUpd_DateTime": NOW,
    "LUpd_Prog": "01010   ",
    "LUpd_User": "tracepost ",
}


# --- seed -------------------------------------------------------------------------------------


def test_seed_ledger_sets_up_a_calendar_year(engine: sa.Engine) -> None:
    setup = rows(engine, GLSetup)[0]
    assert setup["SetupId"] == "GL" and setup["CpnyId"] == "0010      "
    assert setup["NbrPer"] == 12 and setup["PerNbr"] == "202506"
    assert setup["LastBatNbr"] == "000000    " and setup["BaseCuryId"] == "USD "
    ends = [setup[f"FiscalPerEnd{i:02d}"] for i in range(12)]
    assert ends == [
        "0131",
        "0228",
        "0331",
        "0430",
        "0531",
        "0630",
        "0731",
        "0831",
        "0930",
        "1031",
        "1130",
        "1231",
    ]
    assert setup["FiscalPerEnd12"] == "    "
    accounts = {r["Acct"].strip(): r["Active"] for r in rows(engine, Account)}
    for purpose in ("bank", "undeposited", "ar", "card_fees", "chargeback_fees", "write_off"):
        assert accounts[DEMO_ACCOUNTS[purpose]] == 1, purpose
    assert accounts["4000"] == 1 and accounts["2100"] == 1 and accounts["1090"] == 0
    assert [r["Sub"] for r in rows(engine, SubAcct)] == ["000000" + " " * 18]
    so_type = rows(engine, SOType)[0]
    assert (so_type["SOTypeID"], so_type["LastOrdNbr"]) == ("SO  ", "000000    ")
    with engine.begin() as conn:
        seed_ledger(conn, CPNY, date(2026, 1, 1))  # a no-op the second time
    assert rows(engine, GLSetup)[0]["PerNbr"] == "202506"
    assert len(rows(engine, Account)) == len(accounts)


def test_gl_account_exists(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert gl_account_exists(conn, "1000")
        assert gl_account_exists(conn, " 1010 ")
        assert gl_account_exists(conn, "1010/000000")
        assert not gl_account_exists(conn, "1010/999999")
        assert not gl_account_exists(conn, "1090")  # inactive
        assert not gl_account_exists(conn, "9999")
        assert not gl_account_exists(conn, "")


# --- journals ---------------------------------------------------------------------------------


def test_golden_rows_of_one_journal(engine: sa.Engine) -> None:
    doc = journal(engine, fees(), ctx=replace(CTX, prog="08030"))
    assert doc == ErpDocument(
        kind=DocumentKind.JOURNAL,
        key="fees:batch:77",
        erp="dynamics_sl",
        erp_document="000001",
        batch="000001",
        amount=Decimal("12.34"),
        status=DocumentStatus.PENDING,
        document_date=TODAY,
        created=True,
    )
    assert rows(engine, Batch) == [
        {
            "Module": "GL",
            "BatNbr": "000001    ",
            "CpnyID": "0010      ",
            "BatType": "N",
            "Status": "B",
            "Rlsed": 0,
            "EditScrnNbr": "01010",
            "JrnlType": "GJ ",
            "LedgerID": "0000      ",
            "PerPost": "202506",
            "PerEnt": "202506",
            "Descr": "PayTrace fees batch 77        ",
            "BaseCuryID": "USD ",
            "BalanceType": "A",
            "CuryId": "USD ",
            "CuryMultDiv": "M",
            "CuryRate": 1.0,
            "CtrlTot": 12.34,
            "CuryCtrlTot": 12.34,
            "DrTot": 12.34,
            "CuryDrTot": 12.34,
            "CrTot": 12.34,
            "CuryCrTot": 12.34,
            "DateEnt": MIDNIGHT,
            "NbrCycle": 0,
            **AUDIT,
        }
    ]
    common = {
        "Module": "GL",
        "BatNbr": "000001    ",
        "Sub": "000000" + " " * 18,
        "BalanceType": "A",
        "BaseCuryID": "USD ",
        "CpnyID": "0010      ",
        "CuryEffDate": MIDNIGHT,
        "CuryId": "USD ",
        "CuryMultDiv": "M",
        "CuryRate": 1.0,
        "CuryRateType": "      ",
        "ExtRefNbr": "fees:batch:77  ",
        "FiscYr": "2025",
        "JrnlType": "GJ ",
        "LedgerID": "0000      ",
        "NoteID": 0,
        "OrigCpnyID": "0010      ",
        "PerEnt": "202506",
        "PerPost": "202506",
        "Posted": "U",
        "RefNbr": "          ",
        "Rlsed": 0,
        "TranDate": MIDNIGHT,
        "TranType": "GJ",
        **AUDIT,
    }
    lines = sorted(rows(engine, GLTran), key=lambda r: r["LineNbr"])
    assert lines == [
        {
            **common,
            "LineNbr": -32767,
            "LineId": 1,
            "Acct": "6100      ",
            "DrAmt": 12.34,
            "CrAmt": 0.0,
            "CuryDrAmt": 12.34,
            "CuryCrAmt": 0.0,
            "TranDesc": "card fees                     ",
        },
        {
            **common,
            "LineNbr": -32511,
            "LineId": 2,
            "Acct": "1010      ",
            "DrAmt": 0.0,
            "CrAmt": 12.34,
            "CuryDrAmt": 0.0,
            "CuryCrAmt": 12.34,
            "TranDesc": "PayTrace fees batch 77        ",
        },
    ]
    xref = rows(engine, tptPaytraceXref)
    assert len(xref) == 1
    assert {k: xref[0][k] for k in ("DocKind", "SourceKey", "DocNo", "BatchID", "Status")} == {
        "DocKind": "journal",
        "SourceKey": "fees:batch:77",
        "DocNo": "000001",
        "BatchID": "000001",
        "Status": "pending",
    }
    assert xref[0]["Amount"] == Decimal("12.340") and xref[0]["CompanyID"] == CPNY
    assert last_bat_nbr(engine) == "000001    "


def test_repeat_returns_the_same_journal(engine: sa.Engine) -> None:
    first = journal(engine, fees())
    before = snapshot(engine)
    again = journal(engine, fees())
    assert again == first.model_copy(update={"created": False})
    assert snapshot(engine) == before
    other = journal(engine, fees("fees:batch:78"))
    assert (other.batch, other.created) == ("000002", True)


def test_constraint_race_rolls_back_to_the_savepoint_and_returns_the_winner(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A racer the GLSetup lock did not serialize: the xref key refuses the second copy."""
    winner = journal(engine, fees())
    before = snapshot(engine)
    real = xref_module.read_xref
    blind = {"reads": 2}

    def read_back(*args: Any) -> Any:
        if blind["reads"]:
            blind["reads"] -= 1
            return None  # the racer has not committed yet when this writer looks
        return real(*args)

    monkeypatch.setattr(ledger, "read_xref", read_back)
    again = journal(engine, fees())
    assert blind["reads"] == 0
    assert again == winner.model_copy(update={"created": False})
    assert snapshot(engine) == before  # no orphan Batch/GLTran, LastBatNbr not advanced


def test_batch_number_keeps_its_width_and_skips_numbers_in_use(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(GLSetup).values(LastBatNbr=base.pad("000099", 10)))
        conn.execute(
            sa.insert(Batch),
            [{"Module": "GL", "BatNbr": base.pad("000100", 10), "Status": "H", "CpnyID": CPNY}],
        )
        conn.execute(  # an AR batch of the same number does not block a GL number
            sa.insert(Batch),
            [{"Module": "AR", "BatNbr": base.pad("000101", 10), "Status": "B", "CpnyID": CPNY}],
        )
    doc = journal(engine, fees())
    assert doc.batch == "000101"
    assert last_bat_nbr(engine) == "000101    "


def test_amounts_round_to_cents(engine: sa.Engine) -> None:
    doc = journal(
        engine,
        fees(
            "round",
            JournalLine(account="6100", debit=Decimal("10.004")),
            JournalLine(account="6110", debit=Decimal("0.996")),
            JournalLine(account="1010/000000", credit=Decimal("11.00")),
        ),
    )
    assert doc.amount == Decimal("11.00")
    amounts = sorted((r["DrAmt"], r["CrAmt"]) for r in rows(engine, GLTran))
    assert amounts == [(0.0, 11.0), (1.0, 0.0), (10.0, 0.0)]


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        (
            (
                JournalLine(account="6100", debit=Decimal("12.34")),
                JournalLine(account="1010", credit=Decimal("12.33")),
            ),
            UnbalancedEntryError,
        ),
        (
            (
                JournalLine(account="6100", debit=Decimal("1"), credit=Decimal("1")),
                JournalLine(account="1010", credit=Decimal("0")),
            ),
            UnbalancedEntryError,
        ),
        (
            (
                JournalLine(account="6100", debit=Decimal("-5")),
                JournalLine(account="1010", credit=Decimal("-5")),
            ),
            UnbalancedEntryError,
        ),
        (
            (
                JournalLine(account="6199", debit=Decimal("5")),
                JournalLine(account="1010", credit=Decimal("5")),
            ),
            MissingGlAccountError,
        ),
        (
            (
                JournalLine(account="1090", debit=Decimal("5")),
                JournalLine(account="1010", credit=Decimal("5")),
            ),
            MissingGlAccountError,
        ),
        (
            (
                JournalLine(account="6100", debit=Decimal("5"), subaccount="777777"),
                JournalLine(account="1010", credit=Decimal("5")),
            ),
            MissingGlAccountError,
        ),
    ],
    ids=["unbalanced", "both-sides", "negative", "missing-acct", "inactive-acct", "missing-sub"],
)
def test_refused_journals_write_nothing(
    engine: sa.Engine, lines: tuple[JournalLine, ...], error: type[Exception]
) -> None:
    before = snapshot(engine)
    with pytest.raises(error):
        journal(engine, fees("bad", *lines))
    assert snapshot(engine) == before


def test_inactive_subaccount_is_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(SubAcct), [{"Sub": base.pad("999999", 24), "Active": 0, "Descr": "old"}]
        )
    entry = fees(
        "sub",
        JournalLine(account="6100", debit=Decimal("5"), subaccount="999999"),
        JournalLine(account="1010", credit=Decimal("5")),
    )
    with pytest.raises(MissingGlAccountError, match="subaccount 999999 is inactive"):
        journal(engine, entry)


def test_journal_key_must_fit_the_xref(engine: sa.Engine) -> None:
    with pytest.raises(ErpBusinessError, match="longer than 40"):
        journal(engine, fees("k" * 41))
    assert journal(engine, fees("k" * 40)).key == "k" * 40


def test_missing_default_subaccount_is_refused(engine: sa.Engine) -> None:
    no_sub = replace(CTX, accounts={"bank": "1000"})
    with pytest.raises(MissingGlAccountError, match="has no subaccount"):
        journal(engine, fees(), ctx=no_sub)


@pytest.mark.parametrize("day", [date(2025, 5, 31), date(2024, 12, 31), date(2027, 1, 4)])
def test_closed_period_is_refused(engine: sa.Engine, day: date) -> None:
    before = snapshot(engine)
    with pytest.raises(ClosedPeriodError):
        journal(engine, fees(day=day))
    assert snapshot(engine) == before


def test_next_periods_are_open(engine: sa.Engine) -> None:
    doc = journal(engine, fees(day=date(2026, 2, 28)))
    assert rows(engine, Batch)[0]["PerPost"] == "202602"
    assert rows(engine, Batch)[0]["PerEnt"] == "202506"
    assert {r["FiscYr"] for r in rows(engine, GLTran)} == {"2026"}
    assert doc.document_date == date(2026, 2, 28)


# --- deposits ---------------------------------------------------------------------------------


def settled(amount: str = "180.50", *ids: int) -> Deposit:
    return Deposit(
        batch_number=77,
        deposit_date=TODAY,
        amount=Decimal(amount),
        receipt_transaction_ids=ids or (1001, 1002),
    )


def test_golden_rows_of_one_deposit(engine: sa.Engine) -> None:
    add_receipt(engine, 1001, "000123", "125.00")
    add_receipt(engine, 1002, "000124", "60.00")
    doc = deposit(engine, settled("180.50", 1002, 1001, 1002))
    assert (doc.kind, doc.key, doc.batch, doc.erp_document) == (
        DocumentKind.DEPOSIT,
        "77",
        "000001",
        "000001",
    )
    assert (doc.amount, doc.created, doc.document_date) == (Decimal("180.50"), True, TODAY)
    batch = rows(engine, Batch)[0]
    assert (batch["Status"], batch["Rlsed"], batch["EditScrnNbr"], batch["Descr"]) == (
        "B",
        0,
        "01010",
        "PayTrace deposit batch 77     ",
    )
    assert (batch["DrTot"], batch["CrTot"], batch["CtrlTot"]) == (180.5, 180.5, 180.5)
    lines = sorted(rows(engine, GLTran), key=lambda r: r["LineNbr"])
    assert [(r["Acct"], r["Sub"].strip(), r["DrAmt"], r["CrAmt"]) for r in lines] == [
        ("1000      ", "000000", 180.5, 0.0),
        ("1010      ", "000000", 0.0, 180.5),
    ]
    assert {r["ExtRefNbr"] for r in lines} == {"PT BATCH 77    "}
    links = sorted(rows(engine, tptPaytraceDepositLink), key=lambda r: r["PaytraceTranID"])
    assert [
        (r["DepositKey"], r["PaytraceTranID"], r["ReceiptRefNbr"], r["DepositBatNbr"])
        for r in links
    ] == [("77", 1001, "000123", "000001"), ("77", 1002, "000124", "000001")]
    assert [r["Amount"] for r in links] == [Decimal("125.000"), Decimal("60.000")]
    before = snapshot(engine)
    assert deposit(engine, settled()) == doc.model_copy(update={"created": False})
    assert snapshot(engine) == before


def test_deposit_needs_every_receipt_written(engine: sa.Engine) -> None:
    add_receipt(engine, 1001, "000123", "125.00")
    before = snapshot(engine)
    with pytest.raises(DocumentNotFoundError, match="1002, 1003"):
        deposit(engine, settled("180.50", 1001, 1003, 1002))
    assert snapshot(engine) == before


def test_a_receipt_is_deposited_once(engine: sa.Engine) -> None:
    add_receipt(engine, 1001, "000123", "125.00")
    deposit(engine, settled("125.00", 1001))
    before = snapshot(engine)
    second = Deposit(
        batch_number=78, deposit_date=TODAY, amount=Decimal(125), receipt_transaction_ids=(1001,)
    )
    with pytest.raises(ErpBusinessError, match=r"already deposited.*1001 \(batch 77\)"):
        deposit(engine, second)
    assert snapshot(engine) == before


def test_negative_deposit_moves_money_back_to_clearing(engine: sa.Engine) -> None:
    doc = deposit(engine, Deposit(batch_number=78, deposit_date=TODAY, amount=Decimal("-20")))
    assert doc.amount == Decimal("-20.00")
    lines = sorted(rows(engine, GLTran), key=lambda r: r["LineNbr"])
    assert [(r["Acct"].strip(), r["DrAmt"], r["CrAmt"]) for r in lines] == [
        ("1000", 0.0, 20.0),
        ("1010", 20.0, 0.0),
    ]


def test_deposit_refusals(engine: sa.Engine) -> None:
    zero = Deposit(batch_number=79, deposit_date=TODAY, amount=Decimal("0.00"))
    with pytest.raises(ErpBusinessError, match="net amount is zero"):
        deposit(engine, zero)
    no_bank = replace(CTX, accounts={"undeposited": "1010", "sub": "000000"})
    with pytest.raises(MissingGlAccountError, match="'bank'"):
        deposit(engine, Deposit(batch_number=80, deposit_date=TODAY, amount=Decimal(5)), no_bank)
    closed_bank = replace(CTX, accounts={**DEMO_ACCOUNTS, "bank": "1090"})
    with pytest.raises(MissingGlAccountError, match="1090 is inactive"):
        deposit(
            engine, Deposit(batch_number=81, deposit_date=TODAY, amount=Decimal(5)), closed_bank
        )
    with pytest.raises(ClosedPeriodError):
        deposit(engine, Deposit(batch_number=82, deposit_date=date(2025, 1, 2), amount=Decimal(5)))
    assert rows(engine, Batch) == []


# --- GL release (emulated) --------------------------------------------------------------------


def test_release_gl_batch_like_pp_01400(engine: sa.Engine) -> None:
    doc = journal(engine, fees())
    release(engine, doc.batch)
    batch = rows(engine, Batch)[0]
    assert (batch["Status"], batch["Rlsed"]) == ("U", 1)
    assert batch["LUpd_DateTime"] == NOW  # pp_01400 leaves the audit columns alone
    assert {(r["Posted"], r["Rlsed"], r["OrigCpnyID"]) for r in rows(engine, GLTran)} == {
        ("U", 1, "0010      ")
    }
    before = snapshot(engine)
    release(engine, doc.batch)  # idempotent
    assert snapshot(engine) == before and rows(engine, Batch)[0]["Status"] == "U"


def test_release_refusals(engine: sa.Engine) -> None:
    with pytest.raises(DocumentNotFoundError):
        release(engine, "000999")
    doc = journal(engine, fees())
    with engine.begin() as conn:
        conn.execute(sa.update(Batch).values(Status="H"))
    with pytest.raises(ErpBusinessError, match="Status 'H'"):
        release(engine, doc.batch)
    with engine.begin() as conn:
        conn.execute(sa.update(Batch).values(Status="B"))
        conn.execute(sa.update(GLTran).where(GLTran.c.CrAmt > 0).values(CrAmt=12.0))
    with pytest.raises(UnbalancedEntryError):
        release(engine, doc.batch)
    assert rows(engine, Batch)[0]["Rlsed"] == 0


# --- release through SL's procedures ----------------------------------------------------------


ADDRESS = "TPGL000124" + " " * 11


def test_release_calls_are_sl_procedures() -> None:
    clear = ProcedureCall(
        name="sp_executesql",
        params=(
            (
                "stmt",
                "DELETE FROM WrkRelease WHERE UserAddress = @UserAddress;"
                " DELETE FROM WrkReleaseBad WHERE UserAddress = @UserAddress",
            ),
            ("params", "@UserAddress char(21)"),
            ("UserAddress", ADDRESS),
        ),
    )
    calls = release_calls("GL", "000124", CTX)
    assert calls == [
        clear,
        ProcedureCall(
            name="sp_executesql",
            params=(
                (
                    "stmt",
                    "INSERT INTO WrkRelease (BatNbr, Module, UserAddress)"
                    " VALUES (@BatNbr, @Module, @UserAddress)",
                ),
                ("params", "@BatNbr char(10), @Module char(2), @UserAddress char(21)"),
                ("BatNbr", "000124    "),
                ("Module", "GL"),
                ("UserAddress", ADDRESS),
            ),
        ),
        ProcedureCall(
            name="pp_01400", params=(("UserAddress", "TPGL000124"), ("Sol_User", "tracepost"))
        ),
        ProcedureCall(
            name="sp_executesql",
            params=(
                (
                    "stmt",
                    "SELECT @Refused = COUNT(*) FROM WrkReleaseBad WHERE UserAddress = @UserAddress",
                ),
                ("params", "@UserAddress char(21), @Refused int OUTPUT"),
                ("UserAddress", ADDRESS),
            ),
            outputs=(("Refused", "int"),),
            ok={"Refused": (0,)},
        ),
        clear,
    ]
    assert calls[2].sql() == (
        "SET NOCOUNT ON; EXEC pp_01400 @UserAddress = :UserAddress, @Sol_User = :Sol_User"
    )
    assert calls[3].sql() == (
        "SET NOCOUNT ON; DECLARE @Refused int; EXEC sp_executesql @stmt = :stmt,"
        " @params = :params, @UserAddress = :UserAddress, @Refused = @Refused OUTPUT;"
        " SELECT @Refused AS Refused"
    )
    ar = release_calls("ar", " 000045 ", CTX)
    assert ar[2] == ProcedureCall(
        name="pp_08400", params=(("UserAddress", "TPAR000045"), ("Sol_User", "tracepost"))
    )
    assert dict(ar[1].params)["Module"] == "AR"
    for module, bat in (("AP", "000001"), ("GL", ""), ("GL", "12345678901")):
        with pytest.raises(ErpBusinessError):
            release_calls(module, bat, CTX)


def emulated_sl(conn: sa.Connection, call: ProcedureCall) -> dict[str, Any]:
    """The stand-in's SL: the work-table SQL of release_calls and pp_01400 (via release_gl_batch)."""
    params = dict(call.params)
    address = params["UserAddress"].ljust(21)
    work = WrkRelease.c.UserAddress == address
    bad = WrkReleaseBad.c.UserAddress == address
    if call.name == "pp_01400":
        listed = conn.execute(sa.select(WrkRelease.c.BatNbr).where(work)).scalars().all()
        for bat_nbr in listed:
            try:
                release_gl_batch(conn, bat_nbr, CTX)
            except ErpBusinessError:
                conn.execute(
                    sa.insert(WrkReleaseBad).values(
                        BatNbr=bat_nbr, Module="GL", MsgID=6019, UserAddress=address
                    )
                )
        return {}
    assert call.name == "sp_executesql"
    stmt = params["stmt"]
    if stmt.startswith("DELETE"):
        conn.execute(sa.delete(WrkRelease).where(work))
        conn.execute(sa.delete(WrkReleaseBad).where(bad))
    elif stmt.startswith("INSERT"):
        conn.execute(
            sa.insert(WrkRelease).values(
                BatNbr=params["BatNbr"], Module=params["Module"], UserAddress=address
            )
        )
    else:
        assert stmt.startswith("SELECT @Refused")
        count = sa.select(sa.func.count()).select_from(WrkReleaseBad).where(bad)
        return {"Refused": conn.execute(count).scalar_one()}
    return {}


def test_release_calls_run_on_the_stand_in(engine: sa.Engine) -> None:
    doc = journal(engine, fees())
    with engine.begin() as conn:
        stale = user_address("GL", doc.batch).ljust(21)  # left over from a crashed attempt
        conn.execute(sa.insert(WrkRelease).values(BatNbr="OLD", Module="GL", UserAddress=stale))
        run_calls(conn, release_calls("GL", doc.batch, CTX), emulated_sl)
    assert rows(engine, Batch)[0]["Rlsed"] == 1
    assert rows(engine, WrkRelease) == [] and rows(engine, WrkReleaseBad) == []
    other = journal(engine, fees("fees:2"))
    with engine.begin() as conn:
        conn.execute(
            sa.update(GLTran).where(GLTran.c.BatNbr == base.pad(other.batch, 10)).values(DrAmt=1.0)
        )
    with pytest.raises(ErpBusinessError, match="Refused=1"), engine.begin() as conn:
        run_calls(conn, release_calls("GL", other.batch, CTX), emulated_sl)
    assert rows(engine, WrkRelease) == [] and rows(engine, WrkReleaseBad) == []  # rolled back
    assert rows(engine, Batch, Batch.c.BatNbr == base.pad(other.batch, 10))[0]["Rlsed"] == 0


# --- sales orders -----------------------------------------------------------------------------


def sale(order_id: str = "web-5001", customer: str = "C0001") -> SalesOrder:
    return SalesOrder(
        order_id=order_id,
        customer_id=customer,
        order_date=TODAY,
        customer_po="PO-77",
        paytrace_transaction_id=1000123,
        lines=(
            SalesOrderLine(
                item_id="WIDGET-1",
                description="Blue widget",
                quantity=Decimal("3"),
                unit_price=Decimal("19.995"),
            ),
            SalesOrderLine(item_id="SHIP", quantity=Decimal("1.004"), unit_price=Decimal("7.5")),
        ),
    )


def test_golden_rows_of_one_sales_order(engine: sa.Engine) -> None:
    add_customer(engine, "C0001")
    doc = order(engine, sale())
    assert (doc.kind, doc.key, doc.erp_document, doc.batch) == (
        DocumentKind.SALES_ORDER,
        "web-5001",
        "000001",
        "",
    )
    assert (doc.amount, doc.customer_id, doc.paytrace_transaction_id, doc.created) == (
        Decimal("67.50"),
        "C0001",
        1000123,
        True,
    )
    audit = {k: v.replace("01010", "40100") if isinstance(v, str) else v for k, v in AUDIT.items()}
    header = rows(engine, SOHeader)
    assert header == [
        {
            "CpnyID": "0010      ",
            "OrdNbr": "000001" + " " * 9,
            "AdminHold": 0,
            "ARAcct": "1200      ",
            "ARSub": "000000" + " " * 18,
            "BillAddr1": base.pad("1 Main St", 60),
            "BillAddr2": " " * 60,
            "BillCity": base.pad("Springfield", 30),
            "BillCountry": "USA",
            "BillName": base.pad("Acme Supply Co.", 60),
            "BillState": "IL ",
            "BillZip": "62701     ",
            "Cancelled": 0,
            "CreditHold": 0,
            "CuryID": "USD ",
            "CuryMultDiv": "M",
            "CuryRate": 1.0,
            "CuryTotMerch": 67.5,
            "CuryTotOrd": 67.5,
            "CuryUnshippedBalance": 67.5,
            "CustID": "C0001" + " " * 10,
            "CustOrdNbr": base.pad("PO-77", 25),
            "LineCntr": 2,
            "NoteId": 0,
            "OrdDate": MIDNIGHT,
            "Released": 0,
            "SOTypeID": "SO  ",
            "Status": "O",
            "TermsID": "30",
            "TotMerch": 67.5,
            "TotOrd": 67.5,
            "UnshippedBalance": 67.5,
            "User1": base.pad("PT 1000123", 30),
            **audit,
        }
    ]
    lines = sorted(rows(engine, SOLine), key=lambda r: r["LineRef"])
    common = {
        "CpnyID": "0010      ",
        "OrdNbr": "000001" + " " * 9,
        "CnvFact": 1.0,
        "ManualPrice": 1,
        "NoteId": 0,
        "PromDate": MIDNIGHT,
        "QtyShip": 0.0,
        "ReqDate": MIDNIGHT,
        "SchedCntr": 1,
        "SiteID": " " * 10,
        "SlsAcct": "4000      ",
        "SlsSub": "000000" + " " * 18,
        "Status": "O",
        "UnitDesc": "      ",
        "UnitMultDiv": "M",
        **audit,
    }

    def prices(price: float) -> dict[str, float]:
        names = ("ListPrice", "SlsPrice", "SlsPriceOrig")
        return {p: price for n in names for p in (n, f"Cury{n}")}

    assert lines == [
        {
            **common,
            **prices(20.0),
            "LineRef": "00001",
            "LineNbr": -32767,
            "InvtID": base.pad("WIDGET-1", 30),
            "Descr": base.pad("Blue widget", 60),
            "QtyOrd": 3.0,
            "TotOrd": 60.0,
            "CuryTotOrd": 60.0,
        },
        {
            **common,
            **prices(7.5),
            "LineRef": "00002",
            "LineNbr": -32511,
            "InvtID": base.pad("SHIP", 30),
            "Descr": " " * 60,
            "QtyOrd": 1.0,
            "TotOrd": 7.5,
            "CuryTotOrd": 7.5,
        },
    ]
    schedules = sorted(rows(engine, SOSched), key=lambda r: r["LineRef"])
    sched_common = {
        "CpnyID": "0010      ",
        "OrdNbr": "000001" + " " * 9,
        "SchedRef": "00001",
        "CancelDate": datetime(1900, 1, 1),
        "Hold": 0,
        "NoteID": 0,
        "PriorityDate": MIDNIGHT,
        "PromDate": MIDNIGHT,
        "QtyOpenShip": 0.0,
        "QtyShip": 0.0,
        "QtyToInvc": 0.0,
        "ReqDate": MIDNIGHT,
        "ShipCustID": "C0001" + " " * 10,
        "ShipName": base.pad("Acme Supply Co.", 60),
        "ShiptoID": base.pad("DEFAULT", 10),
        "SiteID": " " * 10,
        "Status": "O",
        **audit,
    }
    assert schedules == [
        {**sched_common, "LineRef": "00001", "QtyOrd": 3.0},
        {**sched_common, "LineRef": "00002", "QtyOrd": 1.0},
    ]
    assert rows(engine, SOType)[0]["LastOrdNbr"] == "000001    "
    before = snapshot(engine)
    assert order(engine, sale()) == doc.model_copy(update={"created": False})
    assert snapshot(engine) == before


def test_order_numbers_use_prefix_and_skip_numbers_in_use(engine: sa.Engine) -> None:
    add_customer(engine, "C0001")
    with engine.begin() as conn:
        conn.execute(
            sa.update(SOType).values(
                OrdNbrPrefix=base.pad("W&da", 15), LastOrdNbr=base.pad("0041", 10)
            )
        )
        conn.execute(
            sa.insert(SOHeader),
            [{"CpnyID": base.pad(CPNY, 10), "OrdNbr": base.pad("W250600042", 15)}],
        )
    # The prefix is cut to 10 - 4 characters: "W25060" + "0042" is taken, so "0043".
    assert order(engine, sale()).erp_document == "W250600043"
    assert rows(engine, SOType)[0]["LastOrdNbr"] == "0043      "


def test_order_number_counter_of_another_type_and_rollover(engine: sa.Engine) -> None:
    add_customer(engine, "C0001")
    with engine.begin() as conn:
        conn.execute(sa.update(SOType).values(OrdNbrType=base.pad("WEB", 4)))
        conn.execute(
            sa.insert(SOType),
            [
                {
                    "CpnyID": base.pad(CPNY, 10),
                    "SOTypeID": base.pad("WEB", 4),
                    "Active": 1,
                    "LastOrdNbr": base.pad("999", 10),
                }
            ],
        )
    assert order(engine, sale()).erp_document == "001"
    types = {r["SOTypeID"].strip(): r["LastOrdNbr"].strip() for r in rows(engine, SOType)}
    assert types == {"SO": "000000", "WEB": "001"}


@pytest.mark.parametrize(
    ("status", "message"),
    [(None, "does not exist"), ("I", "not active"), ("H", "on hold")],
)
def test_sales_order_needs_a_usable_customer(
    engine: sa.Engine, status: str | None, message: str
) -> None:
    if status is not None:
        add_customer(engine, "C0001", status)
    before = snapshot(engine)
    with pytest.raises(CustomerNotUsableError, match=message):
        order(engine, sale())
    assert snapshot(engine) == before


def test_sales_order_line_refusals(engine: sa.Engine) -> None:
    add_customer(engine, "C0001")
    bad = sale().model_copy(
        update={"lines": (SalesOrderLine(item_id="X", quantity=Decimal(0), unit_price=1),)}
    )
    with pytest.raises(ErpBusinessError, match="quantity"):
        order(engine, bad)
    with pytest.raises(ErpBusinessError, match="no lines"):
        order(engine, sale().model_copy(update={"lines": ()}))
    assert rows(engine, SOHeader) == []


# --- SQL Server ------------------------------------------------------------------------------


def test_every_statement_compiles_for_mssql(engine: sa.Engine) -> None:
    add_receipt(engine, 1001, "000123", "125.00")
    add_customer(engine, "C0001")
    with captured(engine) as statements:
        doc = journal(engine, fees())
        journal(engine, fees())
        with pytest.raises(ClosedPeriodError):
            journal(engine, fees("closed", day=date(2025, 1, 1)))
        deposit(engine, settled("125.00", 1001))
        release(engine, doc.batch)
        release(engine, doc.batch)
        order(engine, sale())
        order(engine, sale())
        with engine.connect() as conn:
            gl_account_exists(conn, "1010/000000")
        with engine.begin() as conn:
            other = write_journal(conn, fees("fees:2"), CTX)
            run_calls(conn, release_calls("GL", other.batch, CTX), emulated_sl)
    assert len(statements) > 40
    dialect = mssql.dialect()
    compiled = []
    for stmt in statements:
        assert isinstance(stmt, sa.Select | sa.Insert | sa.Update | sa.Delete | SAVEPOINTS), stmt
        compiled.append(str(stmt.compile(dialect=dialect)))
    assert any(s.startswith("SAVE TRANSACTION") for s in compiled)
    locking = [s for s in compiled if "UPDLOCK" in s]
    assert any("[GLSetup] WITH (UPDLOCK, ROWLOCK)" in s for s in locking)
    assert any("[Batch] WITH (UPDLOCK, ROWLOCK)" in s for s in locking)
    assert any("[SOType] WITH (UPDLOCK, ROWLOCK)" in s for s in locking)
    assert not any("FOR UPDATE" in s or "LIMIT" in s for s in compiled)
