"""Dynamics SL stand-in and connector (AR side), on real SQLite and PostgreSQL databases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql

from connectors.erp.dynamics_sl import STAND_IN, DynamicsSlConnector, receipts, reversals
from connectors.erp.dynamics_sl.ar_schema import (
    AR_Balances,
    ARAdjust,
    ARDoc,
    ARSetup,
    ARTran,
    Customer,
    SOAddress,
)
from connectors.erp.dynamics_sl.base import Batch, tptPaytraceXref
from connectors.erp.dynamics_sl.ledger import DEMO_ACCOUNTS
from connectors.erp.errors import (
    ClosedPeriodError,
    CustomerNotUsableError,
    DocumentNotFoundError,
    ErpBusinessError,
    ErpUnavailableError,
    InvoiceNotOpenError,
    MissingGlAccountError,
)
from connectors.erp.protocol import ErpConnector, PostingStrategy
from domain.erp_documents import (
    CreditMemo,
    CustomerProfile,
    DocumentKind,
    DocumentStatus,
    JournalEntry,
    JournalLine,
    PostalAddress,
    Reapplication,
    ReceiptReversal,
    ReversalReason,
    SalesOrder,
    SalesOrderLine,
)
from domain.models import Application, CashReceipt, PaymentSource, ReceiptStatus
from tests.erp_helpers import captured, race, rows

TODAY = date(2025, 6, 2)
NOW = datetime(2025, 6, 2, 14, 30, 0)
PT_ID = 1000123


@pytest.fixture
def engine(erp_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(erp_url)
    STAND_IN.seed_demo(eng, customers=30, invoices=90, today=TODAY)
    yield eng
    eng.dispose()


def connector(engine: sa.Engine, **kwargs: Any) -> DynamicsSlConnector:
    kwargs.setdefault("clock", lambda: NOW)
    return DynamicsSlConnector(engine, **kwargs)


def receipt(
    *apps: tuple[str, str] | tuple[str, str, str],
    on_account: str = "0.00",
    customer: str = "C0001",
    pt_id: int = PT_ID,
    amount: str | None = None,
    day: date = TODAY,
) -> CashReceipt:
    applications = tuple(
        Application(
            invoice_number=a[0],
            amount=Decimal(a[1]),
            write_off=Decimal(a[2] if len(a) > 2 else "0"),
        )
        for a in apps
    )
    total = sum((x.amount for x in applications), Decimal(on_account))
    return CashReceipt(
        paytrace_transaction_id=pt_id,
        customer_id=customer,
        amount=Decimal(amount) if amount else total,
        receipt_date=day,
        reference=f"PT {pt_id}",
        payment_method="VISA",
        applications=applications,
        on_account=Decimal(on_account),
    )


def doc(engine: sa.Engine, doc_type: str, ref: str) -> dict[str, Any]:
    (row,) = rows(engine, ARDoc, ARDoc.c.DocType == doc_type, ARDoc.c.RefNbr == ref.ljust(10))
    return row


def counts(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        state: dict[str, Any] = {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (Batch, ARDoc, ARTran, ARAdjust, tptPaytraceXref)
        }
        state["setup"] = tuple(conn.execute(sa.select(ARSetup)).one())
        state["balances"] = sorted(
            (r.RefNbr, r.DocBal) for r in conn.execute(sa.select(ARDoc.c.RefNbr, ARDoc.c.DocBal))
        )
    return state


# --- stand-in ------------------------------------------------------------------------------


def test_demo_well_known_rows(engine: sa.Engine) -> None:
    (acme,) = rows(engine, Customer, Customer.c.CustId == "C0001".ljust(15))
    assert acme["Name"].rstrip() == "Acme Supply Co." and acme["Status"] == "A"
    assert acme["User1"] == "acme-supply".ljust(30) or acme["User1"] == "acme-supply"
    assert [
        r["ShipToId"].rstrip()
        for r in rows(engine, SOAddress, SOAddress.c.CustId == acme["CustId"])
    ] == ["DEFAULT"]
    for ref, cust, amount in (
        ("001001", "C0001", 125.0),
        ("001002", "C0001", 80.5),
        ("001003", "C0002", 1250.0),
        ("001004", "C0002", 40.0),
    ):
        row = doc(engine, "IN", ref)
        assert row["CustId"].rstrip() == cust
        assert (row["OrigDocAmt"], row["DocBal"], row["Rlsed"], row["OpenDoc"]) == (
            amount,
            amount,
            1,
            1,
        )
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Customer)).scalar() == 30
        assert conn.execute(sa.select(sa.func.count()).select_from(ARDoc)).scalar() == 90
        bal = conn.execute(
            sa.select(AR_Balances.c.CurrBal).where(AR_Balances.c.CustID == "C0001".ljust(15))
        ).scalar()
        setup = conn.execute(sa.select(ARSetup)).one()
        statuses = set(conn.execute(sa.select(Customer.c.Status)).scalars())
    assert bal == 205.5
    assert setup.LastRefNbr.rstrip() == "001090" and setup.PerNbr == "202506"
    assert "A" in statuses
    assert STAND_IN.seed_demo(engine, today=TODAY).created is False


def test_connector_satisfies_protocol(engine: sa.Engine) -> None:
    erp = connector(engine)
    assert isinstance(erp, ErpConnector) and erp.erp_name == "dynamics_sl"
    with pytest.raises(ValueError, match="User3"):
        DynamicsSlConnector(engine, paytrace_id_field="User3")


# --- reads ---------------------------------------------------------------------------------


def test_reads(engine: sa.Engine) -> None:
    erp = connector(engine, invoice_prefixes=("INV-",))
    acme = erp.find_customer(paytrace_customer_id="acme-supply")
    assert acme is not None and acme.customer_id == "C0001" and acme.active and not acme.on_hold
    for typed in ("1001", " inv-001001 ", "0000001001"):
        inv = erp.invoice_by_number(typed)
        assert inv is not None and (inv.invoice_number, inv.customer_id) == ("001001", "C0001")
        assert inv.balance == Decimal("125.00") and inv.due_date == date(2025, 7, 2)
    assert erp.invoice_by_number("999999") is None and erp.invoice_by_number("") is None
    assert [(i.invoice_number, i.balance) for i in erp.open_invoices("C0001")] == [
        ("001002", Decimal("80.50")),
        ("001001", Decimal("125.00")),
    ]
    assert erp.open_balance("C0002") == Decimal("1290.00")
    period = erp.fiscal_period(TODAY)
    assert period is not None and period.label == "2025-06" and period.open
    detail = erp.get_customer("C0002")
    assert detail is not None and detail.email == "billing@birch-hardware.example"
    assert [c.customer_id for c in erp.find_customers(email=" BILLING@birch-hardware.example")] == [
        "C0002"
    ]
    assert [c.customer_id for c in erp.find_customers(name="acme supply co.")] == ["C0001"]


# --- receipts ------------------------------------------------------------------------------


def test_golden_rows_of_one_receipt(engine: sa.Engine) -> None:
    erp = connector(engine)
    record = erp.write_receipt(receipt(("1002", "80.00", "0.50"), on_account="4.25"))
    assert (record.erp_document, record.batch, record.created) == ("1000123", "000002", True)
    (batch,) = rows(engine, Batch, Batch.c.BatNbr == "000002".ljust(10))
    assert {
        k: batch[k]
        for k in (
            "Module",
            "BatNbr",
            "CpnyID",
            "BatType",
            "Status",
            "Rlsed",
            "EditScrnNbr",
            "JrnlType",
            "LedgerID",
            "PerPost",
            "PerEnt",
            "Descr",
            "BaseCuryID",
            "BalanceType",
            "CuryId",
            "CuryMultDiv",
            "CuryRate",
            "CtrlTot",
            "CrTot",
            "DrTot",
            "Crtd_Prog",
            "Crtd_User",
            "Crtd_DateTime",
        )
    } == {
        "Module": "AR",
        "BatNbr": "000002    ",
        "CpnyID": "0010      ",
        "BatType": "N",
        "Status": "B",
        "Rlsed": 0,
        "EditScrnNbr": "08030",
        "JrnlType": "AR ",
        "LedgerID": "0000      ",
        "PerPost": "202506",
        "PerEnt": "202506",
        "Descr": "PT 1000123 VISA".ljust(30),
        "BaseCuryID": "USD ",
        "BalanceType": "A",
        "CuryId": "USD ",
        "CuryMultDiv": "M",
        "CuryRate": 1.0,
        "CtrlTot": 84.25,
        "CrTot": 84.25,
        "DrTot": 0.0,
        "Crtd_Prog": "08030   ",
        "Crtd_User": "tracepost ",
        "Crtd_DateTime": NOW,
    }
    pa = doc(engine, "PA", "1000123")
    assert {
        k: pa[k]
        for k in (
            "CustId",
            "BatNbr",
            "BatSeq",
            "CpnyID",
            "BankAcct",
            "BankSub",
            "OrigDocAmt",
            "DocBal",
            "ApplAmt",
            "Rlsed",
            "OpenDoc",
            "PerPost",
            "DocDate",
            "DocDesc",
            "ApplBatNbr",
            "CuryRate",
            "CuryMultDiv",
        )
    } == {
        "CustId": "C0001".ljust(15),
        "BatNbr": "000002    ",
        "BatSeq": 0,
        "CpnyID": "0010      ",
        "BankAcct": "1010      ",
        "BankSub": "000000".ljust(24),
        "OrigDocAmt": 84.25,
        "DocBal": 84.25,
        "ApplAmt": 80.0,
        "Rlsed": 0,
        "OpenDoc": 1,
        "PerPost": "202506",
        "DocDate": datetime(2025, 6, 2),
        "DocDesc": "PT 1000123 VISA".ljust(30),
        "ApplBatNbr": "000002    ",
        "CuryRate": 1.0,
        "CuryMultDiv": "M",
    }
    sb = doc(engine, "SB", "000001")
    assert (sb["OrigDocAmt"], sb["BatNbr"], sb["BatSeq"], sb["OrigDocNbr"]) == (
        0.5,
        "000002    ",
        1,
        "1000123   ",
    )
    trans = sorted(
        rows(engine, ARTran, ARTran.c.BatNbr == "000002".ljust(10)),
        key=lambda r: (r["TranType"], r["LineNbr"]),
    )
    assert [
        (
            t["TranType"],
            t["RefNbr"],
            t["LineNbr"],
            t["DrCr"],
            t["Acct"],
            t["CostType"],
            t["SiteId"],
            t["TranAmt"],
            t["CuryUnitPrice"],
            t["Rlsed"],
            t["FiscYr"],
        )
        for t in trans
    ] == [
        (
            "PA",
            "1000123   ",
            -32767,
            "U",
            "1200      ",
            "IN      ",
            "001002    ",
            80.0,
            0.0,
            0,
            "2025",
        ),
        (
            "SB",
            "000001    ",
            -32767,
            "D",
            "6950      ",
            "        ",
            "          ",
            0.5,
            0.0,
            0,
            "2025",
        ),
        (
            "SB",
            "000001    ",
            -32511,
            "U",
            "1200      ",
            "IN      ",
            "001002    ",
            0.5,
            0.0,
            0,
            "2025",
        ),
    ]
    (xref,) = rows(engine, tptPaytraceXref)
    assert (
        xref["DocKind"],
        xref["SourceKey"],
        xref["DocNo"],
        xref["BatchID"],
        xref["Status"],
        xref["AppliedTo"],
        xref["CustID"],
    ) == ("receipt", "1000123", "1000123", "000002", "pending", "001002", "C0001")
    with engine.connect() as conn:
        setup = conn.execute(sa.select(ARSetup.c.LastBatNbr, ARSetup.c.LastWORefNbr)).one()
    assert tuple(setup) == ("000002    ", "000001    ")
    # The pending application is counted: only 0.00 of 80.50 left to pay.
    assert connector(engine).invoice_by_number("1002").balance == Decimal("0.00")  # type: ignore[union-attr]


def test_write_twice_post_emulated_and_again(engine: sa.Engine) -> None:
    erp = connector(engine)
    first = erp.write_receipt(receipt(("1001", "125.00"), on_account="5.00"))
    again = erp.write_receipt(receipt(("1001", "125.00"), on_account="5.00"))
    assert again == first.model_copy(update={"created": False})
    assert len(rows(engine, ARDoc, ARDoc.c.DocType == "PA")) == 1
    posted = erp.post_receipt(PT_ID)
    assert posted.status is ReceiptStatus.POSTED
    assert erp.post_receipt(PT_ID).status is ReceiptStatus.POSTED
    inv = doc(engine, "IN", "001001")
    assert (inv["DocBal"], inv["OpenDoc"], inv["PerClosed"]) == (0.0, 0, "202506")
    pa = doc(engine, "PA", "1000123")
    assert (pa["Rlsed"], pa["DocBal"], pa["OpenDoc"]) == (1, 5.0, 1)
    (adj,) = rows(engine, ARAdjust)
    assert (
        adj["AdjgDocType"],
        adj["AdjgRefNbr"],
        adj["AdjdDocType"],
        adj["AdjdRefNbr"],
        adj["AdjAmt"],
        adj["AdjBatNbr"],
        adj["PerAppl"],
    ) == ("PA", "1000123   ", "IN", "001001    ", 125.0, "000002    ", "202506")
    (batch,) = rows(engine, Batch, Batch.c.BatNbr == "000002".ljust(10))
    assert (batch["Status"], batch["Rlsed"]) == ("U", 1)
    offsets = rows(engine, ARTran, ARTran.c.BatNbr == "000002".ljust(10), ARTran.c.DrCr != "U")
    assert sorted((o["DrCr"], o["Acct"].rstrip(), o["TranAmt"]) for o in offsets) == [
        ("C", "1200", 130.0),
        ("D", "1010", 130.0),
    ]
    with engine.connect() as conn:
        bal = conn.execute(
            sa.select(AR_Balances.c.CurrBal).where(AR_Balances.c.CustID == "C0001".ljust(15))
        ).scalar()
    assert bal == 75.5
    assert [i.invoice_number for i in erp.open_invoices("C0001")] == ["001002"]
    assert (
        erp.write_receipt(receipt(("1001", "125.00"), on_account="5.00")).status
        is ReceiptStatus.POSTED
    )


def test_manual_and_procedures(engine: sa.Engine) -> None:
    manual = connector(engine, strategy=PostingStrategy.MANUAL)
    record = manual.write_receipt(receipt(("1001", "125.00")))
    assert manual.post_receipt(PT_ID).status is ReceiptStatus.PENDING
    assert doc(engine, "IN", "001001")["DocBal"] == 125.0
    with engine.begin() as conn:  # an SL user releases the batch
        conn.execute(
            sa.update(Batch)
            .where(Batch.c.BatNbr == record.batch.ljust(10))
            .values(Status="U", Rlsed=1)
        )
    assert manual.post_receipt(PT_ID).status is ReceiptStatus.POSTED
    procedures = connector(engine, strategy=PostingStrategy.PROCEDURES)
    procedures.write_receipt(receipt(("1003", "10.00"), customer="C0002", pt_id=7))
    before = counts(engine)
    with pytest.raises(ErpBusinessError, match="SQL Server"):
        procedures.post_receipt(7)
    assert counts(engine) == before
    with pytest.raises(DocumentNotFoundError):
        procedures.post_receipt(424242)


def _set_status(status: str) -> Any:
    def prepare(engine: sa.Engine) -> None:
        with engine.begin() as conn:
            conn.execute(
                sa.update(Customer)
                .where(Customer.c.CustId == "C0001".ljust(15))
                .values(Status=status)
            )

    return prepare


def _close_june(engine: sa.Engine) -> None:
    STAND_IN.set_period_open(engine, company_id="0010", day=TODAY, is_open=False)


def _nothing(engine: sa.Engine) -> None:
    return None


@pytest.mark.parametrize(
    ("prepare", "bad", "error", "message"),
    [
        (
            _set_status("I"),
            receipt(("1001", "1.00")),
            CustomerNotUsableError,
            "C0001 is not active",
        ),
        (
            _set_status("H"),
            receipt(("1001", "1.00")),
            CustomerNotUsableError,
            r"C0001 is on hold \(credit hold",
        ),
        (_close_june, receipt(("1001", "1.00")), ClosedPeriodError, "2025-06 .* is closed"),
        (_nothing, receipt(("1003", "1.00")), InvoiceNotOpenError, "belongs to customer C0002"),
        (_nothing, receipt(("1001", "125.01")), InvoiceNotOpenError, "exceeds"),
        (_nothing, receipt(("777777", "1.00")), InvoiceNotOpenError, "does not exist"),
        (_nothing, receipt(("1001", "1.00"), amount="2.00"), ErpBusinessError, "do not add up"),
        (_nothing, receipt(("1001", "1.00"), customer="C9999"), CustomerNotUsableError, "C9999"),
    ],
    ids=["inactive", "hold", "closed", "other-customer", "over", "unknown", "sum", "no-customer"],
)
def test_business_errors_write_nothing(
    engine: sa.Engine, prepare: Any, bad: CashReceipt, error: type[Exception], message: str
) -> None:
    prepare(engine)
    before = counts(engine)
    with pytest.raises(error, match=message) as caught:
        connector(engine).write_receipt(bad)
    assert getattr(caught.value, "retryable", None) is False
    assert counts(engine) == before


def test_closed_period_refuses_memos_and_reversals(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "125.00")))
    erp.post_receipt(PT_ID)
    _close_june(engine)
    before = counts(engine)
    with pytest.raises(ClosedPeriodError, match="closed"):
        erp.write_credit_memo(
            CreditMemo(
                paytrace_transaction_id=9,
                customer_id="C0001",
                amount=Decimal("1"),
                memo_date=TODAY,
                reference="r",
            )
        )
    with pytest.raises(ClosedPeriodError, match="closed"):
        erp.reverse_receipt(
            ReceiptReversal(
                key="v",
                paytrace_transaction_id=PT_ID,
                reason=ReversalReason.VOID,
                reversal_date=TODAY,
            )
        )
    assert counts(engine) == before
    # The next period is open: the void is dated into it.
    july = erp.reverse_receipt(
        ReceiptReversal(
            key="v",
            paytrace_transaction_id=PT_ID,
            reason=ReversalReason.VOID,
            reversal_date=date(2025, 7, 1),
        )
    )
    assert july.created and doc(engine, "NS", "1000123")["PerPost"] == "202507"


def test_paid_invoice_is_not_open_and_period_reopens(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "125.00")))
    erp.post_receipt(PT_ID)
    with pytest.raises(InvoiceNotOpenError, match=r"1001 is not open"):
        erp.write_receipt(receipt(("1001", "1.00"), pt_id=PT_ID + 1))
    paid = erp.invoice_by_number("1001")
    assert paid is not None and paid.balance == 0
    STAND_IN.set_period_open(engine, company_id="0010", day=TODAY, is_open=False)
    assert erp.fiscal_period(TODAY).open is False  # type: ignore[union-attr]
    STAND_IN.set_period_open(engine, company_id="0010", day=TODAY, is_open=True)
    assert erp.fiscal_period(TODAY).open is True  # type: ignore[union-attr]


# --- credit memos, reversals, reapplication -------------------------------------------------


def test_credit_memo_applied_to_open_invoice(engine: sa.Engine) -> None:
    erp = connector(engine)
    memo = CreditMemo(
        paytrace_transaction_id=555,
        customer_id="C0002",
        amount=Decimal("50.00"),
        memo_date=TODAY,
        reference="refund",
        apply_to_invoice="1004",
    )
    written = erp.write_credit_memo(memo)
    assert (written.erp_document, written.applied_to, written.created) == (
        "000001",
        ("001004",),
        True,
    )
    assert erp.write_credit_memo(memo).created is False
    cm = doc(engine, "CM", "000001")
    assert (cm["OrigDocAmt"], cm["ApplAmt"], cm["Rlsed"], cm["BatNbr"]) == (
        50.0,
        40.0,
        0,
        "000002    ",
    )
    (batch,) = rows(engine, Batch, Batch.c.BatNbr == "000002".ljust(10))
    assert batch["EditScrnNbr"] == "08010"
    erp.post_document(DocumentKind.CREDIT_MEMO, "555")
    assert doc(engine, "IN", "001004")["DocBal"] == 0.0
    cm = doc(engine, "CM", "000001")
    assert (cm["Rlsed"], cm["DocBal"], cm["OpenDoc"]) == (1, 10.0, 1)


def test_reverse_and_reapply(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "125.00"), ("1002", "80.50")))
    reversal = ReceiptReversal(
        key="cb:9",
        paytrace_transaction_id=PT_ID,
        reason=ReversalReason.CHARGEBACK,
        reversal_date=TODAY,
    )
    with pytest.raises(ErpBusinessError, match="not released"):
        erp.reverse_receipt(reversal)
    erp.post_receipt(PT_ID)
    written = erp.reverse_receipt(reversal)
    assert (written.kind, written.erp_document, written.applied_to) == (
        DocumentKind.REVERSAL,
        "1000123",
        ("001001", "001002"),
    )
    assert erp.reverse_receipt(reversal).created is False
    posted = erp.post_document(DocumentKind.REVERSAL, "cb:9")
    assert posted.status is DocumentStatus.POSTED
    assert [(i.invoice_number, i.balance) for i in erp.open_invoices("C0001")] == [
        ("001002", Decimal("80.50")),
        ("001001", Decimal("125.00")),
    ]
    with pytest.raises(ErpBusinessError, match="already reversed"):
        erp.reverse_receipt(reversal.model_copy(update={"key": "cb:10"}))
    reapplication = Reapplication(key="cb:9:won", paytrace_transaction_id=PT_ID, reapply_date=TODAY)
    again = erp.reapply_receipt(reapplication)
    assert erp.reapply_receipt(reapplication) == again.model_copy(update={"created": False})
    assert again.created and again.amount == Decimal("205.50") and again.erp_document == "001091"
    erp.post_document(DocumentKind.REAPPLICATION, "cb:9:won")
    assert erp.open_invoices("C0001") == []
    kinds = [d.kind for d in erp.documents_for_transaction(PT_ID)]
    assert sorted(kinds) == sorted(
        [DocumentKind.RECEIPT, DocumentKind.REVERSAL, DocumentKind.REAPPLICATION]
    )


# --- customers ----------------------------------------------------------------------------


def test_upsert_link_and_changes(engine: sa.Engine) -> None:
    clock = [datetime(2025, 6, 2, 15, 0)]
    erp = connector(engine, clock=lambda: clock[0])
    profile = CustomerProfile(
        customer_id="WEB0001",
        name="Nova Tools Inc.",
        email="ap@nova.example",
        phone="5095550100",
        terms="30",
        address=PostalAddress(
            line1="1 Nova Way", city="Boise", state="ID", postal_code="83702", country="USA"
        ),
    )
    created = erp.upsert_customer(profile)
    assert (created.name, created.address.city, created.terms, created.active) == (
        "Nova Tools Inc.",
        "Boise",
        "30",
        True,
    )
    (ship,) = rows(engine, SOAddress, SOAddress.c.CustId == "WEB0001".ljust(15))
    assert (ship["ShipToId"], ship["Addr1"].rstrip()) == ("DEFAULT   ", "1 Nova Way")
    clock[0] = datetime(2025, 6, 2, 16, 0)
    updated = erp.upsert_customer(profile.model_copy(update={"phone": "5095550199"}))
    assert updated.phone == "5095550199" and updated.updated_at == clock[0]
    linked = erp.link_paytrace_customer("WEB0001", "pt-nova")
    assert linked.paytrace_customer_id == "pt-nova"
    assert erp.link_paytrace_customer("WEB0001", "pt-nova") == linked
    with pytest.raises(ErpBusinessError, match="already linked"):
        erp.link_paytrace_customer("C0002", "pt-nova")
    narrow = connector(engine, paytrace_id_field="User5")
    with pytest.raises(ErpBusinessError, match="does not fit"):
        narrow.link_paytrace_customer("C0002", "pt-longer-than-ten")
    assert narrow.link_paytrace_customer("C0002", "pt-b").paytrace_customer_id == "pt-b"
    assert narrow.find_customer(paytrace_customer_id="pt-b").customer_id == "C0002"  # type: ignore[union-attr]
    with pytest.raises(ErpBusinessError, match="terms"):
        erp.upsert_customer(profile.model_copy(update={"terms": "ZZ"}))
    # Paging: every customer exactly once, equal timestamps included.
    clock[0] = datetime(2025, 7, 1)
    seen: list[str] = []
    cursor = ""
    while True:
        page = erp.customers_changed_since(cursor, limit=7)
        seen.extend(c.customer_id for c in page.customers)
        cursor = page.cursor
        if not page.more:
            break
    assert len(seen) == len(set(seen)) == 31 and seen[-1] == "WEB0001"
    assert erp.customers_changed_since(cursor).customers == ()


# --- SQL Server compatibility ----------------------------------------------------------------


def test_every_statement_compiles_for_mssql(engine: sa.Engine) -> None:
    erp = connector(engine, invoice_prefixes=("INV-",))
    with captured(engine) as statements:
        erp.find_customer(paytrace_customer_id="birch-hardware")
        erp.invoice_by_number("INV-1001")
        erp.open_invoices("C0001")
        erp.fiscal_period(TODAY)
        erp.write_receipt(receipt(("1001", "120.00", "5.00"), on_account="1.00"))
        erp.post_receipt(PT_ID)
        erp.write_credit_memo(
            CreditMemo(
                paytrace_transaction_id=8,
                customer_id="C0002",
                amount=Decimal("5"),
                memo_date=TODAY,
                reference="r",
                apply_to_invoice="1003",
            )
        )
        erp.post_document(DocumentKind.CREDIT_MEMO, "8")
        erp.reverse_receipt(
            ReceiptReversal(
                key="v1",
                paytrace_transaction_id=PT_ID,
                reason=ReversalReason.VOID,
                reversal_date=TODAY,
            )
        )
        erp.post_document(DocumentKind.REVERSAL, "v1")
        erp.reapply_receipt(
            Reapplication(key="v1:again", paytrace_transaction_id=PT_ID, reapply_date=TODAY)
        )
        erp.post_document(DocumentKind.REAPPLICATION, "v1:again")
        erp.customers_changed_since("", 5)
        erp.link_paytrace_customer("C0003", "pt-x")
        erp.upsert_customer(CustomerProfile(customer_id="NEW1", name="New One", terms="30"))
        erp.upsert_customer(CustomerProfile(customer_id="NEW1", name="New One Renamed"))
        erp.find_customers(paytrace_customer_id="pt-x")
        erp.find_customers(email="ap@acme-supply.example")
        erp.find_customers(name="Acme Supply Co.")
        erp.get_customer("C0001")
        erp.open_balance("C0002")
        erp.documents_for_transaction(PT_ID)
        erp.find_receipt(PT_ID)
        # ACH receipts and returns, a receipt's own bank account, bulk reads, memos, accounts.
        ach = receipt(("1004", "40.00"), customer="C0002", pt_id=PT_ID).model_copy(
            update={"source": PaymentSource.ACH, "cash_account": "1000/000000"}
        )
        erp.write_receipt(ach)
        erp.post_receipt(PT_ID, PaymentSource.ACH)
        erp.reverse_receipt(
            ReceiptReversal(
                key="ach-return:1",
                paytrace_transaction_id=PT_ID,
                reason=ReversalReason.ACH_RETURN,
                reversal_date=TODAY,
                source=PaymentSource.ACH,
            )
        )
        erp.post_document(DocumentKind.REVERSAL, "ach-return:1")
        erp.find_receipt(PT_ID, PaymentSource.ACH)
        erp.documents_for_transaction(PT_ID, PaymentSource.ACH)
        keys = [f"ach-{PT_ID}", *(str(n) for n in range(1200))]
        assert [d.key for d in erp.documents_by_keys(DocumentKind.RECEIPT, keys)] == keys[:1]
        assert erp.documents_dated(DocumentKind.RECEIPT, TODAY, TODAY)
        assert erp.gl_account_states(["1000", "1090/000000", "9999"])
        STAND_IN.add_credit_memo(
            engine,
            company_id="",
            customer_id="C0002",
            number="CM1",
            amount=Decimal("5.00"),
            memo_date=TODAY,
            comment="REFUND PT 1",
            apply_to="1003",
        )
        assert len(erp.flagged_refund_memos("refund pt", TODAY)) == 1
    dialect = mssql.dialect()
    compiled = []
    for stmt in statements:
        assert isinstance(stmt, sa.Select | sa.Insert | sa.Update | sa.Delete), type(stmt)
        compiled.append(str(stmt.compile(dialect=dialect)))
    locking = [s for s in compiled if "UPDLOCK" in s]
    for table in ("ARDoc", "ARSetup", "Batch", "tptPaytraceXref", "AR_Balances", "Customer"):
        assert any(f"[{table}] WITH (UPDLOCK, ROWLOCK)" in s for s in locking), table
    assert not any("FOR UPDATE" in s or "LIMIT" in s for s in compiled)
    assert any("[tptPaytraceXref].[SourceKey] IN" in s for s in compiled)
    assert any("[tptPaytraceXref].[DocDate] >=" in s for s in compiled)
    assert any("[tptPaytraceXref].[PaymentSource]" in s for s in compiled)
    memo_reads = [s for s in compiled if "lower(ltrim([ARDoc].[DocDesc])) LIKE" in s]
    assert memo_reads and all("NOT (EXISTS" in s for s in memo_reads)
    assert any("FROM [ARAdjust]" in s and "[ARAdjust].[AdjgRefNbr] IN" in s for s in compiled)
    assert any("FROM [SubAcct]" in s and "[SubAcct].[Sub] IN" in s for s in compiled)


# --- concurrency and faults (PostgreSQL) --------------------------------------------------------


@pytest.mark.parametrize(
    "shared",
    [receipt(("1001", "125.00")), receipt(on_account="9.00", customer="C0002")],
    ids=["applied", "on-account"],
)
def test_racing_writers_write_one_receipt(engine: sa.Engine, shared: CashReceipt) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row-lock race exercised on PostgreSQL")
    erp = connector(engine)
    results = race(6, lambda i: erp.write_receipt(shared))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sum(1 for r in results if r.created) == 1
    assert len(rows(engine, ARDoc, ARDoc.c.DocType == "PA")) == 1
    assert len(rows(engine, tptPaytraceXref)) == 1


def test_racing_links_of_one_paytrace_id_link_one_customer(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row-lock race exercised on PostgreSQL")
    erp = connector(engine)
    customers = [f"C{n:04d}" for n in range(3, 11)]
    for round_ in range(4):  # several rounds: a missing lock loses at least one of them
        pt_id = f"pt-contested-{round_}"

        def link(i: int, pt_id: str = pt_id) -> object:
            return erp.link_paytrace_customer(customers[i], pt_id)

        results = race(8, link)
        linked = [r for r in results if not isinstance(r, Exception)]
        refused = [r for r in results if isinstance(r, ErpBusinessError)]
        assert len(linked) == 1 and len(refused) == 7, results
        found = erp.find_customers(paytrace_customer_id=pt_id)
        assert [d.customer_id for d in found] == [linked[0].customer_id]
        for customer in customers:  # unlink for the next round
            with engine.begin() as conn:
                conn.execute(
                    sa.update(Customer)
                    .where(Customer.c.CustId == customer.ljust(15))
                    .values(User1=" " * 30)
                )


def test_racing_payments_never_over_apply(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row-lock race exercised on PostgreSQL")
    erp = connector(engine)
    results = race(
        5, lambda i: erp.write_receipt(receipt(("1001", "125.00"), pt_id=PT_ID + 10 + i))
    )
    written = [r for r in results if not isinstance(r, Exception)]
    assert len(written) == 1
    assert all(isinstance(r, InvoiceNotOpenError) for r in results if isinstance(r, Exception))
    assert len(rows(engine, ARTran, ARTran.c.DrCr == "U")) == 1


def test_killed_connection_leaves_nothing_and_retry_succeeds(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL")
    erp = connector(engine)
    before = counts(engine)

    def kill(conn: Any, clauseelement: Any, *args: Any) -> None:
        if isinstance(clauseelement, sa.Insert) and clauseelement.table is tptPaytraceXref:
            with engine.connect() as admin:
                admin.execute(
                    sa.text("SELECT pg_terminate_backend(:pid)"),
                    {"pid": conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()},
                )

    sa.event.listen(engine, "before_execute", kill)
    try:
        with pytest.raises(ErpUnavailableError):
            erp.write_receipt(receipt(("1001", "125.00")))
    finally:
        sa.event.remove(engine, "before_execute", kill)
    assert counts(engine) == before
    assert erp.write_receipt(receipt(("1001", "125.00"))).created is True


def test_deadlock_victim_is_retryable(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("deadlock exercised on PostgreSQL")
    erp = connector(engine)
    ready = threading.Event()
    go = threading.Event()
    holder_error: list[Exception] = []

    def holder() -> None:
        try:
            with engine.begin() as conn:
                # The holder waits longer before checking for deadlocks: the writer is the victim.
                conn.exec_driver_sql("SET LOCAL deadlock_timeout = '20s'")
                conn.execute(sa.update(ARSetup).values(AutoNSF=1))
                ready.set()
                go.wait(10)
                conn.execute(
                    sa.update(ARDoc).where(ARDoc.c.RefNbr == "001001".ljust(10)).values(NoteId=1)
                )
        except Exception as exc:  # noqa: BLE001 - asserted below
            holder_error.append(exc)

    def on_setup_lock(conn: Any, clauseelement: Any, *args: Any) -> None:
        # The writer holds the invoice lock and is about to wait for ARSetup.
        if isinstance(clauseelement, sa.Select) and ARSetup in clauseelement.get_final_froms():
            threading.Timer(0.2, go.set).start()

    thread = threading.Thread(target=holder)
    thread.start()
    assert ready.wait(10)
    sa.event.listen(engine, "before_execute", on_setup_lock)
    try:
        with pytest.raises(ErpUnavailableError) as caught:
            erp.write_receipt(receipt(("1001", "125.00")))
    finally:
        sa.event.remove(engine, "before_execute", on_setup_lock)
        thread.join(30)
    assert caught.value.retryable and "deadlock" in str(caught.value).lower()
    assert holder_error == []
    assert erp.find_receipt(PT_ID) is None
    assert erp.write_receipt(receipt(("1001", "125.00"))).created is True


def test_procedures_strategy_runs_the_release_calls(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SL's release runs on a connection of its own, after the write committed, then is checked."""
    from connectors.erp import procedures as shared
    from connectors.erp.dynamics_sl import procedures

    issued: list[Any] = []
    autocommit: list[bool] = []

    def sl_release(conn: sa.Connection, call: Any) -> dict[str, Any]:
        issued.append(call)
        # SL's release manages its own transactions: never nested in tracepost's.
        autocommit.append(conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT")
        if call.name in {"pp_08400", "pp_01400"}:  # SL's release marks the batch released
            with engine.begin() as own:
                own.execute(
                    sa.update(Batch)
                    .where(Batch.c.BatNbr == record.batch.ljust(10))
                    .values(Status="U", Rlsed=1)
                )
        return {"Refused": 0} if call.outputs else {}

    monkeypatch.setattr(shared, "require_mssql", lambda conn, label: None)
    erp = connector(engine, strategy=PostingStrategy.PROCEDURES, procedure_runner=sl_release)
    record = erp.write_receipt(receipt(("1001", "125.00")))
    posted = erp.post_receipt(PT_ID)
    assert posted.status is ReceiptStatus.POSTED
    expected = procedures.release_calls("AR", record.batch, erp._s.context("08400"))
    assert issued == expected
    assert autocommit == [True] * len(expected)
    assert erp.post_receipt(PT_ID).status is ReceiptStatus.POSTED
    assert len(issued) == len(expected)  # posted once: not released again


def test_procedures_that_leave_the_batch_unreleased_are_reported(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.erp import procedures as shared

    monkeypatch.setattr(shared, "require_mssql", lambda conn, label: None)
    erp = connector(
        engine,
        strategy=PostingStrategy.PROCEDURES,
        procedure_runner=lambda conn, call: {"Refused": 0} if call.outputs else {},
    )
    erp.write_receipt(receipt(("1001", "125.00")))
    with pytest.raises(ErpBusinessError, match=r"left AR batch .* unreleased"):
        erp.post_receipt(PT_ID)
    assert erp.find_receipt(PT_ID).status is ReceiptStatus.PENDING  # type: ignore[union-attr]


# --- delegated ledger writes -------------------------------------------------------------------


def test_delegated_journal_deposit_and_order(engine: sa.Engine) -> None:
    from connectors.erp.standin import ConnectorOptions
    from domain.erp_documents import Deposit, JournalEntry, JournalLine, SalesOrder, SalesOrderLine

    erp = STAND_IN.build_connector(engine, ConnectorOptions(clock=lambda: NOW))
    entry = JournalEntry(
        key="fees:batch:77",
        entry_date=TODAY,
        description="card fees",
        lines=(
            JournalLine(account="6100", debit=Decimal("3.10")),
            JournalLine(account="1010", credit=Decimal("3.10")),
        ),
    )
    journal = erp.write_journal(entry)
    assert journal.created and erp.write_journal(entry).created is False
    with captured(engine) as statements:
        assert erp.post_document(DocumentKind.JOURNAL, "fees:batch:77").status is (
            DocumentStatus.POSTED
        )
    erp.write_receipt(receipt(("1001", "125.00")))
    deposit = erp.write_deposit(
        Deposit(
            batch_number=77,
            deposit_date=TODAY,
            amount=Decimal("125.00"),
            receipt_transaction_ids=(PT_ID,),
        )
    )
    assert deposit.created and deposit.kind is DocumentKind.DEPOSIT
    assert erp.write_deposit(
        Deposit(
            batch_number=77,
            deposit_date=TODAY,
            amount=Decimal("125.00"),
            receipt_transaction_ids=(PT_ID,),
        )
    ) == deposit.model_copy(update={"created": False})
    assert deposit.key == "77"
    assert erp.post_document(DocumentKind.DEPOSIT, "77").status is DocumentStatus.POSTED
    dialect = mssql.dialect()
    for stmt in statements:  # the connector's own statements around the delegated writes
        assert isinstance(stmt, sa.Select | sa.Insert | sa.Update | sa.Delete), type(stmt)
        stmt.compile(dialect=dialect)
    assert any(
        "[Batch] WITH (UPDLOCK, ROWLOCK)" in str(s.compile(dialect=dialect)) for s in statements
    )
    order = SalesOrder(
        order_id="web-1",
        customer_id="C0001",
        order_date=TODAY,
        lines=(SalesOrderLine(item_id="WIDGET", quantity=Decimal(2), unit_price=Decimal("9.99")),),
    )
    written = erp.write_sales_order(order)
    assert written.created and erp.write_sales_order(order).created is False
    assert erp.post_document(DocumentKind.SALES_ORDER, "web-1").erp_document == written.erp_document


# --- numbering, edge cases ----------------------------------------------------------------


def test_numbering_skips_numbers_in_use_and_long_ids(engine: sa.Engine) -> None:
    with engine.begin() as conn:  # an SL user keyed batch 000002 by hand
        conn.execute(
            sa.insert(Batch),
            [{"Module": "AR", "BatNbr": "000002".ljust(10), "Status": "H", "CpnyID": "0010"}],
        )
    long_id = 12345678901
    record = connector(engine).write_receipt(receipt(("1001", "25.00"), pt_id=long_id))
    assert (record.batch, record.erp_document) == ("000003", "001091")
    with engine.connect() as conn:
        setup = conn.execute(sa.select(ARSetup.c.LastBatNbr, ARSetup.c.LastRefNbr)).one()
    assert tuple(setup) == ("000003".ljust(10), "001091".ljust(10))


def test_invoice_number_of_two_customers_is_ambiguous(engine: sa.Engine) -> None:
    STAND_IN.add_invoice(
        engine,
        company_id="0010",
        customer_id="C0002",
        number="001001",
        amount=Decimal("10.00"),
        invoice_date=TODAY,
        due_date=TODAY,
    )
    erp = connector(engine)
    with pytest.raises(ErpBusinessError, match="several documents"):
        erp.invoice_by_number("1001")
    # Applying names the customer, so the payment still finds its own invoice.
    assert erp.write_receipt(receipt(("1001", "10.00"), customer="C0002")).created


def test_credit_memo_for_paid_invoice_stays_open_for_customer_on_hold(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "125.00")))
    erp.post_receipt(PT_ID)
    _set_status("H")(engine)
    memo = CreditMemo(
        paytrace_transaction_id=556,
        customer_id="C0001",
        amount=Decimal("125.00"),
        memo_date=TODAY,
        reference="refund",
        apply_to_invoice="1001",
    )
    written = erp.write_credit_memo(memo)
    assert written.applied_to == () and written.amount == Decimal("125.00")
    erp.post_document(DocumentKind.CREDIT_MEMO, "556")
    cm = doc(engine, "CM", "000001")
    assert (cm["Rlsed"], cm["DocBal"], cm["OpenDoc"]) == (1, 125.0, 1)
    with pytest.raises(CustomerNotUsableError, match="hold"):
        erp.write_receipt(receipt(("1002", "1.00"), pt_id=77))


