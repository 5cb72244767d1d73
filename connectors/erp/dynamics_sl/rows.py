"""The rows SL's AR entry screens leave behind, built as dicts (pure; golden-tested).

Every CHAR value is padded to its width (``base.pad``), every amount is a float rounded to two
places through ``Decimal`` (``base.to_float``), every row carries the six audit columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.dynamics_sl import codes
from connectors.erp.dynamics_sl.ar_schema import ARDoc, ARTran
from connectors.erp.dynamics_sl.base import BLANK_DATE, SlContext, pad, to_float
from connectors.erp.tags import tagged_text

_BLANKS: dict[str, dict[str, Any]] = {}


DESCR_WIDTH = 30  # ARDoc.DocDesc, ARTran.TranDesc, Batch.Descr


def blank_row(table: sa.Table) -> dict[str, Any]:
    """Every column of an SL table at its blank value, as SL's screens save a new row.

    ``CHAR(n)`` → ``n`` spaces, numbers → 0, dates → 1900-01-01; identities are left out. A new
    dict each call (start from it, then set what the document needs).
    """
    blank = _BLANKS.get(table.name)
    if blank is None:
        blank = {}
        for column in table.columns:
            if column.identity is not None:
                continue
            kind = column.type
            if isinstance(kind, sa.CHAR):
                blank[column.name] = " " * int(kind.length or 1)
            elif isinstance(kind, sa.Float):
                blank[column.name] = 0.0
            elif isinstance(kind, sa.Integer):
                blank[column.name] = 0
            elif isinstance(kind, sa.DateTime):
                blank[column.name] = BLANK_DATE
        _BLANKS[table.name] = blank
    return dict(blank)


def day(value: date) -> datetime:
    """A date as SL stores it in ``SMALLDATETIME`` (midnight)."""
    return datetime.combine(value, time())


@dataclass(frozen=True)
class Posting:
    """Where a batch's documents land: the period and the company's ledger."""

    per_post: str
    per_ent: str
    ledger_id: str
    doc_date: date


@dataclass(frozen=True)
class Account:
    """A GL account and subaccount (``Acct`` char 10, ``Sub`` char 24)."""

    acct: str
    sub: str


def batch_row(
    ctx: SlContext,
    *,
    bat_nbr: str,
    screen: str,
    posting: Posting,
    descr: str,
    ctrl_tot: Decimal,
    dr_tot: Decimal,
    cr_tot: Decimal,
) -> dict[str, Any]:
    """An unreleased, balanced AR ``Batch`` (Status B, Rlsed 0) as an SL entry screen saves it."""
    return {
        "Module": codes.MODULE_AR,
        "BatNbr": pad(bat_nbr, codes.BAT_WIDTH),
        "CpnyID": pad(ctx.cpny_id, 10),
        "BatType": codes.BAT_TYPE_NORMAL,
        "Status": codes.BATCH_BALANCED,
        "Rlsed": 0,
        "EditScrnNbr": pad(screen, 5),
        "JrnlType": pad(codes.JRNL_TYPE_AR, 3),
        "LedgerID": pad(posting.ledger_id, 10),
        "PerPost": pad(posting.per_post, 6),
        "PerEnt": pad(posting.per_ent, 6),
        "Descr": pad(descr, 30),
        "BaseCuryID": pad(codes.CURY_ID, 4),
        "BalanceType": "A",  # actual, as pp_01400 reads it
        "CuryId": pad(codes.CURY_ID, 4),
        "CuryMultDiv": codes.CURY_MULT,
        "CuryRate": 1.0,
        "CtrlTot": to_float(ctrl_tot),
        "CuryCtrlTot": to_float(ctrl_tot),
        "DrTot": to_float(dr_tot),
        "CuryDrTot": to_float(dr_tot),
        "CrTot": to_float(cr_tot),
        "CuryCrTot": to_float(cr_tot),
        "DateEnt": day(ctx.now.date()),
        "NbrCycle": 0,
        **ctx.audit_values(),
    }


def ardoc_row(
    ctx: SlContext,
    *,
    cust_id: str,
    doc_type: str,
    ref_nbr: str,
    bat_nbr: str,
    bat_seq: int,
    posting: Posting,
    amount: Decimal,
    applied: Decimal,
    descr: str,
    terms: str = "",
    bank: Account | None = None,
    orig_doc_nbr: str = "",
    line_cntr: int = 0,
) -> dict[str, Any]:
    """An unreleased ``ARDoc`` (Rlsed 0, OpenDoc 1, DocBal = OrigDocAmt until release)."""
    doc_date = day(posting.doc_date)
    return blank_row(ARDoc) | {
        "CustId": pad(cust_id, 15),
        "DocType": pad(doc_type, 2),
        "RefNbr": pad(ref_nbr, codes.REF_WIDTH),
        "BatNbr": pad(bat_nbr, codes.BAT_WIDTH),
        "BatSeq": bat_seq,
        "CpnyID": pad(ctx.cpny_id, 10),
        "ApplBatNbr": pad(bat_nbr if applied else "", codes.BAT_WIDTH),
        "ApplBatSeq": bat_seq if applied else 0,
        "BankAcct": pad(bank.acct if bank else "", 10),
        "BankSub": pad(bank.sub if bank else "", 24),
        "BankID": pad("", 10),
        "CuryId": pad(codes.CURY_ID, 4),
        "CuryMultDiv": codes.CURY_MULT,
        "CuryRate": 1.0,
        "CuryRateType": pad("", 6),
        "CuryEffDate": doc_date,
        "OrigDocAmt": to_float(amount),
        "CuryOrigDocAmt": to_float(amount),
        "DocBal": to_float(amount),
        "CuryDocBal": to_float(amount),
        "ApplAmt": to_float(applied),
        "CuryApplAmt": to_float(applied),
        "DiscApplAmt": 0.0,
        "CuryDiscApplAmt": 0.0,
        "DiscBal": 0.0,
        "CuryDiscBal": 0.0,
        "StmtBal": 0.0,
        "CuryStmtBal": 0.0,
        "CustOrdNbr": pad("", 25),
        "DiscDate": doc_date,
        "DocDate": doc_date,
        "DueDate": doc_date,
        "DocClass": codes.DOC_CLASS_NORMAL,
        "DocDesc": pad(descr, 30),
        "NoPrtStmt": 0,
        "LineCntr": line_cntr,
        "MasterDocNbr": pad("", 10),
        "OrigDocNbr": pad(orig_doc_nbr, 10),
        "OrigBankAcct": pad("", 10),
        "OrigBankSub": pad("", 24),
        "OrigCpnyID": pad(ctx.cpny_id, 10),
        "OpenDoc": 1,
        "PerClosed": pad("", 6),
        "PerEnt": pad(posting.per_ent, 6),
        "PerPost": pad(posting.per_post, 6),
        "PmtMethod": pad("", 1),
        "ProjectID": pad("", 16),
        "TaskID": pad("", 32),
        "Rlsed": 0,
        "SlsperId": pad("", 10),
        "Status": codes.DOC_STATUS_ACTIVE,
        "Terms": pad(terms, 2),
        "NoteId": 0,
        **_blank_user_fields(),
        **ctx.audit_values(),
    }


def artran_row(
    ctx: SlContext,
    *,
    cust_id: str,
    tran_type: str,
    ref_nbr: str,
    bat_nbr: str,
    line_index: int,
    posting: Posting,
    account: Account,
    amount: Decimal,
    drcr: str,
    descr: str,
    adjd_doc_type: str = "",
    adjd_ref_nbr: str = "",
    discount: Decimal = Decimal(0),
    ext_ref: str = "",
    rlsed: int = 0,
) -> dict[str, Any]:
    """One ``ARTran`` line; ``DrCr = 'U'`` makes it an unreleased application row.

    An application names the adjusted document in ``CostType`` (its DocType) and ``SiteId``
    (its RefNbr) and carries the discount in ``CuryUnitPrice``/``UnitPrice``.
    """
    return blank_row(ARTran) | {
        "CustId": pad(cust_id, 15),
        "TranType": pad(tran_type, 2),
        "RefNbr": pad(ref_nbr, codes.REF_WIDTH),
        "LineNbr": codes.line_nbr(line_index),
        "BatNbr": pad(bat_nbr, codes.BAT_WIDTH),
        "CpnyID": pad(ctx.cpny_id, 10),
        "Acct": pad(account.acct, 10),
        "Sub": pad(account.sub, 24),
        "AcctDist": 0,
        "CostType": pad(adjd_doc_type, 8),
        "SiteId": pad(adjd_ref_nbr, 10),
        "CuryUnitPrice": to_float(discount),
        "UnitPrice": to_float(discount),
        "CuryTranAmt": to_float(amount),
        "TranAmt": to_float(amount),
        "CuryId": pad(codes.CURY_ID, 4),
        "CuryMultDiv": codes.CURY_MULT,
        "CuryRate": 1.0,
        "DrCr": drcr,
        "ExtRefNbr": pad(ext_ref, 15),
        "FiscYr": pad(posting.per_post[:4], 4),
        "JrnlType": pad(codes.JRNL_TYPE_AR, 3),
        "LineId": line_index + 1,
        "LineRef": pad(f"{line_index + 1:05d}", 5),
        "PerEnt": pad(posting.per_ent, 6),
        "PerPost": pad(posting.per_post, 6),
        "Qty": 0.0,
        "Rlsed": rlsed,
        "TranClass": pad("", 1),
        "TranDate": day(posting.doc_date),
        "TranDesc": pad(descr, 30),
        "TaxCat": pad("", 10),
        "ProjectID": pad("", 16),
        "TaskID": pad("", 32),
        "NoteId": 0,
        **_blank_user_fields(),
        **ctx.audit_values(),
    }


def _blank_user_fields() -> dict[str, Any]:
    """``User1..User8`` blank, as SL's screens leave them."""
    return {
        "User1": pad("", 30),
        "User2": pad("", 30),
        "User3": 0.0,
        "User4": 0.0,
        "User5": pad("", 10),
        "User6": pad("", 10),
        "User7": BLANK_DATE,
        "User8": BLANK_DATE,
    }


def describe(tag: str, reference: str, extra: str = "") -> str:
    """A 30-character description that always starts with its own PayTrace tag (``PT 1000123``)."""
    return tagged_text(tag, reference, extra, DESCR_WIDTH)
