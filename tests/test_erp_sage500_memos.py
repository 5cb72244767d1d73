"""Sage 500 credit memos (PayTrace refunds), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.erp.errors import (
    ClosedPeriodError,
    CustomerNotUsableError,
    ErpBusinessError,
    InvoiceNotOpenError,
)
from connectors.erp.protocol import PostingStrategy
from connectors.erp.sage500 import STAND_IN, Sage500Connector
from connectors.erp.sage500.schema import (
    tarBatch,
    tarCustomer,
    tarCustPmtAppl,
    tarInvoice,
    tarPendCustPmtAppl,
    tarPendInvoice,
    tciBatchLog,
    tptPaytraceXref,
)
from domain.erp_documents import CreditMemo, DocumentKind, DocumentStatus
from tests.erp_helpers import race, rows
from tests.test_erp_sage500 import NOW, TODAY, invoice_balance

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite\\+pysqlite does \\*not\\* support")

REFUND = 2000456


@pytest.fixture
def engine(erp_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(erp_url)
    STAND_IN.seed_demo(eng, customers=50, invoices=196, today=TODAY)
    yield eng
    eng.dispose()


def connector(engine: sa.Engine, **kwargs: Any) -> Sage500Connector:
    return Sage500Connector(engine, clock=lambda: NOW, **kwargs)


def memo(
    amount: str = "30.00", invoice: str = "1001", customer: str = "C0001", pt_id: int = REFUND
) -> CreditMemo:
    return CreditMemo(
        paytrace_transaction_id=pt_id,
        customer_id=customer,
        amount=Decimal(amount),
        memo_date=TODAY,
        reference=f"refund of PT 1000123 ({pt_id})",
        apply_to_invoice=invoice,
        original_transaction_id=1000123,
    )


def counts(engine: sa.Engine) -> dict[str, int]:
    tables = (tciBatchLog, tarPendInvoice, tarPendCustPmtAppl, tarInvoice, tptPaytraceXref)
    with engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in tables
        }


def test_golden_rows_of_an_applied_credit_memo(engine: sa.Engine) -> None:
    doc = connector(engine).write_credit_memo(memo())
    assert doc.model_dump() == {
        "kind": DocumentKind.CREDIT_MEMO,
        "key": str(REFUND),
        "erp": "sage500",
        "erp_document": "0000000001-CM",
        "batch": "ARIN-0000002",
        "amount": Decimal("30.00"),
        "status": DocumentStatus.PENDING,
        "customer_id": "C0001",
        "paytrace_transaction_id": REFUND,
        "document_date": TODAY,
        "applied_to": ("1001",),
        "created": True,
    }
    comment = "PT 2000456 refund of PT 1000123 (2000456)"
    assert rows(engine, tciBatchLog, tciBatchLog.c.BatchKey == 2) == [
        {
            "BatchKey": 2,
            "BatchID": "ARIN-0000002",
            "BatchNo": 2,
            "BatchType": 501,
            "Status": 4,
            "PostStatus": 0,
            "SourceCompanyID": "SOA",
            "PostCompanyID": "SOA",
            "BatchCmnt": comment,
            "PostDate": datetime(2025, 6, 2),
            "NextSeqNo": 2,
            "RgstrPrinted": 0,
            "CreateDate": NOW,
            "CreateUserID": "tracepost",
            "UpdateCounter": 0,
        }
    ]
    assert rows(engine, tarBatch, tarBatch.c.BatchKey == 2) == [
        {
            "BatchKey": 2,
            "CashAcctKey": None,
            "BatchCmnt": comment,
            "PostDate": datetime(2025, 6, 2),
            "Hold": 0,
            "Private": 0,
            "SourceModule": 5,
        }
    ]
    assert rows(engine, tarPendInvoice) == [
        {
            "InvcKey": 197,
            "CompanyID": "SOA",
            "TranID": "0000000001-CM",
            "TranNo": "0000000001",
            "TranType": 502,
            "CustKey": 1,
            "BatchKey": 2,
            "TranDate": datetime(2025, 6, 2),
            "PostDate": datetime(2025, 6, 2),
            "DueDate": datetime(2025, 6, 2),
            "DiscDate": None,
            "TranAmt": Decimal("-30.000"),
            "TranAmtHC": Decimal("-30.000"),
            "Balance": Decimal("-30.000"),
            "BalanceHC": Decimal("-30.000"),
            "SalesAmt": Decimal("-30.000"),
            "STaxAmt": Decimal("0.000"),
            "DiscAmt": Decimal("0.000"),
            "CurrID": "USD",
            "CurrExchRate": 1.0,
            "Status": 1,
            "SourceModule": 5,
            "CustPONo": None,
            "TranCmnt": comment,
            "CreateDate": NOW,
            "CreateUserID": "tracepost",
            "UpdateDate": None,
            "UpdateUserID": None,
            "UpdateCounter": 0,
            "CreateType": 1,
        }
    ]
    assert rows(engine, tarPendCustPmtAppl) == [
        {
            "CustPmtApplKey": 1,
            "BatchKey": 2,
            "SeqNo": 1,
            "AppliedAtCreation": 1,
            "ApplyFromPmtKey": 197,
            "ApplyFromTranID": "0000000001-CM",
            "ApplyFromTranDate": datetime(2025, 6, 2),
            "ApplyToInvcKey": 1,
            "ApplyToTranID": "0000001001-IN",
            "ApplyToTranDate": datetime(2025, 6, 2),
            "CurrExchRate": 1.0,
            "PmtAmt": Decimal("30.000"),
            "PmtAmtIC": Decimal("30.000"),
            "DiscTakenAmt": Decimal("0.000"),
            "DiscTakenAmtIC": Decimal("0.000"),
            "WriteOffAmt": Decimal("0.000"),
            "WriteOffAmtIC": Decimal("0.000"),
            "RealGainLossAmt": Decimal("0.000"),
            "CreateDate": NOW,
            "CreateUserID": "tracepost",
            "UpdateCounter": 0,
        }
    ]
    assert rows(engine, tptPaytraceXref) == [
        {
            "DocKind": "credit_memo",
            "SourceKey": str(REFUND),
            "PaytraceTranID": REFUND,
            "CompanyID": "SOA",
            "CustID": "C0001",
            "DocKey": 197,
            "DocNo": "0000000001-CM",
            "BatchKey": 2,
            "BatchID": "ARIN-0000002",
            "Amount": Decimal("30.000"),
            "DocDate": date(2025, 6, 2),
            "AppliedTo": "1001",
            "Status": "pending",
            "CreateDate": NOW,
            "UpdateDate": None,
            "PaymentSource": None,
        }
    ]
    # The pending application already lowers what is payable.
    invoice = connector(engine).invoice_by_number("1001")
    assert invoice is not None and invoice.balance == Decimal("95.00")


def test_credit_memo_is_written_once(engine: sa.Engine) -> None:
    erp = connector(engine)
    first = erp.write_credit_memo(memo())
    before = counts(engine)
    again = erp.write_credit_memo(memo(amount="99.00"))  # same refund: read back, not rewritten
    assert again == first.model_copy(update={"created": False})
    assert counts(engine) == before
    assert erp.find_document(DocumentKind.CREDIT_MEMO, str(REFUND)) == again
    assert erp.documents_for_transaction(REFUND) == [again]


def test_memo_on_a_paid_invoice_stays_open_as_credit(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(tarInvoice)
            .where(tarInvoice.c.TranNo == "0000001002")
            .values(Balance=0, BalanceHC=0)
        )
    doc = connector(engine).write_credit_memo(memo(invoice="1002"))
    assert doc.applied_to == ()
    assert rows(engine, tarPendCustPmtAppl) == []
    assert rows(engine, tciBatchLog, tciBatchLog.c.BatchKey == 2)[0]["NextSeqNo"] == 1


def test_memo_larger_than_the_balance_applies_the_balance(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_credit_memo(memo(amount="100.00", invoice="1002"))  # 1002 owes 80.50
    (appl,) = rows(engine, tarPendCustPmtAppl)
    assert appl["PmtAmt"] == Decimal("80.500")
    erp.post_document(DocumentKind.CREDIT_MEMO, str(REFUND))
    (posted,) = rows(engine, tarInvoice, tarInvoice.c.TranType == 502)
    assert (posted["TranAmt"], posted["Balance"]) == (Decimal("-100.000"), Decimal("-19.500"))
    assert invoice_balance(engine, 1002) == Decimal("0.000")


def test_memo_without_invoice_is_an_open_credit(engine: sa.Engine) -> None:
    doc = connector(engine).write_credit_memo(memo(invoice=""))
    assert doc.applied_to == () and rows(engine, tarPendCustPmtAppl) == []


def test_emulated_posting_of_a_memo(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_credit_memo(memo())
    posted = erp.post_document(DocumentKind.CREDIT_MEMO, str(REFUND))
    assert posted.status is DocumentStatus.POSTED
    assert rows(engine, tarPendInvoice) == [] and rows(engine, tarPendCustPmtAppl) == []
    (row,) = rows(engine, tarInvoice, tarInvoice.c.TranType == 502)
    assert (row["InvcKey"], row["TranID"], row["TranAmt"], row["Balance"]) == (
        197,
        "0000000001-CM",
        Decimal("-30.000"),
        Decimal("0.000"),
    )
    (appl,) = rows(engine, tarCustPmtAppl)
    assert (appl["ApplyFromPmtKey"], appl["ApplyToInvcKey"], appl["PmtAmt"]) == (
        197,
        1,
        Decimal("30.000"),
    )
    assert invoice_balance(engine, 1001) == Decimal("95.000")
    batch = rows(engine, tciBatchLog, tciBatchLog.c.BatchKey == 2)[0]
    assert (batch["Status"], batch["PostStatus"]) == (6, 500)
    before = counts(engine)
    assert erp.post_document(DocumentKind.CREDIT_MEMO, str(REFUND)) == posted
    assert counts(engine) == before and invoice_balance(engine, 1001) == Decimal("95.000")
    # The memo is not an invoice: it never shows among open invoices.
    assert [i.invoice_number for i in erp.open_invoices("C0001")] == ["1002", "1001"]


def test_manual_strategy_leaves_the_memo_batch_pending(engine: sa.Engine) -> None:
    erp = connector(engine, strategy=PostingStrategy.MANUAL)
    erp.write_credit_memo(memo())
    doc = erp.post_document(DocumentKind.CREDIT_MEMO, str(REFUND))
    assert doc.status is DocumentStatus.PENDING
    assert len(rows(engine, tarPendInvoice)) == 1


def _inactive(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(tarCustomer).where(tarCustomer.c.CustID == "C0001").values(Status=2))


def _closed(engine: sa.Engine) -> None:
    STAND_IN.set_period_open(engine, company_id="SOA", day=TODAY, is_open=False)


def _nothing(engine: sa.Engine) -> None:
    pass


@pytest.mark.parametrize(
    ("prepare", "bad", "error", "message"),
    [
        (_closed, memo(), ClosedPeriodError, "2025-06 of company SOA is closed"),
        (_inactive, memo(), CustomerNotUsableError, "C0001 is not active"),
        (_nothing, memo(invoice="1003"), InvoiceNotOpenError, "belongs to customer C0002"),
        (_nothing, memo(invoice="9999"), InvoiceNotOpenError, "9999 does not exist"),
        (_nothing, memo(amount="0.00"), ErpBusinessError, "amount must be positive"),
        (_nothing, memo(customer="NOPE"), CustomerNotUsableError, "'NOPE' does not exist"),
    ],
)
def test_memo_refusals_write_nothing(
    engine: sa.Engine,
    prepare: Callable[[sa.Engine], None],
    bad: CreditMemo,
    error: type[Exception],
    message: str,
) -> None:
    prepare(engine)
    before = counts(engine)
    with pytest.raises(error, match=message) as caught:
        connector(engine).write_credit_memo(bad)
    assert not getattr(caught.value, "retryable", True)
    assert counts(engine) == before


def test_racing_memo_writers_write_one_memo(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row-lock race exercised on PostgreSQL")
    results = race(8, lambda _: connector(engine).write_credit_memo(memo()))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sum(1 for r in results if r.created) == 1
    assert len({r.model_copy(update={"created": False}) for r in results}) == 1
    assert len(rows(engine, tarPendInvoice)) == 1 and len(rows(engine, tarPendCustPmtAppl)) == 1
    assert len(rows(engine, tptPaytraceXref)) == 1