def test_dispute_flips_reverse_the_payment_in_force(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "125.00")))
    erp.post_receipt(PT_ID)
    for key in ("cb:1", "cb:1:lost-again"):
        reversal = ReceiptReversal(
            key=key,
            paytrace_transaction_id=PT_ID,
            reason=ReversalReason.CHARGEBACK,
            reversal_date=TODAY,
        )
        erp.reverse_receipt(reversal)
        erp.post_document(DocumentKind.REVERSAL, key)
        assert erp.invoice_by_number("1001").balance == Decimal("125.00")  # type: ignore[union-attr]
        if key == "cb:1":
            erp.reapply_receipt(
                Reapplication(key="cb:1:won", paytrace_transaction_id=PT_ID, reapply_date=TODAY)
            )
            erp.post_document(DocumentKind.REAPPLICATION, "cb:1:won")
            assert erp.invoice_by_number("1001").balance == Decimal("0.00")  # type: ignore[union-attr]
    reversals = [d for d in erp.documents_for_transaction(PT_ID) if d.kind is DocumentKind.REVERSAL]
    assert sorted(d.erp_document for d in reversals) == ["001091", "1000123"]
    with pytest.raises(DocumentNotFoundError):
        erp.reverse_receipt(reversal.model_copy(update={"key": "x", "paytrace_transaction_id": 1}))


