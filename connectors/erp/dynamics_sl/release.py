"""Emulated release of an AR batch (stand-in databases; what SL's ``pp_08400`` does for us).

In the caller's transaction, with the batch row locked: every application row (``ARTran`` DrCr
'U') becomes an ``ARAdjust`` row and lowers the adjusted document's ``DocBal`` (never below
zero); every credit document keeps what it did not apply as ``DocBal`` (on account); an NSF
reversal (NS) reopens what its payment paid; each document gets its AR offset line (and a
payment its cash line), ``Rlsed = 1``; ``AR_Balances.CurrBal`` moves; the batch becomes released
(Status U: released, not posted to GL, as SL leaves it until GL posts). GLTran is not emulated.
A prepayment (PP) gets a cash line like a payment; its offset credits the customer's (else
``ARSetup``'s) prepayment account and its whole amount stays open (``DocBal``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.dynamics_sl import codes, lookups
from connectors.erp.dynamics_sl.ar_schema import (
    AR_Balances,
    ARAdjust,
    ARDoc,
    ARTran,
    Customer,
    with_record_ids,
)
from connectors.erp.dynamics_sl.base import (
    BLANK_DATE,
    Batch,
    SlContext,
    money,
    pad,
    text,
    to_float,
)
from connectors.erp.dynamics_sl.rows import Account, Posting, artran_row, blank_row
from connectors.erp.errors import ClosedPeriodError, DocumentNotFoundError, InvoiceNotOpenError
from connectors.erp.locks import lock_rows

ZERO = Decimal(0)
DEBIT_DOCS = (*codes.DEBIT_TYPES, codes.DOC_NSF_REVERSAL)
OFFSET_LINE = 255  # LineNbr 32513: after any line an entry screen numbers
CASH_LINE = 254


def lock_batch(conn: sa.Connection, bat_nbr: str) -> lookups.AnyRow:
    """Lock an AR batch row, then re-read it in a new statement.

    Raises:
        DocumentNotFoundError: when the batch is gone (deleted in SL).
    """
    where = (Batch.c.Module == codes.MODULE_AR, Batch.c.BatNbr == pad(bat_nbr, codes.BAT_WIDTH))
    conn.execute(lock_rows(sa.select(Batch.c.BatNbr).where(*where), Batch)).first()
    row = conn.execute(sa.select(Batch).where(*where)).first()
    if row is None:
        raise DocumentNotFoundError(
            f"AR batch {bat_nbr} no longer exists in Dynamics SL (deleted before release?)"
        )
    return row


def is_released(batch: lookups.AnyRow) -> bool:
    """Released (U), posted (P) or completed (C), or flagged ``Rlsed``."""
    return int(batch.Rlsed) == 1 or text(batch.Status) in codes.BATCH_RELEASED_STATES


def release_batch(conn: sa.Connection, bat_nbr: str, ctx: SlContext) -> None:
    """Release one unreleased AR batch the way SL's release would, for the stand-in.

    The caller has locked the batch (``lock_batch``) and checked it is not released.

    Raises:
        ClosedPeriodError: the batch's period was closed since it was written.
        InvoiceNotOpenError: an application would take a document below zero.
    """
    bat = pad(bat_nbr, codes.BAT_WIDTH)
    batch = conn.execute(
        sa.select(Batch).where(Batch.c.Module == codes.MODULE_AR, Batch.c.BatNbr == bat)
    ).one()
    per = text(batch.PerPost)
    current = text(lookups.ar_setup(conn).PerNbr)
    if per < current:
        raise ClosedPeriodError(
            f"AR batch {text(bat)} posts to period {per[:4]}-{per[4:]}, closed in Dynamics SL AR"
            f" since it was written (current AR period {current[:4]}-{current[4:]}); reopen the"
            " period or move the batch to an open one in SL"
        )
    docs = conn.execute(
        sa.select(ARDoc).where(ARDoc.c.BatNbr == bat, ARDoc.c.Rlsed == 0).order_by(ARDoc.c.BatSeq)
    ).all()
    apps = conn.execute(
        sa.select(ARTran)
        .where(ARTran.c.BatNbr == bat, ARTran.c.DrCr == codes.DRCR_APPLICATION, ARTran.c.Rlsed == 0)
        .order_by(ARTran.c.RefNbr, ARTran.c.LineNbr)
    ).all()
    adjust_rows: list[dict[str, Any]] = []
    taken: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
    applied_by: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
    doc_by_key = {(text(d.CustId), text(d.DocType), text(d.RefNbr)): d for d in docs}
    for app in apps:
        cust, adjd_type, adjd_ref = text(app.CustId), text(app.CostType), text(app.SiteId)
        amount, disc = money(app.CuryTranAmt), money(app.CuryUnitPrice)
        taken[(cust, adjd_type, adjd_ref)] += amount + disc
        applied_by[(cust, text(app.TranType), text(app.RefNbr))] += amount
        adjg = doc_by_key.get((cust, text(app.TranType), text(app.RefNbr)))
        adjust_rows.append(
            _adjust(
                ctx, app, adjd_type, adjd_ref, amount, disc, per, adjg.DocDate if adjg else None
            )
        )
    _lower_adjusted(conn, bat, taken, per, ctx)
    reopen: list[dict[str, Any]] = []
    for doc in docs:
        if text(doc.DocType) == codes.DOC_NSF_REVERSAL:
            reopen.extend(_reverse_payment(conn, doc, per, ctx))
    if adjust_rows or reopen:
        conn.execute(sa.insert(ARAdjust), with_record_ids(conn, ARAdjust, adjust_rows + reopen))
    offsets: list[dict[str, Any]] = []
    balance_moves: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for doc in docs:
        key = (text(doc.CustId), text(doc.DocType), text(doc.RefNbr))
        offsets.extend(_offset_lines(conn, doc, per, ctx))
        amount = money(doc.OrigDocAmt)
        debit = text(doc.DocType) in DEBIT_DOCS
        balance_moves[text(doc.CustId)] += amount if debit else -amount
        left = ZERO if text(doc.DocType) == codes.DOC_NSF_REVERSAL else amount - applied_by[key]
        conn.execute(
            sa.update(ARDoc)
            .where(
                ARDoc.c.CustId == doc.CustId,
                ARDoc.c.DocType == doc.DocType,
                ARDoc.c.RefNbr == doc.RefNbr,
                ARDoc.c.BatNbr == doc.BatNbr,
                ARDoc.c.BatSeq == doc.BatSeq,
            )
            .values(
                Rlsed=1,
                DocBal=to_float(left),
                CuryDocBal=to_float(left),
                OpenDoc=1 if left > ZERO else 0,
                PerClosed=pad("" if left > ZERO else per, 6),
                LUpd_DateTime=ctx.now,
                LUpd_Prog=pad(codes.PROG_RELEASE, 8),
                LUpd_User=pad(ctx.user_id, 10),
            )
        )
    if offsets:
        conn.execute(sa.insert(ARTran), with_record_ids(conn, ARTran, offsets))
    conn.execute(
        sa.update(ARTran)
        .where(ARTran.c.BatNbr == bat, ARTran.c.Rlsed == 0)
        .values(Rlsed=1, LUpd_DateTime=ctx.now, LUpd_Prog=pad(codes.PROG_RELEASE, 8))
    )
    for cust, move in sorted(balance_moves.items()):
        _move_balance(conn, cust, move, ctx)
    conn.execute(
        sa.update(Batch)
        .where(Batch.c.Module == codes.MODULE_AR, Batch.c.BatNbr == bat)
        .values(
            Rlsed=1,
            Status=codes.BATCH_RELEASED,
            LUpd_DateTime=ctx.now,
            LUpd_Prog=pad(codes.PROG_RELEASE, 8),
            LUpd_User=pad(ctx.user_id, 10),
        )
    )


def _adjust(
    ctx: SlContext,
    app: lookups.AnyRow,
    adjd_type: str,
    adjd_ref: str,
    amount: Decimal,
    disc: Decimal,
    per: str,
    adjg_date: datetime | None,
) -> dict[str, Any]:
    """The ``ARAdjust`` row of one application."""
    return blank_row(ARAdjust) | {
        "AdjdRefNbr": pad(adjd_ref, codes.REF_WIDTH),
        "AdjAmt": to_float(amount),
        "AdjBatNbr": app.BatNbr,
        "AdjdDocType": pad(adjd_type, 2),
        "AdjDiscAmt": to_float(disc),
        "AdjgDocDate": adjg_date or app.TranDate,
        "AdjgDocType": app.TranType,
        "AdjgPerPost": pad(per, 6),
        "AdjgRefNbr": app.RefNbr,
        "CuryAdjdAmt": to_float(amount),
        "CuryAdjdCuryId": pad(codes.CURY_ID, 4),
        "CuryAdjdDiscAmt": to_float(disc),
        "CuryAdjdMultDiv": codes.CURY_MULT,
        "CuryAdjdRate": 1.0,
        "CuryAdjgAmt": to_float(amount),
        "CuryAdjgDiscAmt": to_float(disc),
        "CuryRGOLAmt": 0.0,
        "CustId": app.CustId,
        "DateAppl": app.TranDate,
        "PerAppl": pad(per, 6),
        **_audit(ctx),
    }


def _audit(ctx: SlContext) -> dict[str, Any]:
    values = ctx.audit_values()
    values["Crtd_Prog"] = pad(codes.PROG_RELEASE, 8)
    values["LUpd_Prog"] = pad(codes.PROG_RELEASE, 8)
    return values


def _lower_adjusted(
    conn: sa.Connection,
    bat: str,
    taken: dict[tuple[str, str, str], Decimal],
    per: str,
    ctx: SlContext,
) -> None:
    """Lower the adjusted documents' balances; refuse to go below zero."""
    if not taken:
        return
    d = ARDoc.c
    refs = sorted({pad(ref, codes.REF_WIDTH) for _, _, ref in taken})
    where = (d.RefNbr.in_(refs), d.Rlsed == 1)
    conn.execute(
        lock_rows(sa.select(d.CustId).where(*where).order_by(d.CustId, d.DocType, d.RefNbr), ARDoc)
    ).all()
    rows = conn.execute(sa.select(ARDoc).where(*where)).all()
    found = {(text(r.CustId), text(r.DocType), text(r.RefNbr)): r for r in rows}
    for key in sorted(taken):
        row = found.get(key)
        if row is None:
            raise InvoiceNotOpenError(
                f"releasing batch {text(bat)}: {key[1]} {key[2]} of customer {key[0]} is not a"
                " released document"
            )
        balance = money(row.DocBal)
        if taken[key] > balance:
            raise InvoiceNotOpenError(
                f"releasing batch {text(bat)}: invoice {key[2]} has balance {balance}, less than"
                f" the {taken[key]} applied to it"
            )
        left = balance - taken[key]
        conn.execute(
            sa.update(ARDoc)
            .where(
                d.CustId == row.CustId,
                d.DocType == row.DocType,
                d.RefNbr == row.RefNbr,
                d.BatNbr == row.BatNbr,
                d.BatSeq == row.BatSeq,
            )
            .values(
                DocBal=to_float(left),
                CuryDocBal=to_float(left),
                OpenDoc=1 if left > ZERO else 0,
                PerClosed=pad("" if left > ZERO else per, 6),
                LUpd_DateTime=ctx.now,
                LUpd_Prog=pad(codes.PROG_RELEASE, 8),
                LUpd_User=pad(ctx.user_id, 10),
            )
        )


