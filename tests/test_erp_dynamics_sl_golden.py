"""Golden rows: every column of every row each Dynamics SL write leaves, on SQLite and PostgreSQL.

Each expectation starts from SL's blank row (``CHAR(n)`` = n spaces, numbers 0, dates
1900-01-01: what SL's screens save for a field left empty) and names every value that is not
blank. Reviewed against docs/erp/dynamics_sl.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.erp.dynamics_sl import STAND_IN, DynamicsSlConnector
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
from domain.erp_documents import (
    CreditMemo,
    CustomerProfile,
    DocumentKind,
    PostalAddress,
    ReceiptReversal,
    ReversalReason,
)
from domain.models import Application, CashReceipt

TODAY = date(2025, 6, 2)
NOW = datetime(2025, 6, 2, 14, 30)
MIDNIGHT = datetime(2025, 6, 2)
BLANK = datetime(1900, 1, 1)


@pytest.fixture
def engine(erp_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(erp_url)
    STAND_IN.seed_demo(eng, customers=12, invoices=30, today=TODAY)
    yield eng
    eng.dispose()


def sl_blank(table: sa.Table) -> dict[str, Any]:
    """SL's blank row, computed here from the column types (not from the connector)."""
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.name == "RecordID":
            continue
        if isinstance(column.type, sa.CHAR):
            row[column.name] = " " * int(column.type.length or 1)
        elif isinstance(column.type, sa.Float):
            row[column.name] = 0.0
        elif isinstance(column.type, sa.Integer):
            row[column.name] = 0
        else:
            row[column.name] = BLANK
    return row


def c(value: str, width: int) -> str:
    return value.ljust(width)


def audit(
    prog: str, created: datetime = NOW, updated: datetime = NOW, lprog: str = ""
) -> dict[str, Any]:
    return {
        "Crtd_DateTime": created,
        "Crtd_Prog": c(prog, 8),
        "Crtd_User": c("tracepost", 10),
        "LUpd_DateTime": updated,
        "LUpd_Prog": c(lprog or prog, 8),
        "LUpd_User": c("tracepost", 10),
    }


def select(engine: sa.Engine, table: sa.Table, *where: Any) -> list[dict[str, Any]]:
    order = [col for col in table.primary_key.columns]
    with engine.connect() as conn:
        found = [
            dict(r._mapping) for r in conn.execute(sa.select(table).where(*where).order_by(*order))
        ]
    for row in found:
        row.pop("RecordID", None)
    return found


def erp(engine: sa.Engine) -> DynamicsSlConnector:
    return DynamicsSlConnector(engine, clock=lambda: NOW)


def short_paid_receipt() -> CashReceipt:
    return CashReceipt(
        paytrace_transaction_id=1000123,
        customer_id="C0001",
        amount=Decimal("84.25"),
        receipt_date=TODAY,
        reference="PT 1000123",
        payment_method="VISA",
        applications=(
            Application(invoice_number="1002", amount=Decimal("80.00"), write_off=Decimal("0.50")),
        ),
        on_account=Decimal("4.25"),
    )


BAT = c("000002", 10)
CUST = c("C0001", 15)
SUB = c("000000", 24)


def payment_batch(**changes: Any) -> dict[str, Any]:
    return (
        sl_blank(Batch)
        | {
            "Module": "AR",
            "BatNbr": BAT,
            "CpnyID": c("0010", 10),
            "BatType": "N",
            "Status": "B",
            "EditScrnNbr": "08030",
            "JrnlType": "AR ",
            "LedgerID": c("0000", 10),
            "PerPost": "202506",
            "PerEnt": "202506",
            "Descr": c("PT 1000123 VISA", 30),
            "BaseCuryID": "USD ",
            "BalanceType": "A",
            "CuryId": "USD ",
            "CuryMultDiv": "M",
            "CuryRate": 1.0,
            "CtrlTot": 84.25,
            "CuryCtrlTot": 84.25,
            "CrTot": 84.25,
            "CuryCrTot": 84.25,
            "DateEnt": MIDNIGHT,
            **audit("08030"),
        }
        | changes
    )


def doc_common(doc_type: str, ref: str, amount: float, **changes: Any) -> dict[str, Any]:
    return (
        sl_blank(ARDoc)
        | {
            "CustId": CUST,
            "DocType": doc_type,
            "RefNbr": c(ref, 10),
            "BatNbr": BAT,
            "CpnyID": c("0010", 10),
            "CuryId": "USD ",
            "CuryMultDiv": "M",
            "CuryRate": 1.0,
            "CuryEffDate": MIDNIGHT,
            "OrigDocAmt": amount,
            "CuryOrigDocAmt": amount,
            "DocBal": amount,
            "CuryDocBal": amount,
            "DiscDate": MIDNIGHT,
            "DocDate": MIDNIGHT,
            "DueDate": MIDNIGHT,
            "DocClass": "N",
            "OrigCpnyID": c("0010", 10),
            "OpenDoc": 1,
            "PerEnt": "202506",
            "PerPost": "202506",
            "Status": "A",
            **audit("08030"),
        }
        | changes
    )