def test_posting_a_batch_deleted_in_sl(engine: sa.Engine) -> None:
    manual = connector(engine, strategy=PostingStrategy.MANUAL)
    record = manual.write_receipt(receipt(("1001", "125.00")))
    with engine.begin() as conn:
        conn.execute(sa.delete(ARTran).where(ARTran.c.BatNbr == record.batch.ljust(10)))
        conn.execute(sa.delete(ARDoc).where(ARDoc.c.BatNbr == record.batch.ljust(10)))
        conn.execute(sa.delete(Batch).where(Batch.c.BatNbr == record.batch.ljust(10)))
    with pytest.raises(DocumentNotFoundError, match="no longer exists"):
        connector(engine).post_receipt(PT_ID)


def test_late_write_in_the_same_minute_is_not_skipped(engine: sa.Engine) -> None:
    clock = [datetime(2025, 6, 2, 15, 0)]
    erp = connector(engine, clock=lambda: clock[0])
    erp.upsert_customer(CustomerProfile(customer_id="Z9", name="Zeta"))
    page = erp.customers_changed_since("", limit=100)
    assert page.customers[-1].customer_id == "Z9" and not page.more
    # Another customer saved in the same SMALLDATETIME minute, sorting before Z9.
    erp.upsert_customer(CustomerProfile(customer_id="A1", name="Alpha"))
    again = erp.customers_changed_since(page.cursor)
    assert [c.customer_id for c in again.customers] == ["A1", "Z9"]
    clock[0] = datetime(2025, 6, 2, 15, 10)  # long after: one last repeat, then the cursor moves on
    last = erp.customers_changed_since(again.cursor)
    assert [c.customer_id for c in last.customers] == ["A1", "Z9"]
    assert last.cursor == "2025-06-02T15:00:00|Z9"
    settled = erp.customers_changed_since(last.cursor)
    assert settled.customers == () and not settled.more and settled.cursor == last.cursor