def _reverse_payment(
    conn: sa.Connection, ns: lookups.AnyRow, per: str, ctx: SlContext
) -> list[dict[str, Any]]:
    """An NSF reversal: reopen what its payment paid and close the payment.

    Returns:
        ``ARAdjust`` rows with negative amounts (AdjgDocType NS) recording each reopening.
    """
    adj = ARAdjust.c
    paid = conn.execute(
        sa.select(ARAdjust).where(
            adj.CustId == ns.CustId,
            adj.AdjgDocType == pad(codes.DOC_PAYMENT, 2),
            adj.AdjgRefNbr == ns.RefNbr,
        )
    ).all()
    reopened: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
    rows = []
    for a in paid:
        amount, disc = money(a.AdjAmt), money(a.AdjDiscAmt)
        reopened[(text(a.CustId), text(a.AdjdDocType), text(a.AdjdRefNbr))] += amount + disc
    already = conn.execute(
        sa.select(ARAdjust.c.AdjdRefNbr).where(
            adj.CustId == ns.CustId,
            adj.AdjgDocType == pad(codes.DOC_NSF_REVERSAL, 2),
            adj.AdjgRefNbr == ns.RefNbr,
        )
    ).first()
    if already is not None:
        return []
    d = ARDoc.c
    for (cust, doc_type, ref), amount in sorted(reopened.items()):
        target = conn.execute(
            lock_rows(
                sa.select(ARDoc).where(
                    d.CustId == pad(cust, 15),
                    d.DocType == pad(doc_type, 2),
                    d.RefNbr == pad(ref, codes.REF_WIDTH),
                    d.Rlsed == 1,
                ),
                ARDoc,
            )
        ).first()
        if target is None:
            continue
        balance = money(target.DocBal) + amount
        conn.execute(
            sa.update(ARDoc)
            .where(
                d.CustId == target.CustId,
                d.DocType == target.DocType,
                d.RefNbr == target.RefNbr,
                d.BatNbr == target.BatNbr,
                d.BatSeq == target.BatSeq,
            )
            .values(
                DocBal=to_float(balance),
                CuryDocBal=to_float(balance),
                OpenDoc=1,
                PerClosed=pad("", 6),
                LUpd_DateTime=ctx.now,
                LUpd_Prog=pad(codes.PROG_RELEASE, 8),
                LUpd_User=pad(ctx.user_id, 10),
            )
        )
        rows.append(
            blank_row(ARAdjust)
            | {
                "AdjdRefNbr": pad(ref, codes.REF_WIDTH),
                "AdjAmt": to_float(-amount),
                "AdjBatNbr": ns.BatNbr,
                "AdjdDocType": pad(doc_type, 2),
                "AdjDiscAmt": 0.0,
                "AdjgDocDate": ns.DocDate,
                "AdjgDocType": pad(codes.DOC_NSF_REVERSAL, 2),
                "AdjgPerPost": pad(per, 6),
                "AdjgRefNbr": ns.RefNbr,
                "CuryAdjdAmt": to_float(-amount),
                "CuryAdjdCuryId": pad(codes.CURY_ID, 4),
                "CuryAdjdDiscAmt": 0.0,
                "CuryAdjdMultDiv": codes.CURY_MULT,
                "CuryAdjdRate": 1.0,
                "CuryAdjgAmt": to_float(-amount),
                "CuryAdjgDiscAmt": 0.0,
                "CuryRGOLAmt": 0.0,
                "CustId": ns.CustId,
                "DateAppl": ns.DocDate,
                "PerAppl": pad(per, 6),
                **_audit(ctx),
            }
        )
    # The reversed payment (or prepayment) is closed: nothing of it is left on account.
    conn.execute(
        sa.update(ARDoc)
        .where(
            d.CustId == ns.CustId,
            d.DocType.in_([pad(t, 2) for t in codes.PAYMENT_TYPES]),
            d.RefNbr == ns.RefNbr,
            d.Rlsed == 1,
        )
        .values(
            DocBal=0.0,
            CuryDocBal=0.0,
            OpenDoc=0,
            PerClosed=pad(per, 6),
            LUpd_DateTime=ctx.now,
            LUpd_Prog=pad(codes.PROG_RELEASE, 8),
        )
    )
    return rows


