"""Sage 500 stand-in and connector, on real SQLite and PostgreSQL databases."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql

from connectors.erp.errors import (
    ClosedPeriodError,
    CustomerNotUsableError,
    ErpBusinessError,
    ErpUnavailableError,
    InvoiceNotOpenError,
)
from connectors.erp.protocol import ErpConnector, PostingStrategy
from connectors.erp.sage500 import Sage500Connector, create_schema, seed_demo
from connectors.erp.sage500.schema import (
    tarBatch,
    tarCustomer,
    tarCustPmt,
    tarCustPmtAppl,
    tarInvoice,
    tarPendCustPmt,
    tarPendCustPmtAppl,
    tciBatchLog,
    tciBatchTypCompany,
    tciSurrogateKey,
    tciTranTypeCompany,
    tptPaytraceXref,
)
from domain.models import Application, CashReceipt, ReceiptStatus
from tests.erp_helpers import captured, race, rows

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite\\+pysqlite does \\*not\\* support")

TODAY = date(2025, 6, 2)
NOW = datetime(2025, 6, 2, 14, 30, 0)
PT_ID = 1000123


@pytest.fixture
def engine(erp_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(erp_url)
    seed_demo(eng, customers=50, invoices=196, today=TODAY)
    yield eng
    eng.dispose()


def connector(engine: sa.Engine, **kwargs: Any) -> Sage500Connector:
    kwargs.setdefault("clock", lambda: NOW)
    return Sage500Connector(engine, **kwargs)


def receipt(
    *apps: tuple[str, str] | tuple[str, str, str],
    amount: str | None = None,
    on_account: str = "0.00",
    customer: str = "C0001",
    pt_id: int = PT_ID,
) -> CashReceipt:
    applications = tuple(
        Application(
            invoice_number=a[0],
            amount=Decimal(a[1]),
            write_off=Decimal(a[2] if len(a) > 2 else "0.00"),
        )
        for a in apps
    )
    total = sum((x.amount for x in applications), Decimal(on_account))
    return CashReceipt(
        paytrace_transaction_id=pt_id,
        customer_id=customer,
        amount=Decimal(amount) if amount is not None else total,
        receipt_date=TODAY,
        reference=f"PT {pt_id}",
        payment_method="VISA",
        applications=applications,
        on_account=Decimal(on_account),
    )


def one(engine: sa.Engine, stmt: sa.Select[Any]) -> Any:
    with engine.connect() as conn:
        return conn.execute(stmt).scalar_one()


def invoice_balance(engine: sa.Engine, number: int) -> Decimal:
    value = one(
        engine,
        sa.select(tarInvoice.c.Balance).where(tarInvoice.c.TranNo == f"{number:010d}"),
    )
    assert isinstance(value, Decimal)
    return value


COUNTED = (
    tciBatchLog,
    tarPendCustPmt,
    tarPendCustPmtAppl,
    tarCustPmt,
    tarCustPmtAppl,
    tptPaytraceXref,
)


def snapshot(engine: sa.Engine) -> dict[str, Any]:
    """Row counts, counters and balances: everything a failed write must leave alone."""
    with engine.connect() as conn:
        state: dict[str, Any] = {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in COUNTED
        }
        for t in (tciSurrogateKey, tciBatchTypCompany, tciTranTypeCompany):
            state[t.name] = sorted(tuple(r) for r in conn.execute(sa.select(t)))
        state["balances"] = sorted(
            tuple(r) for r in conn.execute(sa.select(tarInvoice.c.InvcKey, tarInvoice.c.Balance))
        )
    return state


# --- demo data -----------------------------------------------------------------------------


def test_demo_seed_has_well_known_rows(engine: sa.Engine) -> None:
    cust = rows(engine, tarCustomer, tarCustomer.c.CustID == "C0001")[0]
    assert cust["CustName"] == "Acme Supply Co."
    assert cust["Status"] == 1 and cust["Hold"] == 0
    assert cust["UserFld1"] == "acme-supply"
    inv = rows(engine, tarInvoice, tarInvoice.c.TranNo == "0000001001")[0]
    assert inv["TranID"] == "0000001001-IN"
    assert inv["TranType"] == 501
    assert inv["CustKey"] == cust["CustKey"]
    assert inv["Balance"] == Decimal("125.000") and inv["TranAmt"] == Decimal("125.000")
    assert inv["DueDate"] == datetime(2025, 7, 2)
    assert invoice_balance(engine, 1002) == Decimal("80.500")
    birch = rows(engine, tarCustomer, tarCustomer.c.CustID == "C0002")[0]
    assert birch["CustName"] == "Birch Hardware LLC"
    for number, balance in ((1003, "1250.000"), (1004, "40.000")):
        row = rows(engine, tarInvoice, tarInvoice.c.TranNo == f"{number:010d}")[0]
        assert row["CustKey"] == birch["CustKey"] and row["Balance"] == Decimal(balance)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tarCustomer)).scalar() == 50
        numbers = sorted(int(n) for n in conn.execute(sa.select(tarInvoice.c.TranNo)).scalars())
        assert numbers == list(range(1001, 1001 + 4 + 48 * 4))
        balances = [
            (r.TranAmt, r.Balance)
            for r in conn.execute(sa.select(tarInvoice.c.TranAmt, tarInvoice.c.Balance))
        ]
    assert any(b == 0 for _, b in balances), "some invoices are paid"
    assert any(0 < b < a for a, b in balances), "some invoices are partially paid"
    # Seeding again is a no-op.
    before = snapshot(engine)
    assert seed_demo(engine, customers=50, invoices=196, today=TODAY).created is False
    assert snapshot(engine) == before


def test_demo_seed_is_deterministic(tmp_path: Path) -> None:
    def dump(name: str) -> list[tuple[Any, ...]]:
        eng = sa.create_engine(f"sqlite:///{tmp_path}/{name}.db")
        seed_demo(eng, customers=20, invoices=58, today=TODAY)
        with eng.connect() as conn:
            result = [
                tuple(r)
                for r in conn.execute(
                    sa.select(tarCustomer.c.CustID, tarCustomer.c.CustName, tarInvoice.c.TranID)
                    .join(tarInvoice, tarInvoice.c.CustKey == tarCustomer.c.CustKey)
                    .order_by(tarInvoice.c.TranID)
                )
            ]
        eng.dispose()
        return result

    assert dump("a") == dump("b")


def test_create_schema_is_idempotent(engine: sa.Engine) -> None:
    before = snapshot(engine)
    create_schema(engine)
    assert snapshot(engine) == before


# --- reads ---------------------------------------------------------------------------------


def test_connector_satisfies_protocol(engine: sa.Engine) -> None:
    erp = connector(engine)
    assert isinstance(erp, ErpConnector)
    assert erp.erp_name == "sage500"


def test_find_customer(engine: sa.Engine) -> None:
    erp = connector(engine)
    acme = erp.find_customer(customer_id="C0001")
    assert acme is not None
    assert (acme.name, acme.active, acme.on_hold) == ("Acme Supply Co.", True, False)
    assert acme.paytrace_customer_id == "acme-supply"
    birch = erp.find_customer(paytrace_customer_id="birch-hardware")
    assert birch is not None and birch.customer_id == "C0002"
    fallback = erp.find_customer(customer_id="NOPE", paytrace_customer_id="acme-supply")
    assert fallback is not None and fallback.customer_id == "C0001"
    assert erp.find_customer(customer_id="NOPE") is None
    assert erp.find_customer() is None
    with engine.begin() as conn:
        conn.execute(
            sa.update(tarCustomer).where(tarCustomer.c.CustID == "C0001").values(Status=2, Hold=1)
        )
    acme = erp.find_customer(customer_id="C0001")
    assert acme is not None and (acme.active, acme.on_hold) == (False, True)


def test_find_customer_by_other_user_field(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(tarCustomer).where(tarCustomer.c.CustID == "C0002").values(UserFld3="pt-77")
        )
    erp = connector(engine, paytrace_id_field="UserFld3")
    found = erp.find_customer(paytrace_customer_id="pt-77")
    assert found is not None and found.customer_id == "C0002"
    assert found.paytrace_customer_id == "pt-77"
    with pytest.raises(ValueError, match="NoSuchField"):
        Sage500Connector(engine, paytrace_id_field="NoSuchField")
    with pytest.raises(ValueError, match="CustName cannot hold the PayTrace id"):
        Sage500Connector(engine, paytrace_id_field="CustName")


def test_invoice_by_number(engine: sa.Engine) -> None:
    erp = connector(engine, invoice_prefixes=("INV-",))
    for typed in ("1001", " inv-0001001 ", "0000001001", "INV-1001"):
        inv = erp.invoice_by_number(typed)
        assert inv is not None, typed
        assert inv.invoice_number == "1001"
        assert inv.customer_id == "C0001"
        assert inv.amount == Decimal("125.00") and inv.balance == Decimal("125.00")
        assert inv.invoice_date == TODAY and inv.due_date == date(2025, 7, 2)
    assert erp.invoice_by_number("999999") is None
    assert erp.invoice_by_number("") is None
    assert erp.invoice_by_number("   ") is None
    assert erp.invoice_by_number("12345678901") is None


def test_invoice_by_number_returns_paid_invoices(engine: sa.Engine) -> None:
    paid_no = one(
        engine,
        sa.select(sa.func.min(tarInvoice.c.TranNo)).where(tarInvoice.c.Balance == 0),
    )
    inv = connector(engine).invoice_by_number(str(int(paid_no)))
    assert inv is not None and inv.balance == Decimal("0.00") and inv.amount > 0


def test_invoice_by_number_uses_the_tranno_index(engine: sa.Engine) -> None:
    seen: list[tuple[str, Any]] = []

    def before_cursor(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        seen.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", before_cursor)
    try:
        connector(engine).invoice_by_number("1001")
    finally:
        sa.event.remove(engine, "before_cursor_execute", before_cursor)
    statement, params = next(s for s in seen if "tarInvoice" in s[0])
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            explain = f"EXPLAIN QUERY PLAN {statement}"
        else:  # a tiny table is cheapest to scan: ask whether the index can serve the query
            conn.exec_driver_sql("SET enable_seqscan = off")
            explain = f"EXPLAIN {statement}"
        plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(explain, params))
    assert "ix_tarInvoice_TranNo" in plan, plan


def test_open_invoices(engine: sa.Engine) -> None:
    erp = connector(engine)
    acme = erp.open_invoices("C0001")
    assert [(i.invoice_number, i.balance, i.due_date) for i in acme] == [
        ("1002", Decimal("80.50"), date(2025, 6, 22)),  # oldest due first
        ("1001", Decimal("125.00"), date(2025, 7, 2)),
    ]
    birch = erp.open_invoices("C0002")
    assert [i.invoice_number for i in birch] == ["1004", "1003"]
    assert all(i.balance.as_tuple().exponent == -2 for i in acme + birch)
    assert erp.open_invoices("NOPE") == []
    # Generated customers: paid invoices are left out.
    with engine.connect() as conn:
        cust_id, expected = conn.execute(
            sa.select(tarCustomer.c.CustID, sa.func.count())
            .join(tarInvoice, tarInvoice.c.CustKey == tarCustomer.c.CustKey)
            .where(tarInvoice.c.Balance > 0, tarCustomer.c.CustID == "C0010")
            .group_by(tarCustomer.c.CustID)
        ).one()
    assert len(erp.open_invoices(cust_id)) == expected


# --- writes and posting --------------------------------------------------------------------


def test_write_and_post_emulated_pays_the_invoice(engine: sa.Engine) -> None:
    erp = connector(engine)
    record = erp.write_receipt(receipt(("1001", "125.00")))
    assert record.created is True and record.status is ReceiptStatus.PENDING
    assert (record.erp, record.customer_id, record.amount) == ("sage500", "C0001", Decimal("125"))
    assert record.erp_document == "0000000001-PA" and record.batch == "ARCR-0000001"
    assert invoice_balance(engine, 1001) == Decimal("125.000")  # pending: not posted yet
    assert erp.find_receipt(PT_ID) == record.model_copy(update={"created": False})

    posted = erp.post_receipt(PT_ID)
    assert posted.status is ReceiptStatus.POSTED and posted.created is False
    assert invoice_balance(engine, 1001) == Decimal("0.000")
    inv = rows(engine, tarInvoice, tarInvoice.c.TranNo == "0000001001")[0]
    assert inv["BalanceHC"] == Decimal("0.000")
    assert (inv["UpdateUserID"], inv["UpdateCounter"]) == ("tracepost", 1)
    batch = rows(engine, tciBatchLog, tciBatchLog.c.BatchID == "ARCR-0000001")[0]
    assert (batch["Status"], batch["PostStatus"], batch["BatchType"]) == (6, 500, 503)
    pmt = rows(engine, tarCustPmt)
    assert len(pmt) == 1 and pmt[0]["TranID"] == "0000000001-PA"
    assert pmt[0]["TranAmt"] == Decimal("125.000") and pmt[0]["UnappliedAmt"] == 0
    appl = rows(engine, tarCustPmtAppl)
    assert len(appl) == 1
    assert appl[0]["ApplyFromPmtKey"] == pmt[0]["CustPmtKey"]
    assert appl[0]["ApplyToInvcKey"] == inv["InvcKey"] and appl[0]["PmtAmt"] == Decimal("125")
    assert rows(engine, tarPendCustPmt) == [] and rows(engine, tarPendCustPmtAppl) == []
    assert erp.find_receipt(PT_ID) == posted
    assert erp.invoice_by_number("1001").balance == 0  # type: ignore[union-attr]
    assert [i.invoice_number for i in erp.open_invoices("C0001")] == ["1002"]


def test_write_twice_and_post_twice_are_idempotent(engine: sa.Engine) -> None:
    erp = connector(engine)
    first = erp.write_receipt(receipt(("1001", "125.00")))
    second = erp.write_receipt(receipt(("1001", "125.00")))
    assert first.created is True and second.created is False
    assert second == first.model_copy(update={"created": False})
    assert len(rows(engine, tarPendCustPmt)) == 1
    assert len(rows(engine, tptPaytraceXref)) == 1
    erp.post_receipt(PT_ID)
    again = erp.post_receipt(PT_ID)
    assert again.status is ReceiptStatus.POSTED
    assert invoice_balance(engine, 1001) == Decimal("0.000")
    assert len(rows(engine, tarCustPmtAppl)) == 1
    # Writing again after posting still returns the posted record, nothing new.
    third = erp.write_receipt(receipt(("1001", "125.00")))
    assert third.status is ReceiptStatus.POSTED and third.created is False
    assert len(rows(engine, tarCustPmt)) == 1


def test_on_account_remainder(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "125.00"), on_account="5.00"))
    pend = rows(engine, tarPendCustPmt)[0]
    assert pend["TranAmt"] == Decimal("130.000") and pend["UnappliedAmt"] == Decimal("5.000")
    erp.post_receipt(PT_ID)
    pmt = rows(engine, tarCustPmt)[0]
    assert pmt["UnappliedAmt"] == Decimal("5.000") and pmt["UnappliedAmtHC"] == Decimal("5.000")
    assert invoice_balance(engine, 1001) == 0


def test_on_account_only_receipt(engine: sa.Engine) -> None:
    erp = connector(engine)
    record = erp.write_receipt(receipt(on_account="50.00", customer="C0002"))
    assert record.amount == Decimal("50.00")
    assert rows(engine, tarPendCustPmtAppl) == []
    erp.post_receipt(PT_ID)
    assert rows(engine, tarCustPmt)[0]["UnappliedAmt"] == Decimal("50.000")


def test_short_pay_write_off(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1002", "80.00", "0.50")))
    appl = rows(engine, tarPendCustPmtAppl)[0]
    assert appl["PmtAmt"] == Decimal("80.000") and appl["WriteOffAmt"] == Decimal("0.500")
    assert rows(engine, tarPendCustPmt)[0]["TranAmt"] == Decimal("80.000")
    erp.post_receipt(PT_ID)
    assert invoice_balance(engine, 1002) == Decimal("0.000")


def test_partial_payment_leaves_balance(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1003", "250.25"), customer="C0002"))
    erp.post_receipt(PT_ID)
    assert invoice_balance(engine, 1003) == Decimal("999.750")
    inv = erp.invoice_by_number("1003")
    assert inv is not None and inv.balance == Decimal("999.75")


def test_multi_invoice_receipt_and_numbering(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1004", "40.00"), ("1003", "1250.00"), customer="C0002"))
    appls = sorted(rows(engine, tarPendCustPmtAppl), key=lambda r: r["SeqNo"])
    assert [(a["SeqNo"], a["ApplyToTranID"]) for a in appls] == [
        (1, "0000001004-IN"),
        (2, "0000001003-IN"),
    ]
    assert rows(engine, tciBatchLog, tciBatchLog.c.BatchType == 503)[0]["NextSeqNo"] == 3
    second = erp.write_receipt(receipt(("1001", "25.00"), pt_id=PT_ID + 1))
    assert (second.batch, second.erp_document) == ("ARCR-0000002", "0000000002-PA")
    erp.post_receipt(PT_ID)
    assert invoice_balance(engine, 1003) == 0 and invoice_balance(engine, 1004) == 0


def test_pending_applications_reduce_what_is_payable(engine: sa.Engine) -> None:
    erp = connector(engine, strategy=PostingStrategy.MANUAL)
    erp.write_receipt(receipt(("1001", "100.00")))
    inv = erp.invoice_by_number("1001")
    assert inv is not None and inv.balance == Decimal("25.00")
    before = snapshot(engine)
    with pytest.raises(InvoiceNotOpenError, match="1001"):
        erp.write_receipt(receipt(("1001", "30.00"), pt_id=PT_ID + 1))
    assert snapshot(engine) == before
    assert erp.write_receipt(receipt(("1001", "25.00"), pt_id=PT_ID + 2)).created
    assert [i.invoice_number for i in erp.open_invoices("C0001")] == ["1002"]


def _make_inactive(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(tarCustomer).where(tarCustomer.c.CustID == "C0001").values(Status=2))


def _make_on_hold(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(tarCustomer).where(tarCustomer.c.CustID == "C0001").values(Hold=1))


def _no_change(engine: sa.Engine) -> None:
    return None


@pytest.mark.parametrize(
    ("prepare", "bad", "error", "message"),
    [
        (_make_inactive, receipt(("1001", "125.00")), CustomerNotUsableError, "C0001.*not active"),
        (_make_on_hold, receipt(("1001", "125.00")), CustomerNotUsableError, "C0001.*hold"),
        (_no_change, receipt(("1001", "1.00"), customer="C9999"), CustomerNotUsableError, "C9999"),
        (
            _no_change,
            receipt(("1003", "100.00")),
            InvoiceNotOpenError,
            "1003 belongs to customer C0002, not to C0001",
        ),
        (_no_change, receipt(("1001", "130.00")), InvoiceNotOpenError, "1001.*exceeds"),
        (_no_change, receipt(("1001", "125.00", "1.00")), InvoiceNotOpenError, "1001.*exceeds"),
        (_no_change, receipt(("777777", "10.00")), InvoiceNotOpenError, "777777 does not exist"),
        (
            _no_change,
            receipt(("1001", "125.00"), amount="126.00"),
            ErpBusinessError,
            "do not add up",
        ),
        (_no_change, receipt(("1001", "5.00"), ("1001", "5.00")), ErpBusinessError, "twice"),
    ],
    ids=[
        "inactive",
        "on-hold",
        "unknown-customer",
        "other-customer",
        "over-apply",
        "over-write-off",
        "unknown-invoice",
        "sum-mismatch",
        "duplicate",
    ],
)
def test_validation_errors_write_nothing(
    engine: sa.Engine, prepare: Any, bad: CashReceipt, error: type[Exception], message: str
) -> None:
    prepare(engine)
    erp = connector(engine)
    before = snapshot(engine)
    with pytest.raises(error, match=message) as caught:
        erp.write_receipt(bad)
    assert getattr(caught.value, "retryable", None) is False
    assert snapshot(engine) == before
    assert erp.find_receipt(bad.paytrace_transaction_id) is None


def test_paid_invoice_is_not_open(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "125.00")))
    erp.post_receipt(PT_ID)
    with pytest.raises(InvoiceNotOpenError, match="1001 is not open"):
        erp.write_receipt(receipt(("1001", "1.00"), pt_id=PT_ID + 1))


def test_manual_strategy_leaves_the_batch_pending(engine: sa.Engine) -> None:
    erp = connector(engine, strategy=PostingStrategy.MANUAL)
    erp.write_receipt(receipt(("1001", "125.00")))
    record = erp.post_receipt(PT_ID)
    assert record.status is ReceiptStatus.PENDING
    batch = rows(engine, tciBatchLog, tciBatchLog.c.BatchID == record.batch)[0]
    assert (batch["Status"], batch["PostStatus"]) == (4, 0)
    assert invoice_balance(engine, 1001) == Decimal("125.000")
    assert len(rows(engine, tarPendCustPmt)) == 1 and rows(engine, tarCustPmt) == []
    # A Sage user posts the batch: the next post_receipt reports it posted.
    with engine.begin() as conn:
        conn.execute(
            sa.update(tciBatchLog)
            .where(tciBatchLog.c.BatchID == record.batch)
            .values(Status=6, PostStatus=500)
        )
    assert erp.post_receipt(PT_ID).status is ReceiptStatus.POSTED
    assert erp.find_receipt(PT_ID).status is ReceiptStatus.POSTED  # type: ignore[union-attr]


def test_procedures_strategy_needs_sql_server(engine: sa.Engine) -> None:
    erp = connector(engine, strategy=PostingStrategy.PROCEDURES)
    erp.write_receipt(receipt(("1001", "125.00")))
    before = snapshot(engine)
    with pytest.raises(ErpBusinessError, match=r"'procedures' .* needs\s+SQL Server"):
        erp.post_receipt(PT_ID)
    assert snapshot(engine) == before


def test_post_unknown_transaction(engine: sa.Engine) -> None:
    with pytest.raises(ErpBusinessError, match="424242"):
        connector(engine).post_receipt(424242)
    assert connector(engine).find_receipt(424242) is None


def test_emulated_posting_refuses_to_go_below_zero(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "125.00")))
    with engine.begin() as conn:  # the invoice was paid elsewhere meanwhile
        conn.execute(
            sa.update(tarInvoice)
            .where(tarInvoice.c.TranNo == "0000001001")
            .values(Balance=Decimal("100.000"), BalanceHC=Decimal("100.000"))
        )
    before = snapshot(engine)
    with pytest.raises(InvoiceNotOpenError, match="0000001001-IN"):
        erp.post_receipt(PT_ID)
    assert snapshot(engine) == before


def test_unreachable_database_is_retryable(tmp_path: Path) -> None:
    erp = Sage500Connector(sa.create_engine(f"sqlite:///{tmp_path}/missing/dir/erp.db"))
    with pytest.raises(ErpUnavailableError) as caught:
        erp.find_customer(customer_id="C0001")
    assert caught.value.retryable is True
    with pytest.raises(ErpUnavailableError):
        erp.write_receipt(receipt(("1001", "125.00")))
    assert isinstance(caught.value.__cause__, sa.exc.OperationalError)
    assert isinstance(caught.value.__cause__.orig, sqlite3.OperationalError)


# --- golden rows -----------------------------------------------------------------------------


def test_golden_rows_of_one_receipt(engine: sa.Engine) -> None:
    """The exact rows one receipt writes (reviewed; see docs/erp/sage500.md)."""
    erp = connector(engine)
    erp.write_receipt(receipt(("1002", "80.00", "0.50"), on_account="4.25"))
    (batch_log,) = rows(engine, tciBatchLog, tciBatchLog.c.BatchType == 503)
    assert batch_log == {
        "BatchKey": 2,  # key 1 is the seeded invoice batch
        "BatchID": "ARCR-0000001",
        "BatchNo": 1,
        "BatchType": 503,
        "Status": 4,
        "PostStatus": 0,
        "SourceCompanyID": "SOA",
        "PostCompanyID": "SOA",
        "BatchCmnt": "PT 1000123 (VISA)",
        "PostDate": datetime(2025, 6, 2),
        "NextSeqNo": 2,
        "RgstrPrinted": 0,
        "CreateDate": NOW,
        "CreateUserID": "tracepost",
        "UpdateCounter": 0,
    }
    (batch,) = rows(engine, tarBatch, tarBatch.c.BatchKey == 2)
    assert batch == {
        "BatchKey": 2,
        "CashAcctKey": 2,  # CARD-CLEARING, GL 1010
        "BatchCmnt": "PT 1000123 (VISA)",
        "PostDate": datetime(2025, 6, 2),
        "Hold": 0,
        "Private": 0,
        "SourceModule": 5,
    }
    (pmt,) = rows(engine, tarPendCustPmt)
    assert pmt == {
        "CustPmtKey": 1,
        "CompanyID": "SOA",
        "CustKey": 1,
        "BatchKey": 2,
        "CashAcctKey": 2,
        "TranID": "0000000001-PA",
        "TranNo": "0000000001",
        "TranType": 510,
        "TranDate": datetime(2025, 6, 2),
        "PostDate": datetime(2025, 6, 2),
        "TranAmt": Decimal("84.250"),
        "TranAmtHC": Decimal("84.250"),
        "UnappliedAmt": Decimal("4.250"),
        "UnappliedAmtHC": Decimal("4.250"),
        "CurrID": "USD",
        "CurrExchRate": 1.0,
        "Status": 1,
        "SourceModule": 5,
        "TranCmnt": "PT 1000123 (VISA)",
        "CreateDate": NOW,
        "CreateUserID": "tracepost",
        "UpdateDate": None,
        "UpdateUserID": None,
        "UpdateCounter": 0,
        "CreateType": 1,
    }
    (appl,) = rows(engine, tarPendCustPmtAppl)
    assert appl == {
        "CustPmtApplKey": 1,
        "BatchKey": 2,
        "SeqNo": 1,
        "AppliedAtCreation": 1,
        "ApplyFromPmtKey": 1,
        "ApplyFromTranID": "0000000001-PA",
        "ApplyFromTranDate": datetime(2025, 6, 2),
        "ApplyToInvcKey": 2,
        "ApplyToTranID": "0000001002-IN",
        "ApplyToTranDate": datetime(2025, 5, 23),
        "CurrExchRate": 1.0,
        "PmtAmt": Decimal("80.000"),
        "PmtAmtIC": Decimal("80.000"),
        "DiscTakenAmt": Decimal("0.000"),
        "DiscTakenAmtIC": Decimal("0.000"),
        "WriteOffAmt": Decimal("0.500"),
        "WriteOffAmtIC": Decimal("0.500"),
        "RealGainLossAmt": Decimal("0.000"),
        "CreateDate": NOW,
        "CreateUserID": "tracepost",
        "UpdateCounter": 0,
    }
    (xref,) = rows(engine, tptPaytraceXref)
    assert xref == {
        "DocKind": "receipt",
        "SourceKey": str(PT_ID),
        "PaytraceTranID": PT_ID,
        "CompanyID": "SOA",
        "CustID": "C0001",
        "DocKey": 1,
        "DocNo": "0000000001-PA",
        "BatchKey": 2,
        "BatchID": "ARCR-0000001",
        "Amount": Decimal("84.250"),
        "DocDate": date(2025, 6, 2),
        "AppliedTo": "1002",
        "Status": "pending",
        "CreateDate": NOW,
        "UpdateDate": None,
        "PaymentSource": "card",
    }


# --- SQL Server compatibility ----------------------------------------------------------------


def test_every_statement_compiles_for_mssql(engine: sa.Engine) -> None:
    emulated = connector(engine, invoice_prefixes=("INV-",))
    manual = connector(engine, strategy=PostingStrategy.MANUAL)
    with captured(engine) as statements:
        emulated.find_customer(customer_id="C0001")
        emulated.find_customer(paytrace_customer_id="birch-hardware")
        emulated.invoice_by_number("INV-1001")
        emulated.open_invoices("C0001")
        emulated.find_receipt(PT_ID)
        emulated.write_receipt(receipt(("1001", "120.00", "5.00"), on_account="1.00"))
        emulated.write_receipt(receipt(("1001", "120.00", "5.00"), on_account="1.00"))
        emulated.post_receipt(PT_ID)
        emulated.post_receipt(PT_ID)
        manual.write_receipt(receipt(("1003", "10.00"), customer="C0002", pt_id=PT_ID + 1))
        manual.post_receipt(PT_ID + 1)
        with pytest.raises(InvoiceNotOpenError):
            emulated.write_receipt(receipt(("1004", "99.00"), customer="C0002", pt_id=9))
    assert len(statements) > 30
    dialect = mssql.dialect()
    compiled = []
    for stmt in statements:
        assert isinstance(stmt, sa.Select | sa.Insert | sa.Update | sa.Delete), type(stmt)
        compiled.append(str(stmt.compile(dialect=dialect)))
    locking = [s for s in compiled if "UPDLOCK" in s]
    assert any("[tarInvoice] WITH (UPDLOCK, ROWLOCK)" in s for s in locking)
    assert any("[tciBatchLog] WITH (UPDLOCK, ROWLOCK)" in s for s in locking)
    assert not any("FOR UPDATE" in s or "LIMIT" in s for s in compiled)


# --- concurrency -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shared",
    [receipt(("1001", "125.00")), receipt(on_account="75.00", customer="C0002")],
    ids=["applied", "on-account"],
)
def test_racing_writers_write_one_receipt(engine: sa.Engine, shared: CashReceipt) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row-lock race exercised on PostgreSQL")
    erp = connector(engine)
    results = race(8, lambda _: erp.write_receipt(shared))
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert sum(1 for r in results if r.created) == 1
    assert len({r.model_copy(update={"created": False}) for r in results}) == 1
    assert len(rows(engine, tarPendCustPmt)) == 1
    assert len(rows(engine, tptPaytraceXref)) == 1
    assert len(rows(engine, tciBatchLog, tciBatchLog.c.BatchType == 503)) == 1
    assert len(rows(engine, tarPendCustPmtAppl)) == len(shared.applications)


def test_racing_payments_cannot_over_apply_one_invoice(engine: sa.Engine) -> None:
    """Different payments for the same invoice at the same moment: one applies, the rest are refused."""
    race_payments_for_one_invoice(engine, connector(engine))


def test_racing_payments_safe_whatever_the_engines_isolation(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("isolation levels exercised on PostgreSQL")
    repeatable = sa.create_engine(engine.url, isolation_level="REPEATABLE READ")
    try:
        race_payments_for_one_invoice(engine, connector(repeatable))
    finally:
        repeatable.dispose()


def race_payments_for_one_invoice(engine: sa.Engine, erp: Sage500Connector) -> None:
    workers = 6
    results = race(
        workers, lambda i: erp.write_receipt(receipt(("1001", "125.00"), pt_id=PT_ID + 100 + i))
    )
    written = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(written) == 1 and written[0].created
    assert len(refused) == workers - 1
    assert all(isinstance(r, InvoiceNotOpenError) for r in refused), refused
    assert len(rows(engine, tarPendCustPmtAppl)) == 1
    assert len(rows(engine, tptPaytraceXref)) == 1
    invoice = erp.invoice_by_number("1001")
    assert invoice is not None and invoice.balance == Decimal("0.00")  # pending application counted


def test_closed_or_missing_period_is_refused_and_writes_nothing(engine: sa.Engine) -> None:
    erp = connector(engine)
    before = {t.name: len(rows(engine, t)) for t in (tciBatchLog, tarPendCustPmt, tptPaytraceXref)}
    last_year = receipt(("1001", "125.00")).model_copy(
        update={"receipt_date": date(TODAY.year - 1, 12, 31)}
    )
    with pytest.raises(ClosedPeriodError, match="is closed"):
        erp.write_receipt(last_year)
    far_future = receipt(("1001", "125.00")).model_copy(
        update={"receipt_date": date(TODAY.year + 30, 1, 1)}
    )
    with pytest.raises(ClosedPeriodError, match="no fiscal period"):
        erp.write_receipt(far_future)
    assert {
        t.name: len(rows(engine, t)) for t in (tciBatchLog, tarPendCustPmt, tptPaytraceXref)
    } == before


def test_posting_a_batch_deleted_in_sage_is_a_clear_business_error(engine: sa.Engine) -> None:
    manual = connector(engine, strategy=PostingStrategy.MANUAL)
    record = manual.write_receipt(receipt(("1001", "125.00")))
    with engine.begin() as conn:  # an AR clerk deletes the pending batch in Sage
        conn.execute(sa.delete(tarPendCustPmtAppl))
        conn.execute(sa.delete(tarPendCustPmt))
        conn.execute(sa.delete(tarBatch))
        conn.execute(sa.delete(tciBatchLog).where(tciBatchLog.c.BatchID == record.batch))
    with pytest.raises(ErpBusinessError, match="no longer exists"):
        connector(engine).post_receipt(PT_ID)