def test_demo_is_deterministic_and_realistic(tmp_path: Any) -> None:
    def dump(name: str) -> tuple[list[Any], list[Any]]:
        eng = sa.create_engine(f"sqlite:///{tmp_path}/{name}.db")
        STAND_IN.seed_demo(eng, customers=40, invoices=200, today=TODAY)
        with eng.connect() as conn:
            customers = [
                tuple(r) for r in conn.execute(sa.select(Customer).order_by(Customer.c.CustId))
            ]
            docs = [tuple(r) for r in conn.execute(sa.select(ARDoc).order_by(ARDoc.c.RefNbr))]
        eng.dispose()
        return customers, docs

    first = dump("a")
    assert first == dump("b")
    customers, docs = first
    names = [c[Customer.c.keys().index("Name")].rstrip() for c in customers]
    statuses = {c[Customer.c.keys().index("Status")] for c in customers}
    assert any("~" in n for n in names) and {"A", "I", "H"} <= statuses
    erp = connector(sa.create_engine(f"sqlite:///{tmp_path}/a.db"))
    person = next(c for c in customers if "~" in c[Customer.c.keys().index("Name")])
    detail = erp.get_customer(person[0].rstrip())
    assert detail is not None and "~" not in detail.name and detail.email and detail.address.city
    balances = [
        (d[ARDoc.c.keys().index("OrigDocAmt")], d[ARDoc.c.keys().index("DocBal")]) for d in docs
    ]
    assert len(docs) == 200 and all(d[ARDoc.c.keys().index("Rlsed")] == 1 for d in docs)
    assert any(b == 0 for _, b in balances) and any(0 < b < a for a, b in balances)


