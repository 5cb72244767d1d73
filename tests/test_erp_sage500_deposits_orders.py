"""Sage 500 bank deposits and sales orders, on SQLite and PostgreSQL."""

from __future__ import annotations

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
)
from connectors.erp.protocol import PostingStrategy
from connectors.erp.sage500 import STAND_IN, Sage500Connector
from connectors.erp.sage500.schema import (
    tcmDeposit,
    tcmDepositDetl,
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
from tests.test_erp_sage500 import NOW, PT_ID, TODAY, receipt, rows
from tests.test_erp_sage500_memos import race

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


def test_golden_rows_of_a_deposit(engine: sa.Engine) -> None:
    doc = with_receipts(engine).write_deposit(DEPOSIT)
    assert (doc.kind, doc.key, doc.erp_document, doc.batch, doc.amount, doc.created) == (
        DocumentKind.DEPOSIT,
        "77",
        "PT-77",
        "",
        Decimal("203.10"),
        True,
    )
    assert rows(engine, tcmDeposit) == [
        {
            "DepositKey": 1,
            "CompanyID": "SOA",
            "CashAcctKey": 1,  # OPERATING, GL 1000 (accounts["bank"])
            "DepositID": "PT-77",
            "DepositDate": datetime(2025, 6, 2),
            "DepositAmt": Decimal("203.100"),
            "ReceiptsAmt": Decimal("205.500"),
            "Status": 1,
            "TranCmnt": "PayTrace batch 77 net of fees",
            "CreateDate": NOW,
            "CreateUserID": "tracepost",
            "UpdateDate": None,
            "UpdateUserID": None,
            "UpdateCounter": 0,
        }
    ]
    assert sorted(rows(engine, tcmDepositDetl), key=lambda r: r["SeqNo"]) == [
        {
            "DepositDetlKey": 1,
            "DepositKey": 1,
            "SeqNo": 1,
            "CustPmtKey": 1,
            "TranID": "0000000001-PA",
            "TranAmt": Decimal("125.000"),
        },
        {
            "DepositDetlKey": 2,
            "DepositKey": 1,
            "SeqNo": 2,
            "CustPmtKey": 2,
            "TranID": "0000000002-PA",
            "TranAmt": Decimal("80.500"),
        },
    ]
    (xref,) = rows(engine, tptPaytraceXref, tptPaytraceXref.c.DocKind == "deposit")
    assert xref == {
        "DocKind": "deposit",
        "SourceKey": "77",
        "PaytraceTranID": None,
        "CompanyID": "SOA",
        "CustID": "",
        "DocKey": 1,
        "DocNo": "PT-77",
        "BatchKey": None,
        "BatchID": "",
        "Amount": Decimal("203.100"),
        "DocDate": date(2025, 6, 2),
        "AppliedTo": "",
        "Status": "pending",
        "CreateDate": NOW,
        "UpdateDate": None,
    }


def test_deposit_once_and_posting(engine: sa.Engine) -> None:
    erp = with_receipts(engine)
    first = erp.write_deposit(DEPOSIT)
    assert erp.write_deposit(DEPOSIT) == first.model_copy(update={"created": False})
    manual = connector(engine, strategy=PostingStrategy.MANUAL)
    assert manual.post_document(DocumentKind.DEPOSIT, "77").status is DocumentStatus.PENDING
    posted = erp.post_document(DocumentKind.DEPOSIT, "77")
    assert posted.status is DocumentStatus.POSTED
    assert rows(engine, tcmDeposit)[0]["Status"] == 2
    assert manual.post_document(DocumentKind.DEPOSIT, "77") == posted


def test_deposit_refusals(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_receipt(receipt(("1001", "125.00")))
    with pytest.raises(DocumentNotFoundError, match=f"transaction\\(s\\) {PT_ID + 1}"):
        erp.write_deposit(DEPOSIT)
    erp.write_receipt(receipt(("1002", "80.50"), pt_id=PT_ID + 1))
    erp.write_deposit(DEPOSIT)
    with pytest.raises(ErpBusinessError, match="0000000001-PA is already in deposit PT-77"):
        erp.write_deposit(DEPOSIT.model_copy(update={"batch_number": 78}))
    with pytest.raises(ErpBusinessError, match="at least one receipt"):
        erp.write_deposit(
            DEPOSIT.model_copy(update={"batch_number": 79, "receipt_transaction_ids": ()})
        )
    with pytest.raises(ClosedPeriodError):
        erp.write_deposit(
            DEPOSIT.model_copy(update={"batch_number": 80, "deposit_date": date(2024, 5, 1)})
        )
    assert len(rows(engine, tcmDeposit)) == 1


def test_racing_deposit_writers_write_one(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row-lock race exercised on PostgreSQL")
    erp = with_receipts(engine)
    results = race(lambda: erp.write_deposit(DEPOSIT), 8)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sum(1 for r in results if r.created) == 1
    assert len(rows(engine, tcmDeposit)) == 1 and len(rows(engine, tcmDepositDetl)) == 2


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
