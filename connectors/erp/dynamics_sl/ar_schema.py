"""Dynamics SL accounts receivable tables of the stand-in, with the real names and widths.

Column lists follow SL's own ``CREATE TABLE`` scripts (docs/erp/dynamics_sl.md, "schema"): only
the columns tracepost reads or writes plus those a realistic row needs; every other SL column is
left out of the stand-in. Every column is ``NOT NULL`` with SL's blank default (``base.char`` and
friends). Primary keys are SL's: ``ARDoc`` (CustId, DocType, RefNbr, BatNbr, BatSeq), ``ARTran``
(CustId, TranType, RefNbr, LineNbr, RecordID), ``ARAdjust`` (AdjdRefNbr, RecordID), ``Customer``
(CustId), ``SOAddress`` (CustId, ShipToId), ``AR_Balances`` (CpnyID, CustID), ``ARSetup``
(SetupId), ``Terms`` (TermsId).

``RecordID`` is an ``IDENTITY`` in SL; the stand-in declares it an identity where the database
has one (PostgreSQL, SQL Server) and tracepost numbers it itself on SQLite (``record_ids``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from connectors.erp.dynamics_sl.base import audit, char, integer, metadata, money_col, sdate, short


def _user_fields() -> list[sa.Column[Any]]:
    """``User1..User8``: char 30, char 30, float, float, char 10, char 10, date, date."""
    return [
        char("User1", 30),
        char("User2", 30),
        money_col("User3"),
        money_col("User4"),
        char("User5", 10),
        char("User6", 10),
        sdate("User7"),
        sdate("User8"),
    ]


def _record_id() -> sa.Column[Any]:
    """SL's ``RecordID INT IDENTITY``; part of the primary key."""
    return sa.Column(
        "RecordID",
        sa.Integer,
        sa.Identity(start=1, increment=1),
        primary_key=True,
        nullable=False,
    )


Customer = sa.Table(
    "Customer",
    metadata,
    char("CustId", 15, primary=True),
    char("Name", 60),
    char("Addr1", 60),
    char("Addr2", 60),
    char("City", 30),
    char("State", 3),
    char("Zip", 10),
    char("Country", 3),
    char("Phone", 30),
    char("Fax", 30),
    char("EMailAddr", 80),
    char("Attn", 30),
    char("BillName", 60),
    char("BillAddr1", 60),
    char("BillAddr2", 60),
    char("BillCity", 30),
    char("BillState", 3),
    char("BillZip", 10),
    char("BillCountry", 3),
    char("BillPhone", 30),
    char("BillAttn", 30),
    char("ArAcct", 10),
    char("ArSub", 24),
    char("PrePayAcct", 10),
    char("PrePaySub", 24),
    char("ClassId", 6),
    money_col("CrLmt"),
    char("CuryId", 4),
    char("DfltShipToId", 10),
    char("PerNbr", 6),
    char("PmtMethod", 1),
    char("SlsperId", 10),
    char("Status", 1),
    char("StmtCycleId", 2),
    char("StmtType", 1),
    char("Terms", 2),
    char("TaxDflt", 1),
    sdate("SetupDate"),
    short("AutoApply"),
    short("PrtStmt"),
    integer("NoteId"),
    *_user_fields(),
    *audit(),
    sa.Index("Customer1", "Name"),
    sa.Index("Customer2", "Status", "CustId"),
    sa.Index("ix_Customer_User1", "User1"),
    sa.Index("ix_Customer_EMailAddr", "EMailAddr"),
    sa.Index("ix_Customer_LUpd", "LUpd_DateTime", "CustId"),
)

SOAddress = sa.Table(
    "SOAddress",
    metadata,
    char("CustId", 15, primary=True),
    char("ShipToId", 10, primary=True),
    char("Descr", 30),
    char("Name", 60),
    char("Attn", 30),
    char("Addr1", 60),
    char("Addr2", 60),
    char("City", 30),
    char("State", 3),
    char("Zip", 10),
    char("Country", 3),
    char("Phone", 30),
    char("Fax", 30),
    char("EMailAddr", 80),
    char("Status", 1),
    integer("NoteId"),
    *_user_fields(),
    *audit(),
)