def _offset_lines(
    conn: sa.Connection, doc: lookups.AnyRow, per: str, ctx: SlContext
) -> list[dict[str, Any]]:
    """The AR offset line of a released document, and the cash line of a payment."""
    setup = lookups.ar_setup(conn)
    cust = conn.execute(
        sa.select(
            Customer.c.ArAcct, Customer.c.ArSub, Customer.c.PrePayAcct, Customer.c.PrePaySub
        ).where(Customer.c.CustId == doc.CustId)
    ).first()
    doc_type = text(doc.DocType)
    # A prepayment credits the customer prepayments account, every other document AR.
    acct_col, sub_col = (
        ("PrePayAcct", "PrePaySub") if doc_type == codes.DOC_PREPAYMENT else ("ArAcct", "ArSub")
    )
    ar = Account(
        (text(cust._mapping[acct_col]) if cust else "") or text(setup._mapping[acct_col]),
        (text(cust._mapping[sub_col]) if cust else "") or text(setup._mapping[sub_col]),
    )
    if not ar.acct:
        ar = Account(
            (text(cust.ArAcct) if cust else "") or text(setup.ArAcct),
            (text(cust.ArSub) if cust else "") or text(setup.ArSub),
        )
    debit = doc_type in DEBIT_DOCS
    posting = Posting(
        per_post=per,
        per_ent=text(doc.PerEnt),
        ledger_id="",
        doc_date=doc.DocDate.date() if isinstance(doc.DocDate, datetime) else doc.DocDate,
    )
    release_ctx = SlContext(
        cpny_id=text(doc.CpnyID),
        user_id=ctx.user_id,
        prog=codes.PROG_RELEASE,
        now=ctx.now,
        strategy=ctx.strategy,
        accounts=ctx.accounts,
    )
    amount = money(doc.OrigDocAmt)
    common = {
        "cust_id": text(doc.CustId),
        "tran_type": doc_type,
        "ref_nbr": text(doc.RefNbr),
        "bat_nbr": text(doc.BatNbr),
        "posting": posting,
        "amount": amount,
        "descr": text(doc.DocDesc),
        "rlsed": 1,
    }
    lines = [
        artran_row(
            release_ctx,
            line_index=OFFSET_LINE,
            account=ar,
            drcr=codes.DRCR_DEBIT if debit else codes.DRCR_CREDIT,
            **common,  # type: ignore[arg-type]
        )
    ]
    if doc_type in codes.PAYMENT_TYPES:
        lines.append(
            artran_row(
                release_ctx,
                line_index=CASH_LINE,
                account=Account(text(doc.BankAcct), text(doc.BankSub)),
                drcr=codes.DRCR_DEBIT,
                **common,  # type: ignore[arg-type]
            )
        )
    return lines