def test_emulated_release_refuses_to_go_below_zero(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "125.00")))
    with engine.begin() as conn:  # another release in SL paid part of it meanwhile
        conn.execute(
            sa.update(ARDoc)
            .where(ARDoc.c.DocType == "IN", ARDoc.c.RefNbr == "001001".ljust(10))
            .values(DocBal=100.0, CuryDocBal=100.0)
        )
    before = counts(engine)
    with pytest.raises(InvoiceNotOpenError, match=r"001001 has balance 100\.00"):
        erp.post_receipt(PT_ID)
    assert counts(engine) == before
    assert erp.find_receipt(PT_ID).status is ReceiptStatus.PENDING  # type: ignore[union-attr]


# --- review fixes --------------------------------------------------------------------------


def test_amounts_finer_than_a_cent_are_refused(engine: sa.Engine) -> None:
    erp = connector(engine)
    before = counts(engine)
    # 10.005 + 10.005 = 20.01, but each line rounds to 10.01: 20.02 applied from a 20.01 payment.
    with pytest.raises(ErpBusinessError, match="fractions of a cent"):
        erp.write_receipt(receipt(("1001", "10.005"), ("1002", "10.005")))
    with pytest.raises(ErpBusinessError, match="fractions of a cent"):
        erp.write_credit_memo(
            CreditMemo(
                paytrace_transaction_id=555,
                customer_id="C0001",
                amount=Decimal("1.005"),
                memo_date=TODAY,
                reference="refund",
            )
        )
    assert counts(engine) == before


