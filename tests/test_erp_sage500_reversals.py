"""Sage 500 receipt reversals (void, chargeback, ACH return) and reapplications."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.erp.errors import ClosedPeriodError, DocumentNotFoundError, ErpBusinessError
from connectors.erp.protocol import PostingStrategy
from connectors.erp.sage500 import STAND_IN, Sage500Connector
from connectors.erp.sage500.schema import (
    tarCustPmt,
    tarCustPmtAppl,
    tarPendCustPmt,
    tarPendCustPmtAppl,
    tciBatchLog,
    tptPaytraceXref,
)
from domain.erp_documents import (
    DocumentKind,
    DocumentStatus,
    Reapplication,
    ReceiptReversal,
    ReversalReason,
)
from tests.erp_helpers import race, rows
from tests.test_erp_sage500 import NOW, PT_ID, TODAY, invoice_balance, receipt

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite\\+pysqlite does \\*not\\* support")

VOID = ReceiptReversal(
    key="void:1000999",
    paytrace_transaction_id=PT_ID,
    reason=ReversalReason.VOID,
    reversal_date=TODAY,
    reference="PT 1000999",
)
WON = Reapplication(
    key="cb:77:won", paytrace_transaction_id=PT_ID, reapply_date=TODAY, reference="case 77"
)


@pytest.fixture
def engine(erp_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(erp_url)
    STAND_IN.seed_demo(eng, customers=50, invoices=196, today=TODAY)
    yield eng
    eng.dispose()


def connector(engine: sa.Engine, **kwargs: Any) -> Sage500Connector:
    return Sage500Connector(engine, clock=lambda: NOW, **kwargs)


def paid(engine: sa.Engine) -> Sage500Connector:
    """A posted receipt: 80.00 + 0.50 write-off on 1002, 4.25 on account."""
    erp = connector(engine)
    erp.write_receipt(receipt(("1002", "80.00", "0.50"), on_account="4.25"))
    erp.post_receipt(PT_ID)
    assert invoice_balance(engine, 1002) == Decimal("0.000")
    return erp


def test_golden_rows_of_a_reversal(engine: sa.Engine) -> None:
    erp = paid(engine)
    doc = erp.reverse_receipt(VOID)
    assert (doc.kind, doc.key, doc.erp_document, doc.batch, doc.amount, doc.created) == (
        DocumentKind.REVERSAL,
        "void:1000999",
        "0000000002-PA",
        "ARCR-0000002",
        Decimal("84.25"),
        True,
    )
    assert (doc.applied_to, doc.status, doc.customer_id) == (
        ("1002",),
        DocumentStatus.PENDING,
        "C0001",
    )
    comment = "REV 0000000001-PA void PT 1000123 PT 1000999"
    (batch,) = rows(engine, tciBatchLog, tciBatchLog.c.BatchKey == 3)
    assert {k: batch[k] for k in ("BatchID", "BatchNo", "BatchType", "Status", "NextSeqNo")} == {
        "BatchID": "ARCR-0000002",
        "BatchNo": 2,
        "BatchType": 503,
        "Status": 4,
        "NextSeqNo": 2,
    }
    assert rows(engine, tarPendCustPmt) == [
        {
            "CustPmtKey": 2,
            "CompanyID": "SOA",
            "CustKey": 1,
            "BatchKey": 3,
            "CashAcctKey": 2,
            "TranID": "0000000002-PA",
            "TranNo": "0000000002",
            "TranType": 510,
            "TranDate": datetime(2025, 6, 2),
            "PostDate": datetime(2025, 6, 2),
            "TranAmt": Decimal("-84.250"),
            "TranAmtHC": Decimal("-84.250"),
            "UnappliedAmt": Decimal("-4.250"),
            "UnappliedAmtHC": Decimal("-4.250"),
            "CurrID": "USD",
            "CurrExchRate": 1.0,
            "Status": 1,
            "SourceModule": 5,
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
            "CustPmtApplKey": 2,
            "BatchKey": 3,
            "SeqNo": 1,
            "AppliedAtCreation": 1,
            "ApplyFromPmtKey": 2,
            "ApplyFromTranID": "0000000002-PA",
            "ApplyFromTranDate": datetime(2025, 6, 2),
            "ApplyToInvcKey": 2,
            "ApplyToTranID": "0000001002-IN",
            "ApplyToTranDate": datetime(2025, 5, 23),
            "CurrExchRate": 1.0,
            "PmtAmt": Decimal("-80.000"),
            "PmtAmtIC": Decimal("-80.000"),
            "DiscTakenAmt": Decimal("0.000"),
            "DiscTakenAmtIC": Decimal("0.000"),
            "WriteOffAmt": Decimal("-0.500"),
            "WriteOffAmtIC": Decimal("-0.500"),
            "RealGainLossAmt": Decimal("0.000"),
            "CreateDate": NOW,
            "CreateUserID": "tracepost",
            "UpdateCounter": 0,
        }
    ]
    xref = rows(engine, tptPaytraceXref, tptPaytraceXref.c.DocKind == "reversal")
    assert xref == [
        {
            "DocKind": "reversal",
            "SourceKey": "void:1000999",
            "PaytraceTranID": PT_ID,
            "CompanyID": "SOA",
            "CustID": "C0001",
            "DocKey": 2,
            "DocNo": "0000000002-PA",
            "BatchKey": 3,
            "BatchID": "ARCR-0000002",
            "Amount": Decimal("84.250"),
            "DocDate": date(2025, 6, 2),
            "AppliedTo": "1002",
            "Status": "pending",
            "CreateDate": NOW,
            "UpdateDate": None,
            "PaymentSource": "card",
        }
    ]
    # The pending reversal already shows the invoice as owed again.
    invoice = erp.invoice_by_number("1002")
    assert invoice is not None and invoice.balance == Decimal("80.50")


def test_posting_a_reversal_reopens_the_invoice(engine: sa.Engine) -> None:
    erp = paid(engine)
    erp.reverse_receipt(VOID)
    posted = erp.post_document(DocumentKind.REVERSAL, VOID.key)
    assert posted.status is DocumentStatus.POSTED
    assert invoice_balance(engine, 1002) == Decimal("80.500")
    pmts = rows(engine, tarCustPmt)
    assert sorted(p["TranAmt"] for p in pmts) == [Decimal("-84.250"), Decimal("84.250")]
    assert sum(p["UnappliedAmt"] for p in pmts) == 0  # the on-account credit is gone too
    assert rows(engine, tarPendCustPmt) == [] and len(rows(engine, tarCustPmtAppl)) == 2


def test_reversal_is_written_once_and_never_twice(engine: sa.Engine) -> None:
    erp = paid(engine)
    first = erp.reverse_receipt(VOID)
    assert erp.reverse_receipt(VOID) == first.model_copy(update={"created": False})
    chargeback = VOID.model_copy(update={"key": "cb:77", "reason": ReversalReason.CHARGEBACK})
    with pytest.raises(ErpBusinessError, match=r"already reversed .*void:1000999"):
        erp.reverse_receipt(chargeback)
    assert len(rows(engine, tptPaytraceXref, tptPaytraceXref.c.DocKind == "reversal")) == 1


def test_reversal_refusals(engine: sa.Engine) -> None:
    erp = connector(engine, strategy=PostingStrategy.MANUAL)
    with pytest.raises(DocumentNotFoundError, match="no receipt was written"):
        erp.reverse_receipt(VOID)
    erp.write_receipt(receipt(("1001", "125.00")))
    with pytest.raises(DocumentNotFoundError, match="is not posted"):
        erp.reverse_receipt(VOID)
    connector(engine).post_receipt(PT_ID)
    STAND_IN.set_period_open(engine, company_id="SOA", day=TODAY, is_open=False)
    with pytest.raises(ClosedPeriodError, match="closed"):
        erp.reverse_receipt(VOID)
    assert rows(engine, tptPaytraceXref, tptPaytraceXref.c.DocKind == "reversal") == []


def test_reapplication_pays_again_what_is_still_open(engine: sa.Engine) -> None:
    erp = paid(engine)
    with pytest.raises(ErpBusinessError, match="was not reversed"):
        erp.reapply_receipt(WON)
    erp.reverse_receipt(VOID)
    erp.post_document(DocumentKind.REVERSAL, VOID.key)
    doc = erp.reapply_receipt(WON)
    assert (doc.kind, doc.erp_document, doc.amount, doc.applied_to, doc.created) == (
        DocumentKind.REAPPLICATION,
        "0000000003-PA",
        Decimal("84.25"),
        ("1002",),
        True,
    )
    (pmt,) = rows(engine, tarPendCustPmt)
    assert (pmt["TranAmt"], pmt["UnappliedAmt"], pmt["CashAcctKey"]) == (
        Decimal("84.250"),
        Decimal("4.250"),
        2,
    )
    (appl,) = rows(engine, tarPendCustPmtAppl)
    assert (appl["ApplyToTranID"], appl["PmtAmt"], appl["WriteOffAmt"]) == (
        "0000001002-IN",
        Decimal("80.000"),
        Decimal("0.000"),
    )
    assert rows(engine, tptPaytraceXref, tptPaytraceXref.c.DocKind == "reapplication") == [
        {
            "DocKind": "reapplication",
            "SourceKey": "cb:77:won",
            "PaytraceTranID": PT_ID,
            "CompanyID": "SOA",
            "CustID": "C0001",
            "DocKey": 3,
            "DocNo": "0000000003-PA",
            "BatchKey": 4,
            "BatchID": "ARCR-0000003",
            "Amount": Decimal("84.250"),
            "DocDate": date(2025, 6, 2),
            "AppliedTo": "1002",
            "Status": "pending",
            "CreateDate": NOW,
            "UpdateDate": None,
            "PaymentSource": "card",
        }
    ]
    assert pmt["TranCmnt"] == "PT 1000123 REAPPLY 0000000001-PA case 77"
    assert erp.reapply_receipt(WON) == doc.model_copy(update={"created": False})
    with pytest.raises(ErpBusinessError, match="already reapplied"):
        erp.reapply_receipt(WON.model_copy(update={"key": "cb:77:won-again"}))
    erp.post_document(DocumentKind.REAPPLICATION, WON.key)
    assert invoice_balance(engine, 1002) == Decimal("0.500")
    docs = {d.kind: d.key for d in erp.documents_for_transaction(PT_ID)}
    assert docs == {
        DocumentKind.RECEIPT: str(PT_ID),
        DocumentKind.REVERSAL: VOID.key,
        DocumentKind.REAPPLICATION: WON.key,
    }


def test_reapplication_goes_on_account_when_the_invoice_was_paid_meanwhile(
    engine: sa.Engine,
) -> None:
    erp = paid(engine)
    erp.reverse_receipt(VOID)
    erp.post_document(DocumentKind.REVERSAL, VOID.key)
    erp.write_receipt(receipt(("1002", "80.50"), pt_id=PT_ID + 5))  # paid again by card
    doc = erp.reapply_receipt(WON)
    assert doc.applied_to == ()
    (pmt,) = rows(engine, tarPendCustPmt, tarPendCustPmt.c.TranID == doc.erp_document)
    assert pmt["UnappliedAmt"] == Decimal("84.250")


def test_racing_reversals_write_one(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row-lock race exercised on PostgreSQL")
    erp = paid(engine)
    same = race(8, lambda _: erp.reverse_receipt(VOID))
    assert [r for r in same if isinstance(r, Exception)] == []
    assert sum(1 for r in same if r.created) == 1
    keys = iter(f"cb:{i}" for i in range(8))
    lock = threading.Lock()

    def other_key() -> Any:
        with lock:
            key = next(keys)
        return erp.reverse_receipt(VOID.model_copy(update={"key": key}))

    others = race(8, lambda _: other_key())
    assert all(isinstance(r, ErpBusinessError) for r in others), others
    assert len(rows(engine, tptPaytraceXref, tptPaytraceXref.c.DocKind == "reversal")) == 1
    assert len(rows(engine, tarPendCustPmt)) == 1