Terms = sa.Table(
    "Terms",
    metadata,
    char("TermsId", 2, primary=True),
    char("Descr", 30),
    char("TermsType", 1),
    char("DueType", 1),
    short("DueIntrv"),
    char("DiscType", 1),
    short("DiscIntrv"),
    money_col("DiscPct"),
    char("ApplyTo", 1),
    integer("NoteId"),
    *audit(),
)

ARSetup = sa.Table(
    "ARSetup",
    metadata,
    char("SetupId", 2, primary=True),
    char("ArAcct", 10),
    char("ArSub", 24),
    char("ChkAcct", 10),
    char("ChkSub", 24),
    char("PrePayAcct", 10),
    char("PrePaySub", 24),
    char("DfltSBWOAcct", 10),
    char("DfltSBWOSub", 24),
    char("DfltNSFAcct", 10),
    char("DfltNSFSub", 24),
    char("DiscAcct", 10),
    char("DiscSub", 24),
    char("RfndAcct", 10),
    char("RfndSub", 24),
    short("AutoRef"),
    short("AutoNSF"),
    char("CurrPerNbr", 6),
    char("PerNbr", 6),
    short("PerRetTran"),
    char("LastBatNbr", 10),
    char("LastRefNbr", 10),
    char("LastCrMemoNbr", 10),
    char("LastDrMemoNbr", 10),
    char("LastFinChrgRefNbr", 10),
    char("LastWORefNbr", 10),
    money_col("SBLimit"),
    char("GLPostOpt", 1),
    char("DfltClass", 6),
    integer("NoteId"),
    *audit(),
)

AR_Balances = sa.Table(
    "AR_Balances",
    metadata,
    char("CpnyID", 10, primary=True),
    char("CustID", 15, primary=True),
    money_col("CurrBal"),
    money_col("FutureBal"),
    money_col("AgeBal00"),
    money_col("AgeBal01"),
    money_col("AgeBal02"),
    money_col("AgeBal03"),
    money_col("AgeBal04"),
    money_col("CrLmt"),
    money_col("TotPrePay"),
    money_col("TotOpenOrd"),
    sdate("LastActDate"),
    sdate("LastInvcDate"),
    sdate("LastAgeDate"),
    char("PerNbr", 6),
    char("CuryID", 4),
    integer("NoteID"),
    *audit(),
)

ARDoc = sa.Table(
    "ARDoc",
    metadata,
    char("CustId", 15, primary=True),
    char("DocType", 2, primary=True),
    char("RefNbr", 10, primary=True),
    char("BatNbr", 10, primary=True),
    integer("BatSeq", primary=True),
    char("CpnyID", 10),
    char("ApplBatNbr", 10),
    integer("ApplBatSeq"),
    char("BankAcct", 10),
    char("BankSub", 24),
    char("BankID", 10),
    char("CuryId", 4),
    char("CuryMultDiv", 1),
    money_col("CuryRate"),
    char("CuryRateType", 6),
    sdate("CuryEffDate"),
    money_col("OrigDocAmt"),
    money_col("CuryOrigDocAmt"),
    money_col("DocBal"),
    money_col("CuryDocBal"),
    money_col("ApplAmt"),
    money_col("CuryApplAmt"),
    money_col("DiscApplAmt"),
    money_col("CuryDiscApplAmt"),
    money_col("DiscBal"),
    money_col("CuryDiscBal"),
    money_col("StmtBal"),
    money_col("CuryStmtBal"),
    char("CustOrdNbr", 25),
    sdate("DiscDate"),
    sdate("DocDate"),
    sdate("DueDate"),
    char("DocClass", 1),
    char("DocDesc", 30),
    short("NoPrtStmt"),
    integer("LineCntr"),
    char("MasterDocNbr", 10),
    char("OrigDocNbr", 10),
    char("OrigBankAcct", 10),
    char("OrigBankSub", 24),
    char("OrigCpnyID", 10),
    short("OpenDoc"),
    char("PerClosed", 6),
    char("PerEnt", 6),
    char("PerPost", 6),
    char("PmtMethod", 1),
    char("ProjectID", 16),
    char("TaskID", 32),
    short("Rlsed"),
    char("SlsperId", 10),
    char("Status", 1),
    char("Terms", 2),
    integer("NoteId"),
    *_user_fields(),
    *audit(),
    sa.Index("ARDoc2", "RefNbr"),
    sa.Index("ARDoc5", "CustId", "DocBal", "DocDate", "Rlsed", "Terms"),
    sa.Index("ARDoc8", "BatNbr", "CustId", "DocType", "RefNbr"),
    sa.Index("ARDoc11", "CustId", "Rlsed", "DueDate"),
)