def test_paytrace_id_longer_than_its_field_matches_no_customer(engine: sa.Engine) -> None:
    erp = connector(engine, paytrace_id_field="User5")  # char 10
    erp.link_paytrace_customer("C0001", "pt-1234567")
    assert erp.find_customer(paytrace_customer_id="pt-1234567") is not None
    assert erp.find_customer(paytrace_customer_id="pt-12345678") is None
    assert erp.find_customers(paytrace_customer_id="pt-12345678") == []
    # A CustId over char(15) is not the customer whose id is its first 15 characters.
    erp.upsert_customer(CustomerProfile(customer_id="ACMESUPPLYCORP1", name="Acme Corp"))
    STAND_IN.add_invoice(
        engine,
        company_id="0010",
        customer_id="ACMESUPPLYCORP1",
        number="009001",
        amount=Decimal("50.00"),
        invoice_date=TODAY,
        due_date=TODAY,
    )
    assert erp.get_customer("ACMESUPPLYCORP1") is not None
    assert erp.get_customer("ACMESUPPLYCORP12") is None
    assert erp.open_invoices("ACMESUPPLYCORP12") == []
    with pytest.raises(CustomerNotUsableError):
        erp.write_receipt(receipt(on_account="5.00", customer="ACMESUPPLYCORP12"))
    with pytest.raises(CustomerNotUsableError):
        erp.link_paytrace_customer("ACMESUPPLYCORP12", "other")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"cash_account": "1090"}, "account 1090 is inactive"),
        ({"cash_account": "9999"}, "account 9999 does not exist"),
        ({"cash_account": "1010/NOSUCHSUB"}, "subaccount NOSUCHSUB does not exist"),
        ({"accounts": {"write_off": "9998"}}, "account 9998 does not exist"),
    ],
)
def test_receipt_to_a_missing_or_inactive_gl_account_is_refused(
    engine: sa.Engine, options: dict[str, Any], match: str
) -> None:
    erp = connector(engine, **options)
    before = counts(engine)
    with pytest.raises(MissingGlAccountError, match=match):
        erp.write_receipt(receipt(("1001", "120.00", "5.00")))
    assert counts(engine) == before
    assert erp.find_receipt(PT_ID) is None