def tran(
    tran_type: str,
    ref: str,
    line: int,
    acct: str,
    amount: float,
    drcr: str,
    descr: str,
    **changes: Any,
) -> dict[str, Any]:
    return (
        sl_blank(ARTran)
        | {
            "CustId": CUST,
            "TranType": tran_type,
            "RefNbr": c(ref, 10),
            "LineNbr": -32767 + 256 * line,
            "BatNbr": BAT,
            "CpnyID": c("0010", 10),
            "Acct": c(acct, 10),
            "Sub": SUB,
            "CuryTranAmt": amount,
            "TranAmt": amount,
            "CuryId": "USD ",
            "CuryMultDiv": "M",
            "CuryRate": 1.0,
            "DrCr": drcr,
            "FiscYr": "2025",
            "JrnlType": "AR ",
            "LineId": line + 1,
            "LineRef": f"{line + 1:05d}",
            "PerEnt": "202506",
            "PerPost": "202506",
            "TranDate": MIDNIGHT,
            "TranDesc": c(descr, 30),
            **audit("08030"),
        }
        | changes
    )


PA_APPL = tran(
    "PA",
    "1000123",
    0,
    "1200",
    80.0,
    "U",
    "PT 1000123 VISA",
    CostType=c("IN", 8),
    SiteId=c("001002", 10),
    ExtRefNbr=c("1000123", 15),
)
SB_LINE = tran("SB", "000001", 0, "6950", 0.5, "D", "PT 1000123 short pay write-off")
SB_APPL = tran(
    "SB",
    "000001",
    1,
    "1200",
    0.5,
    "U",
    "PT 1000123 short pay write-off",
    CostType=c("IN", 8),
    SiteId=c("001002", 10),
)
PA_DOC = doc_common(
    "PA",
    "1000123",
    84.25,
    ApplBatNbr=BAT,
    BankAcct=c("1010", 10),
    BankSub=SUB,
    ApplAmt=80.0,
    CuryApplAmt=80.0,
    DocDesc=c("PT 1000123 VISA", 30),
)
SB_DOC = doc_common(
    "SB",
    "000001",
    0.5,
    BatSeq=1,
    ApplBatNbr=BAT,
    ApplBatSeq=1,
    ApplAmt=0.5,
    CuryApplAmt=0.5,
    DocDesc="PT 1000123 short pay write-off",
    LineCntr=1,
    OrigDocNbr=c("1000123", 10),
)


def test_golden_receipt(engine: sa.Engine) -> None:
    erp(engine).write_receipt(short_paid_receipt())
    assert select(engine, Batch, Batch.c.BatNbr == BAT) == [payment_batch()]
    assert select(engine, ARDoc, ARDoc.c.BatNbr == BAT) == [PA_DOC, SB_DOC]
    assert select(engine, ARTran, ARTran.c.BatNbr == BAT) == [PA_APPL, SB_LINE, SB_APPL]
    (xref,) = select(engine, tptPaytraceXref)
    assert xref == {
        "DocKind": "receipt",
        "SourceKey": "1000123",
        "PaytraceTranID": 1000123,
        "CompanyID": "0010",
        "CustID": "C0001",
        "DocKey": None,
        "DocNo": "1000123",
        "BatchKey": None,
        "BatchID": "000002",
        "Amount": Decimal("84.250"),
        "DocDate": TODAY,
        "AppliedTo": "001002",
        "Status": "pending",
        "CreateDate": NOW,
        "UpdateDate": None,
        "PaymentSource": "card",
    }
    (setup,) = select(engine, ARSetup)
    assert (setup["LastBatNbr"], setup["LastWORefNbr"], setup["LastRefNbr"]) == (
        BAT,
        c("000001", 10),
        c("001030", 10),
    )


