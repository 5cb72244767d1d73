"""Dynamics SL general ledger and sales order tables, on ``base.metadata``.

Real SL table and column names, composite primary keys and CHAR widths (docs/erp/dynamics_sl_ledger.md
gives the evidence per table). Every column is NOT NULL with SL's blank default; tables keep only
the columns tracepost writes or reads plus the ones a release or posting procedure needs, so a
stand-in insert that works here also works on a real SL database (the columns left out have
defaults there too). ``tstamp ROWVERSION`` is left out, as in ``base``.

Tracepost's own ``tptPaytraceDepositLink`` (receipts of a deposit) lives here as well, next to
``tptPaytraceXref``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from connectors.erp.dynamics_sl.base import (
    Float53,
    audit,
    char,
    integer,
    metadata,
    money_col,
    sdate,
    short,
)
from connectors.erp.xref import deposit_link_table


def qty_col(name: str) -> sa.Column[Any]:
    """A ``FLOAT(53) NOT NULL DEFAULT 0`` quantity or rate column."""
    return sa.Column(name, Float53, nullable=False, server_default=sa.text("0"))


# --- chart of accounts ------------------------------------------------------------------------

Account = sa.Table(
    "Account",
    metadata,
    char("Acct", 10, primary=True),
    char("AcctType", 2),
    char("Acct_Cat", 16),
    short("Active"),
    char("ClassID", 10),
    char("ConsolAcct", 10),
    char("CuryId", 4),
    char("Descr", 30),
    integer("NoteID"),
    char("SummPost", 1),
    char("ValidateID", 1),
    *audit(),
)

SubAcct = sa.Table(
    "SubAcct",
    metadata,
    char("Sub", 24, primary=True),
    short("Active"),
    char("ConsolSub", 24),
    char("Descr", 30),
    integer("NoteID"),
    *audit(),
)

# --- GL transactions: one row per line of a batch of any module ------------------------------

GLTran = sa.Table(
    "GLTran",
    metadata,
    char("Module", 2, primary=True),
    char("BatNbr", 10, primary=True),
    short("LineNbr", primary=True),
    char("Acct", 10),
    char("Sub", 24),
    char("BalanceType", 1),
    char("BaseCuryID", 4),
    char("CpnyID", 10),
    money_col("DrAmt"),
    money_col("CrAmt"),
    money_col("CuryDrAmt"),
    money_col("CuryCrAmt"),
    sdate("CuryEffDate"),
    char("CuryId", 4),
    char("CuryMultDiv", 1),
    qty_col("CuryRate"),
    char("CuryRateType", 6),
    char("ExtRefNbr", 15),
    char("FiscYr", 4),
    char("JrnlType", 3),
    char("LedgerID", 10),
    integer("LineId"),
    integer("NoteID"),
    char("OrigCpnyID", 10),
    char("PerEnt", 6),
    char("PerPost", 6),
    char("Posted", 1),
    char("RefNbr", 10),
    short("Rlsed"),
    sdate("TranDate"),
    char("TranDesc", 30),
    char("TranType", 2),
    *audit(),
    sa.Index("GLTran1", "Module", "BatNbr", "Acct", "Sub"),
)

# --- release work table: the batches a release procedure call processes ----------------------

WrkRelease = sa.Table(
    "WrkRelease",
    metadata,
    char("BatNbr", 10, primary=True),
    char("Module", 2, primary=True),
    char("UserAddress", 21),
    sa.Index("WRKRelease1", "UserAddress", "Module"),
)

WrkReleaseBad = sa.Table(
    "WrkReleaseBad",
    metadata,
    char("BatNbr", 10),
    char("Module", 2),
    integer("MsgID"),
    char("UserAddress", 21),
    sa.Index("WrkReleaseBad0", "UserAddress", "BatNbr", "Module"),
)

# --- sales orders ------------------------------------------------------------------------------

SOType = sa.Table(
    "SOType",
    metadata,
    char("CpnyID", 10, primary=True),
    char("SOTypeID", 4, primary=True),
    short("Active"),
    char("Behavior", 4),
    char("Descr", 30),
    char("LastOrdNbr", 10),
    char("OrdNbrPrefix", 15),
    char("OrdNbrType", 4),
    *audit(),
)

SOHeader = sa.Table(
    "SOHeader",
    metadata,
    char("CpnyID", 10, primary=True),
    char("OrdNbr", 15, primary=True),
    short("AdminHold"),
    char("ARAcct", 10),
    char("ARSub", 24),
    char("BillAddr1", 60),
    char("BillAddr2", 60),
    char("BillCity", 30),
    char("BillCountry", 3),
    char("BillName", 60),
    char("BillState", 3),
    char("BillZip", 10),
    short("Cancelled"),
    short("CreditHold"),
    char("CuryID", 4),
    char("CuryMultDiv", 1),
    qty_col("CuryRate"),
    money_col("CuryTotMerch"),
    money_col("CuryTotOrd"),
    money_col("CuryUnshippedBalance"),
    char("CustID", 15),
    char("CustOrdNbr", 25),
    short("LineCntr"),
    integer("NoteId"),
    sdate("OrdDate"),
    short("Released"),
    char("SOTypeID", 4),
    char("Status", 1),
    char("TermsID", 2),
    money_col("TotMerch"),
    money_col("TotOrd"),
    money_col("UnshippedBalance"),
    char("User1", 30),
    *audit(),
    sa.Index("SOHeader5", "CustID", "Status", "CpnyID", "OrdNbr"),
)

SOLine = sa.Table(
    "SOLine",
    metadata,
    char("CpnyID", 10, primary=True),
    char("OrdNbr", 15, primary=True),
    char("LineRef", 5, primary=True),
    qty_col("CnvFact"),
    money_col("CuryListPrice"),
    money_col("CurySlsPrice"),
    money_col("CurySlsPriceOrig"),
    money_col("CuryTotOrd"),
    char("Descr", 60),
    char("InvtID", 30),
    short("LineNbr"),
    money_col("ListPrice"),
    short("ManualPrice"),
    integer("NoteId"),
    sdate("PromDate"),
    qty_col("QtyOrd"),
    qty_col("QtyShip"),
    sdate("ReqDate"),
    short("SchedCntr"),
    char("SiteID", 10),
    char("SlsAcct", 10),
    money_col("SlsPrice"),
    money_col("SlsPriceOrig"),
    char("SlsSub", 24),
    char("Status", 1),
    money_col("TotOrd"),
    char("UnitDesc", 6),
    char("UnitMultDiv", 1),
    *audit(),
)

SOSched = sa.Table(
    "SOSched",
    metadata,
    char("CpnyID", 10, primary=True),
    char("OrdNbr", 15, primary=True),
    char("LineRef", 5, primary=True),
    char("SchedRef", 5, primary=True),
    sdate("CancelDate"),
    short("Hold"),
    integer("NoteID"),
    sdate("PriorityDate"),
    sdate("PromDate"),
    qty_col("QtyOpenShip"),
    qty_col("QtyOrd"),
    qty_col("QtyShip"),
    qty_col("QtyToInvc"),
    sdate("ReqDate"),
    char("ShipCustID", 15),
    char("ShipName", 60),
    char("ShiptoID", 10),
    char("SiteID", 10),
    char("Status", 1),
    *audit(),
)

# --- tracepost: receipts a deposit moved to the bank -----------------------------------------

tptPaytraceDepositLink = deposit_link_table(metadata)