def test_credit_memo_to_a_missing_refunds_account_is_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(ARSetup).values(RfndAcct=" " * 10))
    memo = CreditMemo(
        paytrace_transaction_id=555,
        customer_id="C0001",
        amount=Decimal("10.00"),
        memo_date=TODAY,
        reference="refund",
    )
    before = counts(engine)
    with pytest.raises(MissingGlAccountError, match="refunds"):
        connector(engine).write_credit_memo(memo)
    assert counts(engine) == before
    assert connector(engine, accounts={"refunds": "1000/000000"}).write_credit_memo(memo).created


def test_payment_of_many_invoices_is_written_and_reversed(engine: sa.Engine) -> None:
    numbers = [f"{7000000000 + i}" for i in range(30)]
    for number in numbers:
        STAND_IN.add_invoice(
            engine,
            company_id="0010",
            customer_id="C0002",
            number=number,
            amount=Decimal("1.00"),
            invoice_date=TODAY,
            due_date=TODAY,
        )
    erp = connector(engine)
    record = erp.write_receipt(receipt(*((n, "1.00") for n in numbers), customer="C0002"))
    assert record.created and record.amount == Decimal("30.00")
    (written,) = erp.documents_for_transaction(PT_ID)
    assert written.applied_to == tuple(numbers[: len(written.applied_to)])
    assert len(",".join(written.applied_to)) <= 255
    assert len(rows(engine, ARTran, ARTran.c.BatNbr == record.batch.ljust(10))) == 30
    erp.post_receipt(PT_ID)
    assert [i for i in erp.open_invoices("C0002") if i.invoice_number in numbers] == []
    reversal = ReceiptReversal(
        key="void:1", paytrace_transaction_id=PT_ID, reason=ReversalReason.VOID, reversal_date=TODAY
    )
    assert erp.reverse_receipt(reversal).created
    erp.post_document(DocumentKind.REVERSAL, "void:1")
    reopened = [i for i in erp.open_invoices("C0002") if i.invoice_number in numbers]
    assert len(reopened) == 30