def test_golden_release(engine: sa.Engine) -> None:
    connector = erp(engine)
    connector.write_receipt(short_paid_receipt())
    connector.post_receipt(1000123)
    released = audit("08030", lprog="08400")
    assert select(engine, Batch, Batch.c.BatNbr == BAT) == [
        payment_batch(Status="U", Rlsed=1, **released)
    ]
    assert select(engine, ARDoc, ARDoc.c.BatNbr == BAT) == [
        PA_DOC | {"Rlsed": 1, "DocBal": 4.25, "CuryDocBal": 4.25, **released},
        SB_DOC
        | {
            "Rlsed": 1,
            "DocBal": 0.0,
            "CuryDocBal": 0.0,
            "OpenDoc": 0,
            "PerClosed": "202506",
            **released,
        },
    ]
    (invoice,) = select(engine, ARDoc, ARDoc.c.DocType == "IN", ARDoc.c.RefNbr == c("001002", 10))
    assert (
        invoice["DocBal"],
        invoice["CuryDocBal"],
        invoice["OpenDoc"],
        invoice["PerClosed"],
        invoice["LUpd_Prog"],
        invoice["LUpd_DateTime"],
    ) == (0.0, 0.0, 0, "202506", c("08400", 8), NOW)
    released_line = {"Rlsed": 1, "LUpd_Prog": c("08400", 8)}
    offset = audit("08400")
    assert select(engine, ARTran, ARTran.c.BatNbr == BAT) == [
        PA_APPL | released_line,
        tran("PA", "1000123", 254, "1010", 84.25, "D", "PT 1000123 VISA", Rlsed=1, **offset),
        tran("PA", "1000123", 255, "1200", 84.25, "C", "PT 1000123 VISA", Rlsed=1, **offset),
        SB_LINE | released_line,
        SB_APPL | released_line,
        tran(
            "SB",
            "000001",
            255,
            "1200",
            0.5,
            "C",
            "PT 1000123 short pay write-off",
            Rlsed=1,
            **offset,
        ),
    ]
    adjust = sl_blank(ARAdjust) | {
        "AdjdRefNbr": c("001002", 10),
        "AdjBatNbr": BAT,
        "AdjdDocType": "IN",
        "AdjgDocDate": MIDNIGHT,
        "AdjgPerPost": "202506",
        "CuryAdjdCuryId": "USD ",
        "CuryAdjdMultDiv": "M",
        "CuryAdjdRate": 1.0,
        "CustId": CUST,
        "DateAppl": MIDNIGHT,
        "PerAppl": "202506",
        **offset,
    }
    amounts = ("AdjAmt", "CuryAdjdAmt", "CuryAdjgAmt")
    assert sorted(select(engine, ARAdjust), key=lambda r: r["AdjgDocType"]) == [
        adjust
        | {"AdjgDocType": "PA", "AdjgRefNbr": c("1000123", 10)}
        | dict.fromkeys(amounts, 80.0),
        adjust | {"AdjgDocType": "SB", "AdjgRefNbr": c("000001", 10)} | dict.fromkeys(amounts, 0.5),
    ]
    (balance,) = select(engine, AR_Balances, AR_Balances.c.CustID == CUST)
    assert (balance["CurrBal"], balance["LastActDate"], balance["LUpd_Prog"]) == (
        120.75,
        NOW,
        c("08400", 8),
    )
    (xref,) = select(engine, tptPaytraceXref)
    assert (xref["Status"], xref["UpdateDate"]) == ("posted", NOW)


def test_golden_credit_memo(engine: sa.Engine) -> None:
    erp(engine).write_credit_memo(
        CreditMemo(
            paytrace_transaction_id=555,
            customer_id="C0002",
            amount=Decimal("50"),
            memo_date=TODAY,
            reference="refund",
            apply_to_invoice="1004",
        )
    )
    cust = c("C0002", 15)
    descr = "PT 555 refund refund"
    assert select(engine, Batch, Batch.c.BatNbr == BAT) == [
        payment_batch(
            EditScrnNbr="08010",
            Descr=c(descr, 30),
            CtrlTot=50.0,
            CuryCtrlTot=50.0,
            CrTot=50.0,
            CuryCrTot=50.0,
            **audit("08010"),
        )
    ]
    assert select(engine, ARDoc, ARDoc.c.BatNbr == BAT) == [
        doc_common(
            "CM",
            "000001",
            50.0,
            CustId=cust,
            ApplBatNbr=BAT,
            ApplAmt=40.0,
            CuryApplAmt=40.0,
            DocDesc=c(descr, 30),
            LineCntr=1,
            OrigDocNbr=c("001004", 10),
            Terms="30",
            **audit("08010"),
        )
    ]
    assert select(engine, ARTran, ARTran.c.BatNbr == BAT) == [
        tran(
            "CM",
            "000001",
            0,
            "1010",
            50.0,
            "D",
            descr,
            CustId=cust,
            ExtRefNbr=c("555", 15),
            **audit("08010"),
        ),
        tran(
            "CM",
            "000001",
            1,
            "1200",
            40.0,
            "U",
            descr,
            CustId=cust,
            CostType=c("IN", 8),
            SiteId=c("001004", 10),
            ExtRefNbr=c("555", 15),
            **audit("08010"),
        ),
    ]
    (setup,) = select(engine, ARSetup)
    assert setup["LastCrMemoNbr"] == c("000001", 10)


