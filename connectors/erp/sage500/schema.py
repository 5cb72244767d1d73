"""SQLAlchemy Core tables of the Sage 500 ERP database, with the real table and column names.

Only what tracepost reads or writes, plus what a realistic demo needs. Keys are ``int`` surrogate
keys without IDENTITY (Sage assigns them with ``spGetNextSurrogateKey``; emulated by
``tciSurrogateKey``), money is ``decimal(15,3)``. Where a name is inferred rather than confirmed,
``docs/erp/sage500.md`` says so and why.

``tptPaytraceXref`` and ``tptPaytraceDepositLink`` are tracepost's own tables, kept in the ERP
database so that a document, its cross-reference row (and a deposit's receipt links) commit in
one transaction.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from connectors.erp.xref import deposit_link_table, xref_table

metadata = sa.MetaData()


def blank_insensitive(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """``lower(ltrim(rtrim(x)))``: the expression the case/blank-insensitive indexes cover.

    ``ltrim(rtrim())`` rather than ``trim()``: it exists on SQLite, PostgreSQL and every SQL
    Server version Sage 500 supports (``TRIM`` needs SQL Server 2017).
    """
    return sa.func.lower(sa.func.ltrim(sa.func.rtrim(column)))


Money = sa.Numeric(15, 3, asdecimal=True)


def _key(name: str, *, primary: bool = False, nullable: bool = False) -> sa.Column[Any]:
    """An int surrogate key column; never autoincrement (Sage assigns keys itself)."""
    return sa.Column(
        name,
        sa.Integer,
        primary_key=primary,
        autoincrement=False,
        nullable=nullable and not primary,
    )


def _money(name: str) -> sa.Column[Any]:
    return sa.Column(name, Money, nullable=False, default=0)


def _audit() -> list[sa.Column[Any]]:
    """CreateDate, CreateUserID, UpdateDate, UpdateUserID, UpdateCounter (Sage audit columns)."""
    return [
        sa.Column("CreateDate", sa.DateTime, nullable=True),
        sa.Column("CreateUserID", sa.String(30), nullable=True),
        sa.Column("UpdateDate", sa.DateTime, nullable=True),
        sa.Column("UpdateUserID", sa.String(30), nullable=True),
        sa.Column("UpdateCounter", sa.Integer, nullable=False, default=0),
    ]


# --- system and common ----------------------------------------------------------------------

tsmCompany = sa.Table(
    "tsmCompany",
    metadata,
    sa.Column("CompanyID", sa.String(3), primary_key=True),
    sa.Column("CompanyName", sa.String(40), nullable=False),
    sa.Column("CurrID", sa.String(3), nullable=False, default="USD"),
)

tciSurrogateKey = sa.Table(
    "tciSurrogateKey",
    metadata,
    sa.Column("TableName", sa.String(30), primary_key=True),
    sa.Column("NextKey", sa.Integer, nullable=False),
)

tciAddress = sa.Table(
    "tciAddress",
    metadata,
    _key("AddrKey", primary=True),
    sa.Column("AddrName", sa.String(40), nullable=True),
    *(sa.Column(f"AddrLine{i}", sa.String(40), nullable=True) for i in range(1, 6)),
    sa.Column("City", sa.String(20), nullable=True),
    sa.Column("StateID", sa.String(3), nullable=True),
    sa.Column("PostalCode", sa.String(10), nullable=True),
    sa.Column("CountryID", sa.String(3), nullable=True),
    sa.Column("UpdateCounter", sa.Integer, nullable=False, default=0),
)

tciBatchTypCompany = sa.Table(
    "tciBatchTypCompany",
    metadata,
    sa.Column("CompanyID", sa.String(3), primary_key=True),
    sa.Column("BatchType", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("BatchTypeID", sa.String(2), nullable=False),
    sa.Column("NextBatchNo", sa.Integer, nullable=False, default=1),
)

tciTranTypeCompany = sa.Table(
    "tciTranTypeCompany",
    metadata,
    sa.Column("CompanyID", sa.String(3), primary_key=True),
    sa.Column("TranType", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("TranTypeID", sa.String(2), nullable=False),
    sa.Column("NextTranNo", sa.Integer, nullable=False, default=1),
)

tciBatchLog = sa.Table(
    "tciBatchLog",
    metadata,
    _key("BatchKey", primary=True),
    sa.Column("BatchID", sa.String(12), nullable=False),
    sa.Column("BatchNo", sa.Integer, nullable=False),
    sa.Column("BatchType", sa.Integer, nullable=False),
    sa.Column("Status", sa.SmallInteger, nullable=False),
    sa.Column("PostStatus", sa.SmallInteger, nullable=False, default=0),
    sa.Column("SourceCompanyID", sa.String(3), nullable=False),
    sa.Column("PostCompanyID", sa.String(3), nullable=False),
    sa.Column("BatchCmnt", sa.String(50), nullable=True),
    sa.Column("PostDate", sa.DateTime, nullable=False),
    sa.Column("NextSeqNo", sa.Integer, nullable=False, default=1),
    sa.Column("RgstrPrinted", sa.SmallInteger, nullable=False, default=0),
    sa.Column("CreateDate", sa.DateTime, nullable=True),
    sa.Column("CreateUserID", sa.String(30), nullable=True),
    sa.Column("UpdateCounter", sa.Integer, nullable=False, default=0),
    sa.UniqueConstraint("SourceCompanyID", "BatchID", name="uq_tciBatchLog_BatchID"),
)

# --- general ledger and cash management -----------------------------------------------------

tglAccount = sa.Table(
    "tglAccount",
    metadata,
    _key("GLAcctKey", primary=True),
    sa.Column("CompanyID", sa.String(3), nullable=False),
    sa.Column("GLAcctNo", sa.String(100), nullable=False),
    sa.Column("Description", sa.String(40), nullable=False),
    _key("NaturalAcctKey", nullable=True),
    sa.Column("Status", sa.SmallInteger, nullable=False, default=1),
    sa.UniqueConstraint("CompanyID", "GLAcctNo", name="uq_tglAccount_GLAcctNo"),
)

tcmCashAcct = sa.Table(
    "tcmCashAcct",
    metadata,
    _key("CashAcctKey", primary=True),
    sa.Column("CompanyID", sa.String(3), nullable=False),
    sa.Column("CashAcctID", sa.String(15), nullable=False),
    sa.Column("Description", sa.String(40), nullable=False),
    _key("GLAcctKey"),
    sa.UniqueConstraint("CompanyID", "CashAcctID", name="uq_tcmCashAcct_CashAcctID"),
)

tglFiscalYear = sa.Table(
    "tglFiscalYear",
    metadata,
    sa.Column("CompanyID", sa.String(3), primary_key=True),
    sa.Column("FiscYear", sa.String(5), primary_key=True),
    sa.Column("NoOfPeriods", sa.SmallInteger, nullable=False),
)

tglFiscalPeriod = sa.Table(
    "tglFiscalPeriod",
    metadata,
    sa.Column("CompanyID", sa.String(3), primary_key=True),
    sa.Column("FiscYear", sa.String(5), primary_key=True),
    sa.Column("FiscPer", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("StartDate", sa.DateTime, nullable=False),
    sa.Column("EndDate", sa.DateTime, nullable=False),
    sa.Column("Status", sa.SmallInteger, nullable=False),
)

# --- accounts receivable --------------------------------------------------------------------

tarCustomer = sa.Table(
    "tarCustomer",
    metadata,
    _key("CustKey", primary=True),
    sa.Column("CompanyID", sa.String(3), nullable=False),
    sa.Column("CustID", sa.String(12), nullable=False),
    sa.Column("CustName", sa.String(40), nullable=False),
    sa.Column("Status", sa.SmallInteger, nullable=False, default=1),
    sa.Column("Hold", sa.SmallInteger, nullable=False, default=0),
    _key("CustClassKey", nullable=True),
    _money("CreditLimit"),
    _key("PrimaryAddrKey", nullable=True),
    _key("DfltBillToAddrKey", nullable=True),
    _key("DfltShipToAddrKey", nullable=True),
    _key("PrimaryCntctKey", nullable=True),
    sa.Column("CustRefNo", sa.String(15), nullable=True),
    *(sa.Column(f"UserFld{i}", sa.String(15), nullable=True) for i in range(1, 5)),
    sa.Column("DateEstab", sa.DateTime, nullable=True),
    *_audit(),
    sa.Column("CreateType", sa.SmallInteger, nullable=False, default=1),
    sa.UniqueConstraint("CompanyID", "CustID", name="uq_tarCustomer_CustID"),
    # tracepost looks customers up by the PayTrace customer id kept in a user field.
    sa.Index("ix_tarCustomer_UserFld1", "CompanyID", "UserFld1"),
    # customers_changed_since: keyset paging over (UpdateDate, CustKey).
    sa.Index("ix_tarCustomer_UpdateDate", "CompanyID", "UpdateDate", "CustKey"),
)

# find_customers(name=...): case- and blank-insensitive equality within a company.
sa.Index(
    "ix_tarCustomer_CustName_ci",
    tarCustomer.c.CompanyID,
    blank_insensitive(tarCustomer.c.CustName),
)

tarCustAddr = sa.Table(
    "tarCustAddr",
    metadata,
    _key("AddrKey", primary=True),
    _key("CustKey"),
    sa.Column("CustAddrID", sa.String(15), nullable=False),
    _key("PmtTermsKey", nullable=True),
    sa.UniqueConstraint("CustKey", "CustAddrID", name="uq_tarCustAddr_CustAddrID"),
)

tciContact = sa.Table(
    "tciContact",
    metadata,
    _key("CntctKey", primary=True),
    _key("CntctOwnerKey"),
    sa.Column("EntityType", sa.SmallInteger, nullable=False),
    sa.Column("Name", sa.String(40), nullable=False),
    sa.Column("Title", sa.String(40), nullable=True),
    sa.Column("Phone", sa.String(17), nullable=True),
    sa.Column("Fax", sa.String(17), nullable=True),
    sa.Column("EMailAddr", sa.String(256), nullable=True),
    *_audit(),
    sa.Index("ix_tciContact_Owner", "CntctOwnerKey", "EntityType"),
)

# find_customers(email=...): case- and blank-insensitive equality.
sa.Index("ix_tciContact_EMailAddr_ci", blank_insensitive(tciContact.c.EMailAddr))

tciPaymentTerms = sa.Table(
    "tciPaymentTerms",
    metadata,
    _key("PmtTermsKey", primary=True),
    sa.Column("CompanyID", sa.String(3), nullable=False),
    sa.Column("PmtTermsID", sa.String(15), nullable=False),
    sa.Column("Description", sa.String(30), nullable=False),
    sa.Column("DueDayOrMonth", sa.SmallInteger, nullable=False, default=0),
    sa.UniqueConstraint("CompanyID", "PmtTermsID", name="uq_tciPaymentTerms_PmtTermsID"),
)

tarBatch = sa.Table(
    "tarBatch",
    metadata,
    _key("BatchKey", primary=True),
    _key("CashAcctKey", nullable=True),
    sa.Column("BatchCmnt", sa.String(50), nullable=True),
    sa.Column("PostDate", sa.DateTime, nullable=False),
    sa.Column("Hold", sa.SmallInteger, nullable=False, default=0),
    sa.Column("Private", sa.SmallInteger, nullable=False, default=0),
    sa.Column("SourceModule", sa.SmallInteger, nullable=False, default=5),
)


def _invoice_columns() -> list[sa.Column[Any]]:
    """Columns shared by posted (tarInvoice) and pending (tarPendInvoice) AR documents."""
    return [
        _key("InvcKey", primary=True),
        sa.Column("CompanyID", sa.String(3), nullable=False),
        sa.Column("TranID", sa.String(13), nullable=False),
        sa.Column("TranNo", sa.String(10), nullable=False),
        sa.Column("TranType", sa.Integer, nullable=False),
        _key("CustKey"),
        _key("BatchKey", nullable=True),
        sa.Column("TranDate", sa.DateTime, nullable=False),
        sa.Column("PostDate", sa.DateTime, nullable=False),
        sa.Column("DueDate", sa.DateTime, nullable=True),
        sa.Column("DiscDate", sa.DateTime, nullable=True),
        _money("TranAmt"),
        _money("TranAmtHC"),
        _money("Balance"),
        _money("BalanceHC"),
        _money("SalesAmt"),
        _money("STaxAmt"),
        _money("DiscAmt"),
        sa.Column("CurrID", sa.String(3), nullable=False, default="USD"),
        sa.Column("CurrExchRate", sa.Float, nullable=False, default=1),
        sa.Column("Status", sa.SmallInteger, nullable=False, default=1),
        sa.Column("SourceModule", sa.SmallInteger, nullable=False, default=5),
        sa.Column("CustPONo", sa.String(15), nullable=True),
        sa.Column("TranCmnt", sa.String(50), nullable=True),
        *_audit(),
        sa.Column("CreateType", sa.SmallInteger, nullable=False, default=1),
    ]


tarInvoice = sa.Table(
    "tarInvoice",
    metadata,
    *_invoice_columns(),
    sa.UniqueConstraint("CompanyID", "TranID", name="uq_tarInvoice_TranID"),
    # invoice_by_number: equality on the stored zero-padded TranNo.
    sa.Index("ix_tarInvoice_TranNo", "CompanyID", "TranNo", "TranType"),
    # open_invoices: a customer's invoices, balance filtered in the index.
    sa.Index("ix_tarInvoice_CustKey_Balance", "CustKey", "Balance"),
)

# Unposted AR documents of a type-501 batch (invoices, credit memos); posting moves the row,
# InvcKey unchanged.
tarPendInvoice = sa.Table(
    "tarPendInvoice",
    metadata,
    *_invoice_columns(),
    sa.UniqueConstraint("CompanyID", "TranID", name="uq_tarPendInvoice_TranID"),
    sa.Index("ix_tarPendInvoice_BatchKey", "BatchKey"),
)


def _cust_pmt_columns() -> list[sa.Column[Any]]:
    """Columns shared by the pending (tarPendCustPmt) and posted (tarCustPmt) receipt tables."""
    return [
        _key("CustPmtKey", primary=True),
        sa.Column("CompanyID", sa.String(3), nullable=False),
        _key("CustKey"),
        _key("BatchKey"),
        _key("CashAcctKey", nullable=True),
        sa.Column("TranID", sa.String(13), nullable=False),
        sa.Column("TranNo", sa.String(10), nullable=False),
        sa.Column("TranType", sa.Integer, nullable=False),
        sa.Column("TranDate", sa.DateTime, nullable=False),
        sa.Column("PostDate", sa.DateTime, nullable=False),
        _money("TranAmt"),
        _money("TranAmtHC"),
        _money("UnappliedAmt"),
        _money("UnappliedAmtHC"),
        sa.Column("CurrID", sa.String(3), nullable=False, default="USD"),
        sa.Column("CurrExchRate", sa.Float, nullable=False, default=1),
        sa.Column("Status", sa.SmallInteger, nullable=False, default=1),
        sa.Column("SourceModule", sa.SmallInteger, nullable=False, default=5),
        sa.Column("TranCmnt", sa.String(50), nullable=True),
        *_audit(),
        sa.Column("CreateType", sa.SmallInteger, nullable=False, default=1),
    ]


tarPendCustPmt = sa.Table(
    "tarPendCustPmt",
    metadata,
    *_cust_pmt_columns(),
    sa.UniqueConstraint("CompanyID", "TranID", name="uq_tarPendCustPmt_TranID"),
    sa.Index("ix_tarPendCustPmt_BatchKey", "BatchKey"),
)

tarCustPmt = sa.Table(
    "tarCustPmt",
    metadata,
    *_cust_pmt_columns(),
    sa.UniqueConstraint("CompanyID", "TranID", name="uq_tarCustPmt_TranID"),
    sa.Index("ix_tarCustPmt_CustKey", "CustKey"),
)


def _appl_columns() -> list[sa.Column[Any]]:
    """Columns of a payment application (pending and posted), as the Net4Sage entity has them."""
    return [
        _key("CustPmtApplKey", primary=True),
        _key("BatchKey"),
        sa.Column("SeqNo", sa.Integer, nullable=False),
        sa.Column("AppliedAtCreation", sa.SmallInteger, nullable=False, default=0),
        _key("ApplyFromPmtKey"),
        sa.Column("ApplyFromTranID", sa.String(13), nullable=False),
        sa.Column("ApplyFromTranDate", sa.DateTime, nullable=False),
        _key("ApplyToInvcKey"),
        sa.Column("ApplyToTranID", sa.String(13), nullable=False),
        sa.Column("ApplyToTranDate", sa.DateTime, nullable=False),
        sa.Column("CurrExchRate", sa.Float, nullable=False, default=1),
        _money("PmtAmt"),
        _money("PmtAmtIC"),
        _money("DiscTakenAmt"),
        _money("DiscTakenAmtIC"),
        _money("WriteOffAmt"),
        _money("WriteOffAmtIC"),
        _money("RealGainLossAmt"),
        sa.Column("CreateDate", sa.DateTime, nullable=True),
        sa.Column("CreateUserID", sa.String(30), nullable=True),
        sa.Column("UpdateCounter", sa.Integer, nullable=False, default=0),
    ]


tarPendCustPmtAppl = sa.Table(
    "tarPendCustPmtAppl",
    metadata,
    *_appl_columns(),
    sa.Index("ix_tarPendCustPmtAppl_BatchKey", "BatchKey"),
    sa.Index("ix_tarPendCustPmtAppl_ApplyToInvcKey", "ApplyToInvcKey"),
)

tarCustPmtAppl = sa.Table(
    "tarCustPmtAppl",
    metadata,
    *_appl_columns(),
    sa.Index("ix_tarCustPmtAppl_ApplyFromPmtKey", "ApplyFromPmtKey"),
    sa.Index("ix_tarCustPmtAppl_ApplyToInvcKey", "ApplyToInvcKey"),
)


def _gl_posting_columns() -> list[sa.Column[Any]]:
    """Columns shared by GL staging (tglPosting) and posted GL (tglTransaction)."""
    return [
        _key("BatchKey"),
        _key("GLAcctKey"),
        sa.Column("CurrID", sa.String(3), nullable=False, default="USD"),
        _money("PostAmt"),
        _money("PostAmtHC"),
        sa.Column("PostQty", sa.Numeric(16, 8, asdecimal=True), nullable=False, default=0),
        sa.Column("PostCmnt", sa.String(50), nullable=True),
        sa.Column("ExtCmnt", sa.String(255), nullable=True),
        sa.Column("JrnlNo", sa.Integer, nullable=True),
        sa.Column("TranDate", sa.DateTime, nullable=False),
        _key("TranKey", nullable=True),
        sa.Column("TranNo", sa.String(10), nullable=True),
        sa.Column("TranType", sa.Integer, nullable=False),
        sa.Column("PostDate", sa.DateTime, nullable=False),
        sa.Column("SourceModuleNo", sa.SmallInteger, nullable=False, default=3),
    ]


tglPosting = sa.Table(
    "tglPosting",
    metadata,
    _key("PostingKey", primary=True),
    *_gl_posting_columns(),
    sa.Index("ix_tglPosting_BatchKey", "BatchKey"),
)

tglTransaction = sa.Table(
    "tglTransaction",
    metadata,
    _key("glTranKey", primary=True),
    *_gl_posting_columns(),
    sa.Column("CompanyID", sa.String(3), nullable=False),
    sa.Column("FiscYear", sa.String(5), nullable=False),
    sa.Column("FiscPer", sa.SmallInteger, nullable=False),
    sa.Index("ix_tglTransaction_Acct_Per", "GLAcctKey", "FiscYear", "FiscPer"),
)


# --- inventory items and sales orders --------------------------------------------------------

timItem = sa.Table(
    "timItem",
    metadata,
    _key("ItemKey", primary=True),
    sa.Column("CompanyID", sa.String(3), nullable=False),
    sa.Column("ItemID", sa.String(30), nullable=False),
    sa.Column("Status", sa.SmallInteger, nullable=False, default=1),
    sa.UniqueConstraint("CompanyID", "ItemID", name="uq_timItem_ItemID"),
)

timItemDescription = sa.Table(
    "timItemDescription",
    metadata,
    _key("ItemKey", primary=True),
    sa.Column("LanguageID", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("ShortDesc", sa.String(40), nullable=False),
)

tsoSalesOrder = sa.Table(
    "tsoSalesOrder",
    metadata,
    _key("SOKey", primary=True),
    sa.Column("CompanyID", sa.String(3), nullable=False),
    sa.Column("TranNo", sa.String(10), nullable=False),
    sa.Column("TranNoRel", sa.String(14), nullable=False),
    sa.Column("TranID", sa.String(13), nullable=False),
    sa.Column("TranType", sa.Integer, nullable=False),
    _key("CustKey"),
    sa.Column("TranDate", sa.DateTime, nullable=False),
    _money("SalesAmt"),
    _money("STaxAmt"),
    _money("OpenAmt"),
    sa.Column("CustPONo", sa.String(15), nullable=True),
    _key("PmtTermsKey", nullable=True),
    sa.Column("Status", sa.SmallInteger, nullable=False, default=1),
    sa.Column("TranCmnt", sa.String(50), nullable=True),
    *(sa.Column(f"UserFld{i}", sa.String(15), nullable=True) for i in range(1, 5)),
    *_audit(),
    sa.UniqueConstraint("CompanyID", "TranID", name="uq_tsoSalesOrder_TranID"),
)

tsoSOLine = sa.Table(
    "tsoSOLine",
    metadata,
    _key("SOLineKey", primary=True),
    _key("SOKey"),
    sa.Column("SOLineNo", sa.Integer, nullable=False),
    _key("ItemKey"),
    sa.Column("Description", sa.String(40), nullable=True),
    sa.Column("UnitPrice", sa.Numeric(15, 5, asdecimal=True), nullable=False),
    sa.Column("ExtCmnt", sa.String(255), nullable=True),
    sa.Column("Status", sa.SmallInteger, nullable=False, default=1),
    sa.Index("ix_tsoSOLine_SOKey", "SOKey"),
)

tsoSOLineDist = sa.Table(
    "tsoSOLineDist",
    metadata,
    _key("SOLineDistKey", primary=True),
    _key("SOLineKey"),
    sa.Column("QtyOrd", sa.Numeric(16, 8, asdecimal=True), nullable=False),
    sa.Column("QtyOpenToShip", sa.Numeric(16, 8, asdecimal=True), nullable=False),
    _money("ExtAmt"),
    sa.Column("Status", sa.SmallInteger, nullable=False, default=1),
    sa.Index("ix_tsoSOLineDist_SOLineKey", "SOLineKey"),
)

# --- tracepost's own cross-reference, inside the ERP database --------------------------------

# The shared table (connectors/erp/xref.py): PK (DocKind, SourceKey), one row per document.
tptPaytraceXref = xref_table(metadata)

# The receipts a deposit (a GL transfer, DocKind ``deposit``) moved to the bank: the same shape
# as the Dynamics SL table. DepositKey = str(PayTrace batch number); ReceiptRefNbr = the
# receipt's TranID, ReceiptBatNbr = its BatchID, DepositBatNbr = the GL batch's BatchID. The
# unique index on PaytraceTranID deposits a receipt once, whatever the batch.
tptPaytraceDepositLink = deposit_link_table(metadata)

# Tables whose keys come from tciSurrogateKey (what spGetNextSurrogateKey is called with).
SURROGATE_KEY_TABLES: dict[str, str] = {
    "tciAddress": "AddrKey",
    "tciBatchLog": "BatchKey",
    "tglAccount": "GLAcctKey",
    "tcmCashAcct": "CashAcctKey",
    "tarCustomer": "CustKey",
    "tarInvoice": "InvcKey",
    "tarCustPmt": "CustPmtKey",
    "tarCustPmtAppl": "CustPmtApplKey",
    "tciContact": "CntctKey",
    "tciPaymentTerms": "PmtTermsKey",
    "tglPosting": "PostingKey",
    "tglTransaction": "glTranKey",
    "timItem": "ItemKey",
    "tsoSalesOrder": "SOKey",
    "tsoSOLine": "SOLineKey",
    "tsoSOLineDist": "SOLineDistKey",
}