def test_sales_order_for_a_customer_id_over_char_15_is_refused(engine: sa.Engine) -> None:
    erp = connector(engine, accounts=STAND_IN.demo_accounts)
    erp.upsert_customer(CustomerProfile(customer_id="ACMESUPPLYCORP1", name="Acme Corp"))
    order = SalesOrder(
        order_id="web-1",
        customer_id="ACMESUPPLYCORP12",
        order_date=TODAY,
        lines=(SalesOrderLine(item_id="WIDGET", quantity=Decimal(1), unit_price=Decimal(5)),),
    )
    with pytest.raises(CustomerNotUsableError, match="ACMESUPPLYCORP12"):
        erp.write_sales_order(order)
    assert erp.write_sales_order(
        order.model_copy(update={"customer_id": "ACMESUPPLYCORP1"})
    ).created


def test_reapplication_is_decided_under_the_invoice_locks(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: SQLite serializes whole write transactions")
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "125.00")))
    erp.post_receipt(PT_ID)
    erp.reverse_receipt(
        ReceiptReversal(
            key="cb:1",
            paytrace_transaction_id=PT_ID,
            reason=ReversalReason.CHARGEBACK,
            reversal_date=TODAY,
        )
    )
    erp.post_document(DocumentKind.REVERSAL, "cb:1")
    outcome: dict[str, Any] = {}

    def competing_payment() -> None:
        try:
            outcome["record"] = connector(engine).write_receipt(
                receipt(("1001", "125.00"), pt_id=2000)
            )
        except Exception as exc:  # noqa: BLE001 - recorded for the assertion
            outcome["error"] = exc

    racer = threading.Thread(target=competing_payment)
    real_write_payment = receipts.write_payment

    def write_payment_while_another_pays(conn: sa.Connection, payment: Any, settings: Any) -> bool:
        racer.start()
        racer.join(timeout=2)  # blocked by the reapplication's invoice lock once that is taken
        return real_write_payment(conn, payment, settings)

    monkeypatch.setattr(reversals, "write_payment", write_payment_while_another_pays)
    again = erp.reapply_receipt(
        Reapplication(key="cb:1:won", paytrace_transaction_id=PT_ID, reapply_date=TODAY)
    )
    racer.join(timeout=10)
    assert again.created and again.applied_to == ("001001",)
    assert isinstance(outcome.get("error"), InvoiceNotOpenError)
    erp.post_document(DocumentKind.REAPPLICATION, "cb:1:won")
    assert erp.invoice_by_number("1001").balance == Decimal("0.00")  # type: ignore[union-attr]


def test_emulated_release_refuses_a_period_closed_since_the_write(engine: sa.Engine) -> None:
    erp = connector(engine, accounts=DEMO_ACCOUNTS)
    erp.write_receipt(receipt(("1001", "125.00")))
    entry = JournalEntry(
        key="fees:1",
        entry_date=TODAY,
        description="card fees",
        lines=(
            JournalLine(account="6100", debit=Decimal("3.10")),
            JournalLine(account="1000", credit=Decimal("3.10")),
        ),
    )
    erp.write_journal(entry)
    STAND_IN.set_period_open(engine, company_id="0010", day=TODAY, is_open=False)
    before = counts(engine)
    with pytest.raises(ClosedPeriodError, match="2025-06"):
        erp.post_receipt(PT_ID)
    with pytest.raises(ClosedPeriodError, match="202506"):
        erp.post_document(DocumentKind.JOURNAL, "fees:1")
    assert counts(engine) == before
    assert erp.find_receipt(PT_ID).status is ReceiptStatus.PENDING  # type: ignore[union-attr]
    STAND_IN.set_period_open(engine, company_id="0010", day=TODAY, is_open=True)
    assert erp.post_receipt(PT_ID).status is ReceiptStatus.POSTED
    assert erp.post_document(DocumentKind.JOURNAL, "fees:1").status is DocumentStatus.POSTED


def test_terms_id_over_char_2_is_not_cut_to_other_terms(engine: sa.Engine) -> None:
    erp = connector(engine)
    with pytest.raises(ErpBusinessError, match="terms '300'"):
        erp.upsert_customer(CustomerProfile(customer_id="Z1", name="Zed", terms="300"))
    assert erp.get_customer("Z1") is None
    assert (
        erp.upsert_customer(CustomerProfile(customer_id="Z1", name="Zed", terms="30")).terms == "30"
    )


def test_reversal_key_longer_than_the_xref_key_is_a_business_error(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "125.00")))
    erp.post_receipt(PT_ID)
    before = counts(engine)
    reversal = ReceiptReversal(
        key="cb:" + "7" * 38,  # 41 characters: PostgreSQL refuses it with a DataError
        paytrace_transaction_id=PT_ID,
        reason=ReversalReason.CHARGEBACK,
        reversal_date=TODAY,
    )
    with pytest.raises(ErpBusinessError, match="longer than 40"):
        erp.reverse_receipt(reversal)
    with pytest.raises(ErpBusinessError, match="longer than 40"):
        erp.reapply_receipt(
            Reapplication(key=reversal.key, paytrace_transaction_id=PT_ID, reapply_date=TODAY)
        )
    assert counts(engine) == before


def test_descriptions_lead_with_their_own_paytrace_tag(engine: sa.Engine) -> None:
    """A reference naming another sale (PT 10001234) is not taken for this one's tag."""
    erp = connector(engine)
    r = receipt(("1001", "125.00")).model_copy(
        update={"reference": "refund of PT 10001234, order 4711 for a long customer name"}
    )
    record = erp.write_receipt(r)
    (payment,) = rows(engine, ARDoc, ARDoc.c.DocType == "PA")
    assert payment["DocDesc"] == "PT 1000123 refund of PT 100012"
    (batch,) = rows(engine, Batch, Batch.c.BatNbr == record.batch.ljust(10))
    assert batch["Descr"].startswith("PT 1000123 ")


def test_a_reference_number_the_customer_already_used_is_not_reused(engine: sa.Engine) -> None:
    """A clerk keyed check 1000123 by hand: tracepost's payment takes the next number instead,
    and reversing tracepost's payment leaves the clerk's payment alone."""
    erp = connector(engine)
    clerk = erp.write_receipt(receipt(on_account="10.00", pt_id=1))  # stands in for the clerk
    erp.post_receipt(1)
    with engine.begin() as conn:  # the clerk's payment carries the number PayTrace will use
        conn.execute(
            sa.update(ARDoc)
            .where(ARDoc.c.RefNbr == clerk.erp_document.ljust(10), ARDoc.c.DocType == "PA")
            .values(RefNbr=str(PT_ID).ljust(10))
        )
    ours = erp.write_receipt(receipt(("1001", "125.00")))
    assert ours.erp_document != str(PT_ID)
    erp.post_receipt(PT_ID)
    erp.reverse_receipt(
        ReceiptReversal(
            key="cb-1",
            paytrace_transaction_id=PT_ID,
            reason=ReversalReason.CHARGEBACK,
            reversal_date=TODAY,
        )
    )
    erp.post_document(DocumentKind.REVERSAL, "cb-1")
    (theirs,) = rows(engine, ARDoc, ARDoc.c.DocType == "PA", ARDoc.c.RefNbr == str(PT_ID).ljust(10))
    assert theirs["DocBal"] == 10.0  # the clerk's on-account payment is untouched
    assert doc(engine, "IN", "001001")["DocBal"] == 125.0