def test_golden_nsf_reversal(engine: sa.Engine) -> None:
    connector = erp(engine)
    connector.write_receipt(short_paid_receipt())
    connector.post_receipt(1000123)
    connector.reverse_receipt(
        ReceiptReversal(
            key="cb:1",
            paytrace_transaction_id=1000123,
            reason=ReversalReason.CHARGEBACK,
            reversal_date=TODAY,
        )
    )
    bat = c("000003", 10)
    descr = "PT 1000123 chargeback"
    assert select(engine, Batch, Batch.c.BatNbr == bat) == [
        payment_batch(
            BatNbr=bat, Descr=c(descr, 30), CrTot=0.0, CuryCrTot=0.0, DrTot=84.25, CuryDrTot=84.25
        )
    ]
    assert select(engine, ARDoc, ARDoc.c.BatNbr == bat) == [
        doc_common(
            "NS",
            "1000123",
            84.25,
            BatNbr=bat,
            BankAcct=c("1010", 10),
            BankSub=SUB,
            DocDesc=c(descr, 30),
            LineCntr=1,
            OrigDocNbr=c("1000123", 10),
        )
    ]
    assert select(engine, ARTran, ARTran.c.BatNbr == bat) == [
        tran("NS", "1000123", 0, "1010", 84.25, "C", descr, BatNbr=bat, ExtRefNbr=c("1000123", 15))
    ]
    connector.post_document(DocumentKind.REVERSAL, "cb:1")
    (invoice,) = select(engine, ARDoc, ARDoc.c.DocType == "IN", ARDoc.c.RefNbr == c("001002", 10))
    # The payment's 80.00 comes back; the 0.50 small-balance write-off stands.
    assert (invoice["DocBal"], invoice["OpenDoc"], invoice["PerClosed"]) == (80.0, 1, c("", 6))
    (pa,) = select(engine, ARDoc, ARDoc.c.DocType == "PA")
    assert (pa["DocBal"], pa["OpenDoc"]) == (0.0, 0)
    (ns_adjust,) = select(engine, ARAdjust, ARAdjust.c.AdjgDocType == "NS")
    assert (ns_adjust["AdjAmt"], ns_adjust["AdjdRefNbr"], ns_adjust["AdjBatNbr"]) == (
        -80.0,
        c("001002", 10),
        bat,
    )
    (balance,) = select(engine, AR_Balances, AR_Balances.c.CustID == CUST)
    assert balance["CurrBal"] == 205.0


def test_golden_new_customer(engine: sa.Engine) -> None:
    erp(engine).upsert_customer(
        CustomerProfile(
            customer_id="WEB0001",
            name="Nova Tools Inc.",
            email="ap@nova.example",
            phone="5095550100",
            terms="30",
            paytrace_customer_id="pt-nova",
            address=PostalAddress(
                line1="1 Nova Way",
                line2="Suite 2",
                city="Boise",
                state="ID",
                postal_code="83702",
                country="USA",
            ),
        )
    )
    key = c("WEB0001", 15)
    place = {
        "Addr1": c("1 Nova Way", 60),
        "Addr2": c("Suite 2", 60),
        "City": c("Boise", 30),
        "State": "ID ",
        "Zip": c("83702", 10),
        "Country": "USA",
        "Phone": c("5095550100", 30),
        "EMailAddr": c("ap@nova.example", 80),
        "Name": c("Nova Tools Inc.", 60),
    }
    assert select(engine, Customer, Customer.c.CustId == key) == [
        sl_blank(Customer)
        | place
        | {
            "CustId": key,
            "BillName": c("Nova Tools Inc.", 60),
            "BillAddr1": c("1 Nova Way", 60),
            "BillAddr2": c("Suite 2", 60),
            "BillCity": c("Boise", 30),
            "BillState": "ID ",
            "BillZip": c("83702", 10),
            "BillCountry": "USA",
            "BillPhone": c("5095550100", 30),
            "ArAcct": c("1200", 10),
            "ArSub": SUB,
            "ClassId": c("DEFLT", 6),
            "CuryId": "USD ",
            "DfltShipToId": c("DEFAULT", 10),
            "Status": "A",
            "StmtType": "O",
            "Terms": "30",
            "SetupDate": MIDNIGHT,
            "User1": c("pt-nova", 30),
            **audit("08260"),
        }
    ]
    assert select(engine, SOAddress, SOAddress.c.CustId == key) == [
        sl_blank(SOAddress)
        | place
        | {
            "CustId": key,
            "ShipToId": c("DEFAULT", 10),
            "Descr": c("Default", 30),
            "Status": "A",
            **audit("08260"),
        }
    ]
