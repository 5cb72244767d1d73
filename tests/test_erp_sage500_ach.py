"""Sage 500: ACH receipts, a receipt's own cash account, user-entered memos, account states."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.erp.errors import MissingGlAccountError
from connectors.erp.sage500 import STAND_IN, Sage500Connector
from connectors.erp.sage500.schema import (
    tarBatch,
    tarCustomer,
    tarCustPmt,
    tarCustPmtAppl,
    tarInvoice,
    tarPendCustPmt,
    tarPendCustPmtAppl,
    tciBatchLog,
    tcmCashAcct,
    tglAccount,
    tptPaytraceXref,
)
from domain.erp_documents import AccountState, DocumentKind, ReceiptReversal, ReversalReason
from domain.models import Application, CashReceipt, PaymentSource
from tests.erp_helpers import rows
from tests.test_erp_sage500 import NOW, TODAY, invoice_balance

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite\\+pysqlite does \\*not\\* support")

ACH_ID = 5000001
MIDNIGHT = datetime(2025, 6, 2)


@pytest.fixture
def engine(erp_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(erp_url)
    STAND_IN.seed_demo(eng, customers=50, invoices=196, today=TODAY)
    yield eng
    eng.dispose()


def connector(engine: sa.Engine, **kwargs: Any) -> Sage500Connector:
    return Sage500Connector(engine, clock=lambda: NOW, **kwargs)


def ach_receipt(**changes: Any) -> CashReceipt:
    fields: dict[str, Any] = {
        "paytrace_transaction_id": ACH_ID,
        "customer_id": "C0001",
        "amount": Decimal("84.25"),
        "receipt_date": TODAY,
        "reference": f"PT ACH {ACH_ID}",
        "payment_method": "ACH",
        "applications": (
            Application(invoice_number="1002", amount=Decimal("80.00"), write_off=Decimal("0.50")),
        ),
        "on_account": Decimal("4.25"),
        "source": PaymentSource.ACH,
    }
    return CashReceipt(**(fields | changes))


def test_golden_rows_of_an_ach_receipt_to_its_own_cash_account(engine: sa.Engine) -> None:
    """Every column of an ACH receipt deposited to the operating account (GL 1000)."""
    record = connector(engine).write_receipt(ach_receipt(cash_account="1000"))
    assert (record.source, record.erp_document, record.batch) == (
        PaymentSource.ACH,
        "0000000001-PA",
        "ARCR-0000001",
    )
    comment = f"PT ACH {ACH_ID} (ACH)"
    (batch_log,) = rows(engine, tciBatchLog, tciBatchLog.c.BatchType == 503)
    assert batch_log == {
        "BatchKey": 2,
        "BatchID": "ARCR-0000001",
        "BatchNo": 1,
        "BatchType": 503,
        "Status": 4,
        "PostStatus": 0,
        "SourceCompanyID": "SOA",
        "PostCompanyID": "SOA",
        "BatchCmnt": comment,
        "PostDate": MIDNIGHT,
        "NextSeqNo": 2,
        "RgstrPrinted": 0,
        "CreateDate": NOW,
        "CreateUserID": "tracepost",
        "UpdateCounter": 0,
    }
    (batch,) = rows(engine, tarBatch, tarBatch.c.BatchKey == 2)
    assert batch == {
        "BatchKey": 2,
        "CashAcctKey": 1,  # OPERATING, GL 1000 (the configured CARD-CLEARING is key 2)
        "BatchCmnt": comment,
        "PostDate": MIDNIGHT,
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
        "CashAcctKey": 1,
        "TranID": "0000000001-PA",
        "TranNo": "0000000001",
        "TranType": 510,
        "TranDate": MIDNIGHT,
        "PostDate": MIDNIGHT,
        "TranAmt": Decimal("84.250"),
        "TranAmtHC": Decimal("84.250"),
        "UnappliedAmt": Decimal("4.250"),
        "UnappliedAmtHC": Decimal("4.250"),
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
    (appl,) = rows(engine, tarPendCustPmtAppl)
    assert appl == {
        "CustPmtApplKey": 1,
        "BatchKey": 2,
        "SeqNo": 1,
        "AppliedAtCreation": 1,
        "ApplyFromPmtKey": 1,
        "ApplyFromTranID": "0000000001-PA",
        "ApplyFromTranDate": MIDNIGHT,
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
        "SourceKey": f"ach-{ACH_ID}",
        "PaytraceTranID": ACH_ID,
        "CompanyID": "SOA",
        "CustID": "C0001",
        "DocKey": 1,
        "DocNo": "0000000001-PA",
        "BatchKey": 2,
        "BatchID": "ARCR-0000001",
        "Amount": Decimal("84.250"),
        "DocDate": TODAY,
        "AppliedTo": "1002",
        "Status": "pending",
        "CreateDate": NOW,
        "UpdateDate": None,
        "PaymentSource": "ach",
    }


def test_ach_return_comment_and_cross_reference(engine: sa.Engine) -> None:
    erp = connector(engine)
    erp.write_receipt(ach_receipt(cash_account="1000"))
    erp.post_receipt(ACH_ID, PaymentSource.ACH)
    assert invoice_balance(engine, 1002) == Decimal("0.000")
    returned = erp.reverse_receipt(
        ReceiptReversal(
            key=f"ach-return:{ACH_ID}",
            paytrace_transaction_id=ACH_ID,
            reason=ReversalReason.ACH_RETURN,
            reversal_date=TODAY,
            reference="R01",
            source=PaymentSource.ACH,
        )
    )
    (pend,) = rows(engine, tarPendCustPmt)
    assert pend["TranCmnt"] == f"REV 0000000001-PA ach_return PT ACH {ACH_ID} R01"
    assert pend["CashAcctKey"] == 1  # back out of the account the receipt went to
    (xref,) = rows(engine, tptPaytraceXref, tptPaytraceXref.c.DocKind == "reversal")
    assert (xref["PaytraceTranID"], xref["PaymentSource"], xref["DocNo"]) == (
        ACH_ID,
        "ach",
        returned.erp_document,
    )
    erp.post_document(DocumentKind.REVERSAL, f"ach-return:{ACH_ID}")
    assert invoice_balance(engine, 1002) == Decimal("80.500")
    assert [r["TranAmt"] for r in rows(engine, tarCustPmt)] == [
        Decimal("84.250"),
        Decimal("-84.250"),
    ]


def test_receipt_cash_account_must_be_set_up_as_a_cash_account(engine: sa.Engine) -> None:
    erp = connector(engine)
    # 1200 is an active GL account but no tcmCashAcct: Sage cannot deposit to it.
    with pytest.raises(MissingGlAccountError, match=r"1200.*tcmCashAcct"):
        erp.write_receipt(ach_receipt(cash_account="1200"))
    with pytest.raises(MissingGlAccountError, match=r"6990.*not active"):
        erp.write_receipt(ach_receipt(cash_account=" 6990 "))
    assert rows(engine, tptPaytraceXref) == []
    assert erp.write_receipt(ach_receipt(cash_account=" 1000 ")).created


# --- a credit memo a Sage user entered and posted ------------------------------------------------


def test_golden_rows_of_a_user_memo_applied_to_an_invoice(engine: sa.Engine) -> None:
    STAND_IN.add_credit_memo(
        engine,
        company_id="SOA",
        customer_id="C0001",
        number="9001",
        amount=Decimal("30.00"),
        memo_date=TODAY,
        comment="REFUND PT 1000123 damaged",
        apply_to="1001",
    )
    (memo,) = rows(engine, tarInvoice, tarInvoice.c.TranType == 502)
    key = memo.pop("InvcKey")
    created = memo.pop("CreateDate")
    assert memo == {
        "CompanyID": "SOA",
        "TranID": "0000009001-CM",
        "TranNo": "0000009001",
        "TranType": 502,
        "CustKey": 1,
        "BatchKey": 1,  # the posted demo invoice batch ARIN-0000001
        "TranDate": MIDNIGHT,
        "PostDate": MIDNIGHT,
        "DueDate": MIDNIGHT,
        "DiscDate": None,
        "TranAmt": Decimal("-30.000"),
        "TranAmtHC": Decimal("-30.000"),
        "Balance": Decimal("0.000"),
        "BalanceHC": Decimal("0.000"),
        "SalesAmt": Decimal("-30.000"),
        "STaxAmt": Decimal("0.000"),
        "DiscAmt": Decimal("0.000"),
        "CurrID": "USD",
        "CurrExchRate": 1.0,
        "Status": 1,
        "SourceModule": 5,
        "CustPONo": None,
        "TranCmnt": "REFUND PT 1000123 damaged",
        "CreateUserID": "admin",
        "UpdateDate": None,
        "UpdateUserID": None,
        "UpdateCounter": 0,
        "CreateType": 1,
    }
    assert isinstance(created, datetime)
    (appl,) = rows(engine, tarCustPmtAppl)
    assert {k: appl[k] for k in ("ApplyFromPmtKey", "ApplyFromTranID", "ApplyToTranID")} == {
        "ApplyFromPmtKey": key,
        "ApplyFromTranID": "0000009001-CM",
        "ApplyToTranID": "0000001001-IN",
    }
    assert (appl["PmtAmt"], appl["BatchKey"], appl["SeqNo"]) == (Decimal("30.000"), 1, 1)
    assert invoice_balance(engine, 1001) == Decimal("95.000")
    (invoice,) = rows(engine, tarInvoice, tarInvoice.c.TranID == "0000001001-IN")
    assert (invoice["BalanceHC"], invoice["UpdateUserID"]) == (Decimal("95.000"), "admin")
    # The memo's number is taken now; tracepost's own memos number on from it.
    with pytest.raises(ValueError, match="0000009001-CM"):
        STAND_IN.add_credit_memo(
            engine,
            company_id="SOA",
            customer_id="C0002",
            number="9001",
            amount=Decimal("1.00"),
            memo_date=TODAY,
            comment="again",
        )


def test_flagged_memos_of_another_company_and_applications_taken_back(engine: sa.Engine) -> None:
    STAND_IN.seed_demo(engine, company_id="XYZ", customers=2, invoices=4, today=TODAY)
    for company, number in (("SOA", "9001"), ("XYZ", "9002")):
        STAND_IN.add_credit_memo(
            engine,
            company_id=company,
            customer_id="C0001",
            number=number,
            amount=Decimal("10.00"),
            memo_date=TODAY,
            comment="REFUND PT 1000123",
            apply_to="1001",
        )
    erp = connector(engine)
    (memo,) = erp.flagged_refund_memos("REFUND PT", TODAY)
    assert (memo.erp_document, memo.applied_to) == ("0000009001-CM", ("1001",))
    other = connector(engine, company_id="XYZ").flagged_refund_memos("REFUND PT", TODAY)
    assert [m.erp_document for m in other] == ["0000009002-CM"]
    # An application the user took back (a negative one) no longer names the invoice.
    (appl,) = rows(engine, tarCustPmtAppl, tarCustPmtAppl.c.ApplyFromTranID == "0000009001-CM")
    with engine.begin() as conn:
        conn.execute(
            sa.insert(tarCustPmtAppl),
            [appl | {"CustPmtApplKey": 999, "SeqNo": 9, "PmtAmt": -appl["PmtAmt"]}],
        )
    (memo,) = erp.flagged_refund_memos("REFUND PT", TODAY)
    assert memo.applied_to == ()
    # A "%" in the marker is a character, not a wildcard.
    assert erp.flagged_refund_memos("REFUND%", TODAY) == []


def test_gl_account_states_are_the_companys(engine: sa.Engine) -> None:
    STAND_IN.seed_demo(engine, company_id="XYZ", customers=2, invoices=4, today=TODAY)
    with engine.begin() as conn:
        conn.execute(
            sa.update(tglAccount)
            .where(tglAccount.c.CompanyID == "XYZ", tglAccount.c.GLAcctNo == "1000")
            .values(Status=2)
        )
        conn.execute(
            sa.delete(tcmCashAcct).where(tcmCashAcct.c.CompanyID == "XYZ")
        )  # cash setup plays no part
        conn.execute(
            sa.delete(tglAccount).where(
                tglAccount.c.CompanyID == "XYZ", tglAccount.c.GLAcctNo == "6100"
            )
        )
    accounts = ["1000", "6100", "6990", " 1010 "]
    assert connector(engine).gl_account_states(accounts) == {
        "1000": AccountState.ACTIVE,
        "6100": AccountState.ACTIVE,
        "6990": AccountState.INACTIVE,
        " 1010 ": AccountState.ACTIVE,
    }
    assert connector(engine, company_id="XYZ").gl_account_states(accounts) == {
        "1000": AccountState.INACTIVE,
        "6100": AccountState.MISSING,
        "6990": AccountState.INACTIVE,
        " 1010 ": AccountState.ACTIVE,
    }


def test_documents_dated_are_the_companys(engine: sa.Engine) -> None:
    STAND_IN.seed_demo(engine, company_id="XYZ", customers=2, invoices=4, today=TODAY)
    soa, xyz = connector(engine), connector(engine, company_id="XYZ")
    soa.write_receipt(ach_receipt(applications=(), on_account=Decimal("84.25")))
    xyz.write_receipt(
        ach_receipt(
            paytrace_transaction_id=ACH_ID + 1, applications=(), on_account=Decimal("84.25")
        )
    )
    week = (TODAY - timedelta(days=3), TODAY + timedelta(days=3))
    assert [d.key for d in soa.documents_dated(DocumentKind.RECEIPT, *week)] == [f"ach-{ACH_ID}"]
    assert [d.key for d in xyz.documents_dated(DocumentKind.RECEIPT, *week)] == [
        f"ach-{ACH_ID + 1}"
    ]
    # Read-back by key finds a document whatever company wrote it (the key is global).
    keys = [f"ach-{ACH_ID}", f"ach-{ACH_ID + 1}"]
    assert [d.customer_id for d in soa.documents_by_keys(DocumentKind.RECEIPT, keys)] == [
        "C0001",
        "C0001",
    ]
    assert rows(engine, tarCustomer, tarCustomer.c.CompanyID == "XYZ")


def test_a_payment_application_with_the_memos_key_is_not_the_memos(engine: sa.Engine) -> None:
    """tarCustPmt and tarInvoice number their keys apart: a payment may have the memo's key."""
    STAND_IN.add_credit_memo(
        engine,
        company_id="SOA",
        customer_id="C0001",
        number="9001",
        amount=Decimal("10.00"),
        memo_date=TODAY,
        comment="REFUND PT 1000123",
    )
    (memo,) = rows(engine, tarInvoice, tarInvoice.c.TranType == 502)
    (invoice,) = rows(engine, tarInvoice, tarInvoice.c.TranID == "0000001003-IN")
    with engine.begin() as conn:
        conn.execute(
            sa.insert(tarCustPmtAppl),
            [
                {
                    "CustPmtApplKey": 900,
                    "BatchKey": 1,
                    "SeqNo": 1,
                    "ApplyFromPmtKey": memo["InvcKey"],  # a payment's CustPmtKey, same number
                    "ApplyFromTranID": "0000000077-PA",
                    "ApplyFromTranDate": MIDNIGHT,
                    "ApplyToInvcKey": invoice["InvcKey"],
                    "ApplyToTranID": "0000001003-IN",
                    "ApplyToTranDate": MIDNIGHT,
                    "PmtAmt": Decimal("5.000"),
                }
            ],
        )
    (flagged,) = connector(engine).flagged_refund_memos("REFUND PT", TODAY)
    assert (flagged.erp_document, flagged.applied_to) == ("0000009001-CM", ())
