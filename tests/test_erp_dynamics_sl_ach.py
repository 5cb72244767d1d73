"""Dynamics SL: ACH receipts, a receipt's own bank account, user-entered memos, account states."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.erp.dynamics_sl import STAND_IN, DynamicsSlConnector
from connectors.erp.dynamics_sl.ar_schema import AR_Balances, ARAdjust, ARDoc, ARTran
from connectors.erp.dynamics_sl.base import Batch, tptPaytraceXref
from connectors.erp.dynamics_sl.ledger_schema import SubAcct
from connectors.erp.errors import MissingGlAccountError
from domain.erp_documents import (
    AccountState,
    CreditMemo,
    DocumentKind,
    Reapplication,
    ReceiptReversal,
    ReversalReason,
)
from domain.models import Application, CashReceipt, PaymentSource
from tests.test_erp_dynamics_sl_golden import (
    BAT,
    CUST,
    NOW,
    SUB,
    TODAY,
    c,
    doc_common,
    payment_batch,
    select,
    tran,
)

ACH = PaymentSource.ACH
ACH_ID = 5000001
DESCR = "PT ACH 5000001 ACH"
WO_DESCR = "PT ACH 5000001 short pay write"


@pytest.fixture
def engine(erp_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(erp_url)
    STAND_IN.seed_demo(eng, customers=12, invoices=30, today=TODAY)
    yield eng
    eng.dispose()


def erp(engine: sa.Engine, **kwargs: Any) -> DynamicsSlConnector:
    return DynamicsSlConnector(engine, clock=lambda: NOW, **kwargs)


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
        "source": ACH,
    }
    return CashReceipt(**(fields | changes))


def test_golden_ach_receipt_to_its_own_bank_account(engine: sa.Engine) -> None:
    """Every column of an ACH payment batch deposited to the operating account 1000."""
    record = erp(engine).write_receipt(ach_receipt(cash_account="1000"))
    assert (record.source, record.erp_document, record.batch) == (ACH, "5000001", "000002")
    assert select(engine, Batch, Batch.c.BatNbr == BAT) == [payment_batch(Descr=c(DESCR, 30))]
    assert select(engine, ARDoc, ARDoc.c.BatNbr == BAT) == [
        doc_common(
            "PA",
            "5000001",
            84.25,
            ApplBatNbr=BAT,
            BankAcct=c("1000", 10),
            BankSub=SUB,
            ApplAmt=80.0,
            CuryApplAmt=80.0,
            DocDesc=c(DESCR, 30),
        ),
        doc_common(
            "SB",
            "000001",
            0.5,
            BatSeq=1,
            ApplBatNbr=BAT,
            ApplBatSeq=1,
            ApplAmt=0.5,
            CuryApplAmt=0.5,
            DocDesc=WO_DESCR,
            LineCntr=1,
            OrigDocNbr=c("5000001", 10),
        ),
    ]
    assert select(engine, ARTran, ARTran.c.BatNbr == BAT) == [
        tran(
            "PA",
            "5000001",
            0,
            "1200",
            80.0,
            "U",
            DESCR,
            CostType=c("IN", 8),
            SiteId=c("001002", 10),
            ExtRefNbr=c("ach-5000001", 15),
        ),
        tran("SB", "000001", 0, "6950", 0.5, "D", WO_DESCR),
        tran(
            "SB",
            "000001",
            1,
            "1200",
            0.5,
            "U",
            WO_DESCR,
            CostType=c("IN", 8),
            SiteId=c("001002", 10),
        ),
    ]
    (xref,) = select(engine, tptPaytraceXref)
    assert xref == {
        "DocKind": "receipt",
        "SourceKey": "ach-5000001",
        "PaytraceTranID": ACH_ID,
        "CompanyID": "0010",
        "CustID": "C0001",
        "DocKey": None,
        "DocNo": "5000001",
        "BatchKey": None,
        "BatchID": "000002",
        "Amount": Decimal("84.250"),
        "DocDate": TODAY,
        "AppliedTo": "001002",
        "Status": "pending",
        "CreateDate": NOW,
        "UpdateDate": None,
        "PaymentSource": "ach",
    }


def test_card_and_ach_payment_of_one_number_never_share_a_refnbr(engine: sa.Engine) -> None:
    connector = erp(engine)
    card = connector.write_receipt(
        ach_receipt(
            source=PaymentSource.CARD,
            reference=f"PT {ACH_ID}",
            payment_method="VISA",
            applications=(Application(invoice_number="1001", amount=Decimal("125.00")),),
            amount=Decimal("125.00"),
            on_account=Decimal("0.00"),
        )
    )
    ach = connector.write_receipt(ach_receipt())
    assert (card.erp_document, ach.erp_document) == ("5000001", "001031")  # next LastRefNbr
    connector.post_receipt(ACH_ID)
    connector.post_receipt(ACH_ID, ACH)
    (ach_line,) = select(engine, ARTran, ARTran.c.RefNbr == c("001031", 10), ARTran.c.DrCr == "U")
    assert ach_line["ExtRefNbr"] == c("ach-5000001", 15)
    (card_line,) = select(engine, ARTran, ARTran.c.RefNbr == c("5000001", 10), ARTran.c.DrCr == "U")
    assert card_line["ExtRefNbr"] == c("5000001", 15)
    # The ACH return reverses the ACH payment (RefNbr 001031), tagged PT ACH.
    connector.reverse_receipt(
        ReceiptReversal(
            key="ach-return:1",
            paytrace_transaction_id=ACH_ID,
            reason=ReversalReason.ACH_RETURN,
            reversal_date=TODAY,
            reference="R01",
            source=ACH,
        )
    )
    (ns,) = select(engine, ARDoc, ARDoc.c.DocType == "NS")
    assert (ns["RefNbr"], ns["DocDesc"], ns["BankAcct"]) == (
        c("001031", 10),
        c("PT ACH 5000001 R01 ach return", 30),
        c("1010", 10),
    )
    (ns_line,) = select(engine, ARTran, ARTran.c.TranType == "NS")
    assert ns_line["ExtRefNbr"] == c("ach-5000001", 15)
    connector.post_document(DocumentKind.REVERSAL, "ach-return:1")
    pa = {r["RefNbr"].strip(): r["DocBal"] for r in select(engine, ARDoc, ARDoc.c.DocType == "PA")}
    assert pa == {"5000001": 0.0, "001031": 0.0}
    (invoice,) = select(engine, ARDoc, ARDoc.c.DocType == "IN", ARDoc.c.RefNbr == c("001002", 10))
    assert invoice["DocBal"] == 80.0  # the ACH payment's 80.00 is owed again
    (paid,) = select(engine, ARDoc, ARDoc.c.DocType == "IN", ARDoc.c.RefNbr == c("001001", 10))
    assert paid["DocBal"] == 0.0  # the card payment stands


@pytest.mark.parametrize(
    ("cash_account", "match"),
    [
        ("9999", "account 9999 does not exist"),
        ("1090", "account 1090 is inactive"),
        ("1000/NOSUCHSUB", "subaccount NOSUCHSUB does not exist"),
    ],
)
def test_receipt_to_a_bad_bank_account_of_its_own_is_refused(
    engine: sa.Engine, cash_account: str, match: str
) -> None:
    with pytest.raises(MissingGlAccountError, match=match):
        erp(engine).write_receipt(ach_receipt(cash_account=cash_account))
    assert select(engine, tptPaytraceXref) == []
    assert select(engine, Batch, Batch.c.BatNbr == BAT) == []


def test_reapplication_goes_to_the_bank_account_of_the_payment(engine: sa.Engine) -> None:
    connector = erp(engine)
    card = ach_receipt(
        source=PaymentSource.CARD,
        reference="PT 77",
        paytrace_transaction_id=77,
        applications=(Application(invoice_number="1001", amount=Decimal("125.00")),),
        amount=Decimal("125.00"),
        on_account=Decimal("0.00"),
        cash_account="1000",
    )
    connector.write_receipt(card)
    connector.post_receipt(77)
    connector.reverse_receipt(
        ReceiptReversal(
            key="cb:77",
            paytrace_transaction_id=77,
            reason=ReversalReason.CHARGEBACK,
            reversal_date=TODAY,
        )
    )
    connector.post_document(DocumentKind.REVERSAL, "cb:77")
    again = connector.reapply_receipt(
        Reapplication(key="cb:77:won", paytrace_transaction_id=77, reapply_date=TODAY)
    )
    (pa,) = select(
        engine, ARDoc, ARDoc.c.DocType == "PA", ARDoc.c.RefNbr == c(again.erp_document, 10)
    )
    assert (pa["BankAcct"], pa["BankSub"]) == (c("1000", 10), SUB)
    (xref,) = select(engine, tptPaytraceXref, tptPaytraceXref.c.DocKind == "reapplication")
    assert xref["PaymentSource"] == "card"


# --- a credit memo an SL user entered and released -----------------------------------------------


def test_user_memo_is_released_as_sl_releases_it(engine: sa.Engine) -> None:
    STAND_IN.add_credit_memo(
        engine,
        company_id="0010",
        customer_id="C0001",
        number="CM9001",
        amount=Decimal("30.00"),
        memo_date=TODAY,
        comment="REFUND PT 1000123 damaged goods",
        apply_to="1001",
    )
    (memo,) = select(engine, ARDoc, ARDoc.c.DocType == "CM")
    bat = memo["BatNbr"]
    assert (bat, memo["RefNbr"], memo["CustId"], memo["CpnyID"]) == (
        BAT,  # the next ARSetup.LastBatNbr
        c("CM9001", 10),
        CUST,
        c("0010", 10),
    )
    assert (memo["Rlsed"], memo["OrigDocAmt"], memo["DocBal"], memo["OpenDoc"]) == (1, 30.0, 0.0, 0)
    assert (memo["DocDesc"], memo["Crtd_User"], memo["Crtd_Prog"]) == (
        "REFUND PT 1000123 damaged good",
        c("SYSADMIN", 10),
        c("08010", 8),
    )
    (batch,) = select(engine, Batch, Batch.c.BatNbr == bat)
    assert (batch["Status"], batch["Rlsed"], batch["EditScrnNbr"]) == ("U", 1, "08010")
    lines = select(engine, ARTran, ARTran.c.BatNbr == bat)
    assert sorted((t["DrCr"], t["Acct"].strip(), t["TranAmt"], t["Rlsed"]) for t in lines) == [
        ("C", "1200", 30.0, 1),  # release's AR offset
        ("D", "1010", 30.0, 1),  # the detail line to ARSetup.RfndAcct
        ("U", "1200", 30.0, 1),  # the application to 001001
    ]
    (adjust,) = select(engine, ARAdjust)
    assert (adjust["AdjgDocType"], adjust["AdjgRefNbr"], adjust["AdjdRefNbr"]) == (
        "CM",
        c("CM9001", 10),
        c("001001", 10),
    )
    assert adjust["AdjAmt"] == 30.0
    (invoice,) = select(engine, ARDoc, ARDoc.c.DocType == "IN", ARDoc.c.RefNbr == c("001001", 10))
    assert invoice["DocBal"] == 95.0
    (balance,) = select(engine, AR_Balances, AR_Balances.c.CustID == CUST)
    assert balance["CurrBal"] == 175.5
    with pytest.raises(ValueError, match="CM9001"):
        STAND_IN.add_credit_memo(
            engine,
            company_id="0010",
            customer_id="C0001",
            number="CM9001",
            amount=Decimal("1.00"),
            memo_date=TODAY,
            comment="again",
        )


def test_user_memo_dated_in_a_closed_period_posts_to_the_current_one(engine: sa.Engine) -> None:
    STAND_IN.add_credit_memo(
        engine,
        company_id="",
        customer_id="C0002",
        number="CM9002",
        amount=Decimal("5.00"),
        memo_date=TODAY - timedelta(days=60),
        comment="REFUND PT 77",
    )
    (memo,) = select(engine, ARDoc, ARDoc.c.DocType == "CM")
    assert (memo["PerPost"], memo["DocBal"], memo["OpenDoc"]) == ("202506", 5.0, 1)
    (flagged,) = erp(engine).flagged_refund_memos("REFUND PT", TODAY - timedelta(days=61))
    assert (flagged.memo_date, flagged.applied_to) == (TODAY - timedelta(days=60), ())


def test_flagged_memos_match_company_customer_and_kind(engine: sa.Engine) -> None:
    connector = erp(engine)
    # tracepost's own memo of C0001 takes RefNbr 000001 (ARSetup.LastCrMemoNbr) ...
    connector.write_credit_memo(
        CreditMemo(
            paytrace_transaction_id=555,
            customer_id="C0001",
            amount=Decimal("4.00"),
            memo_date=TODAY,
            reference="REFUND PT 1",
        )
    )
    connector.post_document(DocumentKind.CREDIT_MEMO, "555")
    # ... a user keys 000001 for C0002 and 5000001 (a tracepost payment's RefNbr) for C0001.
    connector.write_receipt(ach_receipt(source=PaymentSource.CARD, reference="PT 5000001"))
    connector.post_receipt(ACH_ID)
    for customer, number in (("C0002", "000001"), ("C0001", "5000001")):
        STAND_IN.add_credit_memo(
            engine,
            company_id="0010",
            customer_id=customer,
            number=number,
            amount=Decimal("2.00"),
            memo_date=TODAY,
            comment="PT refund please",
        )
    STAND_IN.add_credit_memo(
        engine,
        company_id="0020",
        customer_id="C0001",
        number="CM0020",
        amount=Decimal("2.00"),
        memo_date=TODAY,
        comment="PT refund please",
    )
    flagged = connector.flagged_refund_memos("pt", TODAY)
    assert [(m.customer_id, m.erp_document) for m in flagged] == [
        ("C0002", "000001"),
        ("C0001", "5000001"),
    ]
    other = erp(engine, company_id="0020").flagged_refund_memos("PT", TODAY)
    assert [m.erp_document for m in other] == ["CM0020"]
    assert connector.flagged_refund_memos("PT_", TODAY) == []  # "_" is no wildcard


def test_gl_account_states_check_the_subaccount_a_string_names(engine: sa.Engine) -> None:
    connector = erp(engine)
    accounts = ["1010", "1010/000000", "1010/NOSUCH", "1090/000000", "12345678901", "/000000"]
    assert connector.gl_account_states(accounts) == {
        "1010": AccountState.ACTIVE,
        "1010/000000": AccountState.ACTIVE,
        "1010/NOSUCH": AccountState.MISSING,
        "1090/000000": AccountState.INACTIVE,
        "12345678901": AccountState.MISSING,  # wider than Acct char(10): never cut to 1234567890
        "/000000": AccountState.MISSING,
    }
    with engine.begin() as conn:
        conn.execute(sa.update(SubAcct).values(Active=0))
    assert connector.gl_account_states(["1010", "1010/000000"]) == {
        "1010": AccountState.ACTIVE,
        "1010/000000": AccountState.INACTIVE,
    }
