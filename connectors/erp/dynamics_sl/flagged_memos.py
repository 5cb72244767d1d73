"""Credit memos an SL user flagged for a card refund in PayTrace (the ERP refund sweep).

A flagged memo is a released AR credit memo (``ARDoc`` DocType CM, ``Rlsed = 1``) of the
connector's company (``CpnyID``) whose ``DocDesc`` starts with the marker (``REFUND PT
1000123``), compared case-insensitively after leading blanks, dated (``DocDate``) on or after
``since``. Memos tracepost wrote for PayTrace refunds are cross-referenced in
``tptPaytraceXref`` (DocKind ``credit_memo``, ``DocNo`` = RefNbr, ``CustID``) and never listed;
the match needs the kind because an SL RefNbr is only unique per customer and document type
(a tracepost payment's RefNbr may equal a user's memo number). The invoices a memo credits come
from the ``ARAdjust`` rows release left (``AdjgDocType`` CM, ``AdjgRefNbr`` = the memo).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from connectors.erp.dynamics_sl import codes
from connectors.erp.dynamics_sl.ar_schema import ARAdjust, ARDoc
from connectors.erp.dynamics_sl.base import money, pad, text, tptPaytraceXref
from connectors.erp.dynamics_sl.rows import day
from connectors.erp.tags import refund_flag
from connectors.erp.xref import chunked
from domain.erp_documents import DocumentKind, FlaggedMemo

ZERO = Decimal(0)


def flagged_refund_memos(
    conn: sa.Connection, cpny_id: str, marker: str, since: date
) -> list[FlaggedMemo]:
    """Released credit memos whose ``DocDesc`` starts with ``marker``, oldest first.

    Args:
        conn: a connection.
        cpny_id: the company (``CpnyID``).
        marker: the flag, e.g. ``REFUND PT``; its leading blanks are ignored.
        since: the first memo date to look at.

    Returns:
        The memos by ``DocDate``, then ``RefNbr``; amounts positive, comments trimmed.

    Raises:
        ErpBusinessError: the marker is blank.
    """
    flag = refund_flag(marker)
    d = ARDoc.c
    x = tptPaytraceXref.c
    written_by_tracepost = (
        sa.select(x.DocNo)
        .where(
            x.DocKind == DocumentKind.CREDIT_MEMO.value,
            x.DocNo == sa.func.rtrim(d.RefNbr),
            x.CustID == sa.func.rtrim(d.CustId),
            x.CompanyID == sa.func.rtrim(d.CpnyID),
        )
        .exists()
    )
    memos = conn.execute(
        sa.select(d.CustId, d.RefNbr, d.DocDate, d.OrigDocAmt, d.DocDesc)
        .where(
            d.DocType == pad(codes.DOC_CREDIT_MEMO, 2),
            d.Rlsed == 1,
            d.CpnyID == pad(cpny_id, 10),
            d.DocDate >= day(since),
            sa.func.lower(sa.func.ltrim(d.DocDesc)).startswith(flag.lower(), autoescape=True),
            ~written_by_tracepost,
        )
        .order_by(d.DocDate, d.RefNbr, d.CustId)
    ).all()
    applied = _applied_to(conn, [(text(m.CustId), text(m.RefNbr)) for m in memos])
    return [
        FlaggedMemo(
            erp_document=text(m.RefNbr),
            customer_id=text(m.CustId),
            amount=abs(money(m.OrigDocAmt)),
            memo_date=m.DocDate.date() if isinstance(m.DocDate, datetime) else m.DocDate,
            comment=text(m.DocDesc),
            applied_to=applied.get((text(m.CustId), text(m.RefNbr)), ()),
        )
        for m in memos
    ]


def _applied_to(
    conn: sa.Connection, memos: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, ...]]:
    """The RefNbrs of the documents each memo's ``ARAdjust`` rows credit (net above zero)."""
    wanted = set(memos)
    a = ARAdjust.c
    net: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
    for chunk in chunked(sorted({ref for _, ref in wanted})):
        rows = conn.execute(
            sa.select(a.CustId, a.AdjgRefNbr, a.AdjdRefNbr, a.AdjAmt)
            .where(
                a.AdjgDocType == pad(codes.DOC_CREDIT_MEMO, 2),
                a.AdjgRefNbr.in_([pad(ref, codes.REF_WIDTH) for ref in chunk]),
            )
            .order_by(a.AdjgRefNbr, a.RecordID)
        )
        for r in rows:
            memo = (text(r.CustId), text(r.AdjgRefNbr))
            if memo not in wanted:  # another customer's memo with the same number
                continue
            invoice = text(r.AdjdRefNbr)
            net[memo][invoice] = net[memo].get(invoice, ZERO) + money(r.AdjAmt)
    return {
        memo: tuple(ref for ref, amount in by_invoice.items() if amount > ZERO)
        for memo, by_invoice in net.items()
    }