def _move_balance(conn: sa.Connection, cust: str, move: Decimal, ctx: SlContext) -> None:
    """Add a released amount to ``AR_Balances.CurrBal`` (a row is created when missing)."""
    b = AR_Balances.c
    where = (b.CpnyID == pad(ctx.cpny_id, 10), b.CustID == pad(cust, 15))
    row = conn.execute(lock_rows(sa.select(b.CurrBal).where(*where), AR_Balances)).first()
    if row is None:
        conn.execute(
            sa.insert(AR_Balances),
            [
                blank_row(AR_Balances)
                | {
                    "CpnyID": pad(ctx.cpny_id, 10),
                    "CustID": pad(cust, 15),
                    "CurrBal": to_float(move),
                    "LastActDate": ctx.now,
                    "LastInvcDate": BLANK_DATE,
                    "LastAgeDate": BLANK_DATE,
                    "CuryID": pad(codes.CURY_ID, 4),
                    **_audit(ctx),
                }
            ],
        )
        return
    current = conn.execute(sa.select(b.CurrBal).where(*where)).scalar_one()
    conn.execute(
        sa.update(AR_Balances)
        .where(*where)
        .values(
            CurrBal=to_float(money(current) + move),
            LastActDate=ctx.now,
            LUpd_DateTime=ctx.now,
            LUpd_Prog=pad(codes.PROG_RELEASE, 8),
            LUpd_User=pad(ctx.user_id, 10),
        )
    )
