"""The exact ``Batch`` and ``GLTran`` rows of an unreleased GL batch (pure; golden-tested).

Shaped like what Journal Transactions (screen 01.010) saves: a balanced batch (Status ``B``,
``Rlsed`` 0, ``EditScrnNbr`` ``01010``) whose lines carry unsigned ``DrAmt``/``CrAmt`` floats
rounded to 2 places. Every value an SL database may contradict is a constant here
(docs/erp/dynamics_sl_ledger.md, "Decisions").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from connectors.erp.dynamics_sl.base import SlContext, pad, to_float

MODULE_GL = "GL"
EDIT_SCREEN_JOURNAL = "01010"
BATCH_TYPE_NORMAL = "N"
BATCH_STATUS_BALANCED = "B"
BATCH_STATUS_UNPOSTED = "U"
JOURNAL_TYPE = "GJ"
TRAN_TYPE = "GJ"
BALANCE_TYPE_ACTUAL = "A"
POSTED_UNPOSTED = "U"
CURY_MULT_DIV = "M"
FIRST_LINE_NBR = -32767
LINE_NBR_STEP = 256
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class GlLine:
    """One validated GL line: account, subaccount, one positive side, description."""

    acct: str
    sub: str
    debit: Decimal
    credit: Decimal
    description: str


@dataclass(frozen=True)
class GlBatchHeader:
    """What the batch needs besides its lines."""

    bat_nbr: str
    description: str
    tran_date: date
    per_post: str
    per_ent: str
    ledger_id: str
    base_cury_id: str
    ext_ref_nbr: str = ""
    ref_nbr: str = ""


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def gl_batch_row(
    header: GlBatchHeader, lines: tuple[GlLine, ...], ctx: SlContext
) -> dict[str, Any]:
    """The ``Batch`` row of a balanced, unreleased GL batch.

    Args:
        header: batch number, periods, ledger and description.
        lines: the validated lines (their debits equal their credits).
        ctx: company, user, program and timestamp.

    Returns:
        The row, ready for ``insert``.
    """
    debits = to_float(sum((line.debit for line in lines), ZERO))
    credits = to_float(sum((line.credit for line in lines), ZERO))
    return {
        "Module": MODULE_GL,
        "BatNbr": pad(header.bat_nbr, 10),
        "CpnyID": pad(ctx.cpny_id, 10),
        "BatType": BATCH_TYPE_NORMAL,
        "Status": BATCH_STATUS_BALANCED,
        "Rlsed": 0,
        "EditScrnNbr": EDIT_SCREEN_JOURNAL,
        "JrnlType": pad(JOURNAL_TYPE, 3),
        "LedgerID": pad(header.ledger_id, 10),
        "PerPost": header.per_post,
        "PerEnt": header.per_ent,
        "Descr": pad(header.description, 30),
        "BaseCuryID": pad(header.base_cury_id, 4),
        "BalanceType": BALANCE_TYPE_ACTUAL,
        "CuryId": pad(header.base_cury_id, 4),
        "CuryMultDiv": CURY_MULT_DIV,
        "CuryRate": 1.0,
        "CtrlTot": credits,
        "CuryCtrlTot": credits,
        "DrTot": debits,
        "CuryDrTot": debits,
        "CrTot": credits,
        "CuryCrTot": credits,
        "DateEnt": _midnight(ctx.now.date()),
        "NbrCycle": 0,
        **ctx.audit_values(),
    }


def gl_tran_rows(
    header: GlBatchHeader, lines: tuple[GlLine, ...], ctx: SlContext
) -> list[dict[str, Any]]:
    """The ``GLTran`` rows of the batch, one per line, ``LineNbr`` -32767, -32511, ... (SL grid numbering).

    Args:
        header: batch number, periods, ledger and references.
        lines: the validated lines.
        ctx: company, user, program and timestamp.

    Returns:
        The rows, ready for ``insert``.
    """
    tran_date = _midnight(header.tran_date)
    rows = []
    for index, line in enumerate(lines):
        debit, credit = to_float(line.debit), to_float(line.credit)
        rows.append(
            {
                "Module": MODULE_GL,
                "BatNbr": pad(header.bat_nbr, 10),
                "LineNbr": FIRST_LINE_NBR + LINE_NBR_STEP * index,
                "Acct": pad(line.acct, 10),
                "Sub": pad(line.sub, 24),
                "BalanceType": BALANCE_TYPE_ACTUAL,
                "BaseCuryID": pad(header.base_cury_id, 4),
                "CpnyID": pad(ctx.cpny_id, 10),
                "DrAmt": debit,
                "CrAmt": credit,
                "CuryDrAmt": debit,
                "CuryCrAmt": credit,
                "CuryEffDate": tran_date,
                "CuryId": pad(header.base_cury_id, 4),
                "CuryMultDiv": CURY_MULT_DIV,
                "CuryRate": 1.0,
                "CuryRateType": pad("", 6),
                "ExtRefNbr": pad(header.ext_ref_nbr, 15),
                "FiscYr": header.per_post[:4],
                "JrnlType": pad(JOURNAL_TYPE, 3),
                "LedgerID": pad(header.ledger_id, 10),
                "LineId": index + 1,
                "NoteID": 0,
                "OrigCpnyID": pad(ctx.cpny_id, 10),
                "PerEnt": header.per_ent,
                "PerPost": header.per_post,
                "Posted": POSTED_UNPOSTED,
                "RefNbr": pad(header.ref_nbr, 10),
                "Rlsed": 0,
                "TranDate": tran_date,
                "TranDesc": pad(line.description or header.description, 30),
                "TranType": TRAN_TYPE,
                **ctx.audit_values(),
            }
        )
    return rows
