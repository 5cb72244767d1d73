"""Sage 500 bank deposits (GL transfers) and sales orders, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.erp.errors import (
    ClosedPeriodError,
    CustomerNotUsableError,
    DocumentNotFoundError,
    ErpBusinessError,
    MissingGlAccountError,
)
from connectors.erp.protocol import PostingStrategy
from connectors.erp.sage500 import STAND_IN, Sage500Connector
from connectors.erp.sage500.schema import (
    SURROGATE_KEY_TABLES,
    metadata,
    tciBatchLog,
    tglPosting,
    tglTransaction,
    tptPaytraceDepositLink,
    tptPaytraceXref,
    tsoSalesOrder,
    tsoSOLine,
    tsoSOLineDist,
)
from domain.erp_documents import (
    Deposit,
    DocumentKind,
    DocumentStatus,
    SalesOrder,
    SalesOrderLine,
)
from tests.erp_helpers import race, rows
from tests.test_erp_sage500 import NOW, PT_ID, TODAY, receipt
from tests.test_erp_sage500_procedures import Recorder, allow_any_database, post_with

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite\\+pysqlite does \\*not\\* support")

BATCH = 77
DEPOSIT = Deposit(
    batch_number=BATCH,
    deposit_date=TODAY,
    amount=Decimal("203.10"),
    receipt_transaction_ids=(PT_ID, PT_ID + 1),
    reference="PayTrace batch 77 net of fees",
)
ORDER = SalesOrder(
    order_id="WEB-5001",
    customer_id="C0001",
    order_date=TODAY,
    lines=(
        SalesOrderLine(
            item_id="WIDGET-100",
            description="Widgets",
            quantity=Decimal("2"),
            unit_price=Decimal("19.99"),
        ),
        SalesOrderLine(item_id="GLOVES-L", quantity=Decimal("3"), unit_price=Decimal("4.50")),
    ),
    customer_po="PO-778",
    paytrace_transaction_id=PT_ID + 9,
)


@pytest.fixture
def engine(erp_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(erp_url)
    STAND_IN.seed_demo(eng, customers=50, invoices=196, today=TODAY)
    yield eng
    eng.dispose()


def connector(engine: sa.Engine, **kwargs: Any) -> Sage500Connector:
    return Sage500Connector(engine, clock=lambda: NOW, **kwargs)


def with_receipts(engine: sa.Engine) -> Sage500Connector:
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "125.00")))
    erp.write_receipt(receipt(("1002", "80.50"), pt_id=PT_ID + 1))
    return erp


# --- deposits ----------------------------------------------------------------------------------


def deposit_counts(engine: sa.Engine) -> tuple[int, ...]:
    """GL batches (type 301), GL staging and posted rows, receipt links, deposit xref rows."""
    with engine.connect() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count()).select_from(t).where(*w)).scalar_one()
            for t, w in (
                (tciBatchLog, (tciBatchLog.c.BatchType == 301,)),
                (tglPosting, ()),
                (tglTransaction, ()),
                (tptPaytraceDepositLink, ()),
                (tptPaytraceXref, (tptPaytraceXref.c.DocKind == "deposit",)),
            )
        )


def postings(engine: sa.Engine) -> list[dict[str, Any]]:
    found = sorted(rows(engine, tglPosting), key=lambda r: r["PostingKey"])
    for posting in found:
        posting["PostQty"] = Decimal(posting["PostQty"]).quantize(Decimal("0E-8"))
    return found


def test_golden_rows_of_a_deposit(engine: sa.Engine) -> None:
    doc = with_receipts(engine).write_deposit(DEPOSIT)
    assert (
        doc.kind,
        doc.key,
        doc.erp_document,
        doc.batch,
        doc.amount,
        doc.created,
        doc.status,
    ) == (
        DocumentKind.DEPOSIT,
        "77",
        "0000000001-JE",
        "GLJE-0000001",
        Decimal("203.10"),
        True,
        DocumentStatus.PENDING,
    )
    # Keys 1..3: the demo invoice batch and the two receipt batches.
    assert rows(engine, tciBatchLog, tciBatchLog.c.BatchType == 301) == [
        {
            "BatchKey": 4,
            "BatchID": "GLJE-0000001",
            "BatchNo": 1,
            "BatchType": 301,
            "Status": 4,
            "PostStatus": 0,
            "SourceCompanyID": "SOA",
            "PostCompanyID": "SOA",
            "BatchCmnt": "PayTrace batch 77 net of fees",
            "PostDate": datetime(2025, 6, 2),
            "NextSeqNo": 3,
            "RgstrPrinted": 0,
            "CreateDate": NOW,
            "CreateUserID": "tracepost",
            "UpdateCounter": 0,
        }
    ]
    common = {
        "BatchKey": 4,
        "CurrID": "USD",
        "PostQty": Decimal("0E-8"),
        "PostCmnt": "PayTrace batch 77 net of fees",
        "ExtCmnt": "PayTrace batch 77 net of fees",
        "JrnlNo": None,
        "TranDate": datetime(2025, 6, 2),
        "TranKey": None,
        "TranNo": "0000000001",
        "TranType": 301,
        "PostDate": datetime(2025, 6, 2),
        "SourceModuleNo": 3,
    }
    assert postings(engine) == [
        {
            "PostingKey": 1,
            "GLAcctKey": 1,  # 1000 Cash - Operating Bank (accounts["bank"]): debit
            "PostAmt": Decimal("203.100"),
            "PostAmtHC": Decimal("203.100"),
            **common,
        },
        {
            "PostingKey": 2,
            "GLAcctKey": 2,  # 1010 Undeposited Funds - Card (accounts["undeposited"]): credit
            "PostAmt": Decimal("-203.100"),
            "PostAmtHC": Decimal("-203.100"),
            **common,
        },
    ]
    links = sorted(rows(engine, tptPaytraceDepositLink), key=lambda r: r["PaytraceTranID"])
    assert links == [
        {
            "DepositKey": "77",
            "PaytraceTranID": PT_ID,
            "ReceiptRefNbr": "0000000001-PA",
            "ReceiptBatNbr": "ARCR-0000001",
            "Amount": Decimal("125.000"),
            "DepositBatNbr": "GLJE-0000001",
            "CreateDate": NOW,
        },
        {
            "DepositKey": "77",
            "PaytraceTranID": PT_ID + 1,
            "ReceiptRefNbr": "0000000002-PA",
            "ReceiptBatNbr": "ARCR-0000002",
            "Amount": Decimal("80.500"),
            "DepositBatNbr": "GLJE-0000001",
            "CreateDate": NOW,
        },
    ]
    (xref,) = rows(engine, tptPaytraceXref, tptPaytraceXref.c.DocKind == "deposit")
    assert xref == {
        "DocKind": "deposit",
        "SourceKey": "77",
        "PaytraceTranID": None,
        "CompanyID": "SOA",
        "CustID": "",
        "DocKey": None,
        "DocNo": "0000000001-JE",
        "BatchKey": 4,
        "BatchID": "GLJE-0000001",
        "Amount": Decimal("203.100"),
        "DocDate": date(2025, 6, 2),
        "AppliedTo": "",
        "Status": "pending",
        "CreateDate": NOW,
        "UpdateDate": None,
        "PaymentSource": None,
    }


def test_negative_net_deposit_runs_the_other_way(engine: sa.Engine) -> None:
    refunds_above_sales = DEPOSIT.model_copy(update={"amount": Decimal("-12.5"), "reference": ""})
    doc = with_receipts(engine).write_deposit(refunds_above_sales)
    assert (doc.amount, doc.batch) == (Decimal("-12.50"), "GLJE-0000001")
    assert [
        (p["GLAcctKey"], p["PostAmt"], p["PostCmnt"], p["ExtCmnt"]) for p in postings(engine)
    ] == [
        (1, Decimal("-12.500"), "PayTrace deposit batch 77", "PayTrace deposit batch 77"),
        (2, Decimal("12.500"), "PayTrace deposit batch 77", "PayTrace deposit batch 77"),
    ]
    assert rows(engine, tciBatchLog, tciBatchLog.c.BatchType == 301)[0]["BatchCmnt"] == (
        "PayTrace deposit batch 77"
    )
    (xref,) = rows(engine, tptPaytraceXref, tptPaytraceXref.c.DocKind == "deposit")
    assert xref["Amount"] == Decimal("-12.500")
    assert len(rows(engine, tptPaytraceDepositLink)) == 2


def test_deposit_once_and_posting(engine: sa.Engine) -> None:
    erp = with_receipts(engine)
    first = erp.write_deposit(DEPOSIT)
    assert erp.write_deposit(DEPOSIT) == first.model_copy(update={"created": False})
    assert deposit_counts(engine) == (1, 2, 0, 2, 1)
    manual = connector(engine, strategy=PostingStrategy.MANUAL)
    assert manual.post_document(DocumentKind.DEPOSIT, "77").status is DocumentStatus.PENDING
    assert deposit_counts(engine) == (1, 2, 0, 2, 1)
    posted = erp.post_document(DocumentKind.DEPOSIT, "77")
    assert posted.status is DocumentStatus.POSTED
    (batch,) = rows(engine, tciBatchLog, tciBatchLog.c.BatchType == 301)
    assert (batch["Status"], batch["PostStatus"]) == (6, 500)
    assert rows(engine, tglPosting) == []
    gl = sorted(rows(engine, tglTransaction), key=lambda r: r["glTranKey"])
    assert [
        (r["GLAcctKey"], r["PostAmt"], r["BatchKey"], r["CompanyID"], r["FiscYear"], r["FiscPer"])
        for r in gl
    ] == [
        (1, Decimal("203.100"), 4, "SOA", "2025", 6),
        (2, Decimal("-203.100"), 4, "SOA", "2025", 6),
    ]
    assert manual.post_document(DocumentKind.DEPOSIT, "77") == posted
    assert erp.post_document(DocumentKind.DEPOSIT, "77") == posted
    assert deposit_counts(engine) == (1, 0, 2, 2, 1)


def test_manual_deposit_is_posted_once_sage_posted_its_batch(engine: sa.Engine) -> None:
    manual = connector(engine, strategy=PostingStrategy.MANUAL)
    manual.write_receipt(receipt(("1001", "125.00")))
    manual.write_receipt(receipt(("1002", "80.50"), pt_id=PT_ID + 1))
    manual.write_deposit(DEPOSIT)
    with engine.begin() as conn:  # a Sage user posts the GL batch
        conn.execute(sa.update(tciBatchLog).where(tciBatchLog.c.BatchType == 301).values(Status=6))
    assert manual.post_document(DocumentKind.DEPOSIT, "77").status is DocumentStatus.POSTED
    assert rows(engine, tglTransaction) == []  # manual never posts GL itself


def test_procedures_strategy_treats_a_deposit_like_a_journal(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    erp = connector(engine, strategy=PostingStrategy.PROCEDURES)
    erp.write_receipt(receipt(("1001", "125.00")))
    erp.write_receipt(receipt(("1002", "80.50"), pt_id=PT_ID + 1))
    erp.write_deposit(DEPOSIT)
    with pytest.raises(ErpBusinessError, match="needs SQL Server"):
        erp.post_document(DocumentKind.DEPOSIT, "77")
    allow_any_database(monkeypatch)
    recorder = Recorder()
    with pytest.raises(ErpBusinessError, match=r"AR batches .* not batch type 301"):
        post_with(engine, recorder, DocumentKind.DEPOSIT, "77")
    assert recorder.calls == []
    assert rows(engine, tptPaytraceXref, tptPaytraceXref.c.DocKind == "deposit")[0]["Status"] == (
        "pending"
    )


def test_deposit_refusals_write_nothing(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "125.00")))
    with pytest.raises(DocumentNotFoundError, match=f"transaction\\(s\\) {PT_ID + 1}$"):
        erp.write_deposit(DEPOSIT)
    assert deposit_counts(engine) == (0, 0, 0, 0, 0)
    erp.write_receipt(receipt(("1002", "80.50"), pt_id=PT_ID + 1))
    erp.write_deposit(DEPOSIT)
    before = deposit_counts(engine)
    assert before == (1, 2, 0, 2, 1)
    with pytest.raises(
        ErpBusinessError,
        match=(
            "batch 78: receipt 0000000001-PA \\(PayTrace transaction 1000123\\) is already in"
            " the deposit of PayTrace batch 77 \\(GL batch GLJE-0000001\\)"
        ),
    ):
        erp.write_deposit(DEPOSIT.model_copy(update={"batch_number": 78}))
    with pytest.raises(ErpBusinessError, match="batch 79: net amount is zero"):
        erp.write_deposit(DEPOSIT.model_copy(update={"batch_number": 79, "amount": Decimal("0")}))
    with pytest.raises(
        ErpBusinessError, match=r"batch 79: amount -0\.0004 has fractions of a cent"
    ):
        erp.write_deposit(
            DEPOSIT.model_copy(update={"batch_number": 79, "amount": Decimal("-0.0004")})
        )
    with pytest.raises(ErpBusinessError, match="at least one receipt"):
        erp.write_deposit(
            DEPOSIT.model_copy(update={"batch_number": 79, "receipt_transaction_ids": ()})
        )
    with pytest.raises(ClosedPeriodError):
        erp.write_deposit(
            DEPOSIT.model_copy(update={"batch_number": 80, "deposit_date": date(2024, 5, 1)})
        )
    assert deposit_counts(engine) == before
    assert [erp.find_document(DocumentKind.DEPOSIT, k) for k in ("78", "79", "80")] == [None] * 3


def test_deposit_to_a_missing_or_inactive_account_is_refused(engine: sa.Engine) -> None:
    with_receipts(engine)
    for accounts, message in (
        ({"bank": "1999"}, "GL account 1999 does not exist"),
        ({"undeposited": "6990"}, "GL account 6990 of company SOA is not active"),
    ):
        erp = connector(engine, accounts=accounts)
        with pytest.raises(MissingGlAccountError, match=message):
            erp.write_deposit(DEPOSIT)
    assert deposit_counts(engine) == (0, 0, 0, 0, 0)


def test_a_receipt_is_linked_to_one_deposit_by_the_database(engine: sa.Engine) -> None:
    row = {
        "PaytraceTranID": PT_ID,
        "ReceiptRefNbr": "0000000001-PA",
        "ReceiptBatNbr": "ARCR-0000001",
        "Amount": Decimal("125.000"),
        "DepositBatNbr": "GLJE-0000001",
        "CreateDate": NOW,
    }
    with engine.begin() as conn:
        conn.execute(sa.insert(tptPaytraceDepositLink), [{"DepositKey": "77", **row}])
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.insert(tptPaytraceDepositLink), [{"DepositKey": "78", **row}])


def test_invented_cash_management_tables_are_gone() -> None:
    assert not {"tcmDeposit", "tcmDepositDetl"} & set(metadata.tables)
    assert not {"tcmDeposit", "tcmDepositDetl"} & set(SURROGATE_KEY_TABLES)
    assert "tptPaytraceDepositLink" in metadata.tables


def test_racing_deposit_writers_write_one(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row-lock race exercised on PostgreSQL")
    erp = with_receipts(engine)
    results = race(8, lambda _: erp.write_deposit(DEPOSIT))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sum(1 for r in results if r.created) == 1
    assert len({(r.erp_document, r.batch) for r in results}) == 1
    assert deposit_counts(engine) == (1, 2, 0, 2, 1)


def test_racing_deposits_of_one_receipt_write_one(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row-lock race exercised on PostgreSQL")
    erp = with_receipts(engine)
    numbers = iter(range(77, 85))
    lock = threading.Lock()

    def write_next() -> Any:
        with lock:
            number = next(numbers)
        return erp.write_deposit(DEPOSIT.model_copy(update={"batch_number": number}))

    results = race(8, lambda _: write_next())
    written = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(written) == 1 and written[0].created
    assert len(refused) == 7
    assert all(
        type(e) is ErpBusinessError and f"deposit of PayTrace batch {written[0].key}" in str(e)
        for e in refused
    ), refused
    assert deposit_counts(engine) == (1, 2, 0, 2, 1)
    assert {r["DepositKey"] for r in rows(engine, tptPaytraceDepositLink)} == {written[0].key}


# --- sales orders ------------------------------------------------------------------------------


def test_golden_rows_of_a_sales_order(engine: sa.Engine) -> None:
    doc = connector(engine).write_sales_order(ORDER)
    assert (doc.kind, doc.key, doc.erp_document, doc.amount, doc.customer_id, doc.created) == (
        DocumentKind.SALES_ORDER,
        "WEB-5001",
        "0000000001-SO",
        Decimal("53.48"),
        "C0001",
        True,
    )
    (so,) = rows(engine, tsoSalesOrder)
    assert so == {
        "SOKey": 1,
        "CompanyID": "SOA",
        "TranNo": "0000000001",
        "TranNoRel": "0000000001",
        "TranID": "0000000001-SO",
        "TranType": 801,
        "CustKey": 1,
        "TranDate": datetime(2025, 6, 2),
        "SalesAmt": Decimal("53.480"),
        "STaxAmt": Decimal("0.000"),
        "OpenAmt": Decimal("53.480"),
        "CustPONo": "PO-778",
        "PmtTermsKey": 3,  # NET30
        "Status": 1,
        "TranCmnt": "Web order WEB-5001",
        "UserFld1": "WEB-5001",
        "UserFld2": None,
        "UserFld3": None,
        "UserFld4": None,
        "CreateDate": NOW,
        "CreateUserID": "tracepost",
        "UpdateDate": None,
        "UpdateUserID": None,
        "UpdateCounter": 0,
    }
    lines = sorted(rows(engine, tsoSOLine), key=lambda r: r["SOLineNo"])
    assert [
        (r["SOLineKey"], r["SOKey"], r["SOLineNo"], r["ItemKey"], r["Description"], r["UnitPrice"])
        for r in lines
    ] == [
        (1, 1, 1, 1, "Widgets", Decimal("19.99000")),
        (2, 1, 2, 3, None, Decimal("4.50000")),
    ]
    dists = sorted(rows(engine, tsoSOLineDist), key=lambda r: r["SOLineDistKey"])
    assert [
        (
            r["SOLineKey"],
            Decimal(r["QtyOrd"]),
            Decimal(r["QtyOpenToShip"]),
            r["ExtAmt"],
            r["Status"],
        )
        for r in dists
    ] == [
        (1, Decimal("2"), Decimal("2"), Decimal("39.980"), 1),
        (2, Decimal("3"), Decimal("3"), Decimal("13.500"), 1),
    ]


def test_sales_order_once_and_refusals(engine: sa.Engine) -> None:
    erp = connector(engine)
    first = erp.write_sales_order(ORDER)
    assert erp.write_sales_order(ORDER) == first.model_copy(update={"created": False})
    assert erp.post_document(DocumentKind.SALES_ORDER, "WEB-5001").status is DocumentStatus.POSTED
    assert erp.documents_for_transaction(PT_ID + 9)[0].key == "WEB-5001"
    bad_item = ORDER.model_copy(
        update={
            "order_id": "WEB-5002",
            "lines": (
                SalesOrderLine(item_id="OLD-PART", quantity=Decimal("1"), unit_price=Decimal("1")),
            ),
        }
    )
    with pytest.raises(ErpBusinessError, match="'OLD-PART' is not active"):
        erp.write_sales_order(bad_item)
    unknown = bad_item.model_copy(
        update={
            "lines": (
                SalesOrderLine(item_id="NOPE", quantity=Decimal("1"), unit_price=Decimal("1")),
            )
        }
    )
    with pytest.raises(ErpBusinessError, match="'NOPE' does not exist"):
        erp.write_sales_order(unknown)
    with pytest.raises(CustomerNotUsableError):
        erp.write_sales_order(ORDER.model_copy(update={"order_id": "WEB-5003", "customer_id": "X"}))
    with pytest.raises(ErpBusinessError, match="positive quantity"):
        erp.write_sales_order(
            ORDER.model_copy(
                update={
                    "order_id": "WEB-5004",
                    "lines": (
                        SalesOrderLine(
                            item_id="WIDGET-100", quantity=Decimal("0"), unit_price=Decimal("1")
                        ),
                    ),
                }
            )
        )
    assert len(rows(engine, tsoSalesOrder)) == 1