ARTran = sa.Table(
    "ARTran",
    metadata,
    char("CustId", 15, primary=True),
    char("TranType", 2, primary=True),
    char("RefNbr", 10, primary=True),
    short("LineNbr", primary=True),
    _record_id(),
    char("BatNbr", 10),
    char("CpnyID", 10),
    char("Acct", 10),
    char("Sub", 24),
    short("AcctDist"),
    char("CostType", 8),
    char("SiteId", 10),
    money_col("CuryUnitPrice"),
    money_col("UnitPrice"),
    money_col("CuryTranAmt"),
    money_col("TranAmt"),
    char("CuryId", 4),
    char("CuryMultDiv", 1),
    money_col("CuryRate"),
    char("DrCr", 1),
    char("ExtRefNbr", 15),
    char("FiscYr", 4),
    char("JrnlType", 3),
    integer("LineId"),
    char("LineRef", 5),
    char("PerEnt", 6),
    char("PerPost", 6),
    money_col("Qty"),
    short("Rlsed"),
    char("TranClass", 1),
    sdate("TranDate"),
    char("TranDesc", 30),
    char("TaxCat", 10),
    char("ProjectID", 16),
    char("TaskID", 32),
    integer("NoteId"),
    *_user_fields(),
    *audit(),
    sa.Index("ARTran4", "BatNbr", "DrCr", "CustId", "TranType", "RefNbr", "CostType", "SiteId"),
    sa.Index("ARTran9", "SiteId", "CostType", "CustId", "DrCr", "TranType", "JrnlType"),
)

ARAdjust = sa.Table(
    "ARAdjust",
    metadata,
    char("AdjdRefNbr", 10, primary=True),
    _record_id(),
    money_col("AdjAmt"),
    char("AdjBatNbr", 10),
    char("AdjdDocType", 2),
    money_col("AdjDiscAmt"),
    sdate("AdjgDocDate"),
    char("AdjgDocType", 2),
    char("AdjgPerPost", 6),
    char("AdjgRefNbr", 10),
    money_col("CuryAdjdAmt"),
    char("CuryAdjdCuryId", 4),
    money_col("CuryAdjdDiscAmt"),
    char("CuryAdjdMultDiv", 1),
    money_col("CuryAdjdRate"),
    money_col("CuryAdjgAmt"),
    money_col("CuryAdjgDiscAmt"),
    money_col("CuryRGOLAmt"),
    char("CustId", 15),
    sdate("DateAppl"),
    char("PerAppl", 6),
    char("ProjectID", 16),
    char("TaskID", 32),
    *_user_fields(),
    *audit(),
    sa.Index("ARAdjust2", "CustId", "AdjdDocType", "AdjdRefNbr", "AdjgDocDate"),
    sa.Index("ARAdjust3", "CustId", "AdjgDocType", "AdjgRefNbr", "AdjgDocDate"),
    sa.Index("ARAdjust4", "AdjBatNbr"),
)


def with_record_ids(
    conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Rows ready to insert into a table keyed by SL's ``RecordID`` identity.

    Servers fill the identity themselves. SQLite has none inside a composite key, so the
    stand-in numbers the rows from ``MAX(RecordID)``; its write transaction (``BEGIN
    IMMEDIATE``) serializes writers, so two writers cannot take the same number.

    Args:
        conn: a connection inside the caller's write transaction.
        table: ``ARTran`` or ``ARAdjust``.
        rows: the rows, without ``RecordID``.

    Returns:
        The rows, with ``RecordID`` on SQLite.
    """
    if conn.dialect.name != "sqlite" or not rows:
        return rows
    last = conn.execute(sa.select(sa.func.max(table.c.RecordID))).scalar() or 0
    return [{**row, "RecordID": int(last) + i} for i, row in enumerate(rows, start=1)]
