"""Credit memos a Sage user flagged for a card refund in PayTrace (the ERP refund sweep).

A flagged memo is a posted AR credit memo (``tarInvoice``, TranType 502) of the connector's
company whose ``TranCmnt`` starts with the marker (``REFUND PT 1000123``), compared
case-insensitively after leading blanks, dated (``TranDate``) on or after ``since``. Memos
tracepost wrote for PayTrace refunds are cross-referenced in ``tptPaytraceXref`` (``DocNo`` =
``TranID``) and never listed. The invoices a memo credits come from its posted applications
(``tarCustPmtAppl`` whose apply-from is the memo: ``ApplyFromPmtKey`` = its ``InvcKey`` and
``ApplyFromTranID`` = its ``TranID``, as Sage's posting and tracepost's emulation leave them).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.guard import erp_guard
from connectors.erp.sage500 import codes
from connectors.erp.sage500.lookups import dec
from connectors.erp.sage500.periods import as_date, midnight
from connectors.erp.sage500.schema import tarCustomer, tarCustPmtAppl, tarInvoice, tptPaytraceXref
from connectors.erp.sage500.settings import ERP_LABEL, SageSettings
from connectors.erp.tags import refund_flag
from connectors.erp.xref import chunked
from domain.erp_documents import FlaggedMemo
from domain.money import quantize

ZERO = Decimal(0)


def flagged_refund_memos(
    engine: sa.Engine, s: SageSettings, marker: str, since: date
) -> list[FlaggedMemo]:
    """Posted credit memos whose comment starts with ``marker``, oldest first.

    Args:
        engine: the Sage database.
        s: the connector settings (company, invoice prefixes).
        marker: the flag, e.g. ``REFUND PT``; its leading blanks are ignored.
        since: the first memo date to look at.

    Returns:
        The memos by ``TranDate``, then number; amounts positive, comments trimmed.

    Raises:
        ErpBusinessError: the marker is blank.
    """
    flag = refund_flag(marker)
    inv = tarInvoice.c
    x = tptPaytraceXref.c
    written_by_tracepost = (
        sa.select(x.DocNo).where(x.DocNo == inv.TranID, x.CompanyID == inv.CompanyID).exists()
    )
    query = (
        sa.select(
            inv.InvcKey,
            inv.TranID,
            inv.TranNo,
            inv.TranDate,
            inv.TranAmt,
            inv.TranCmnt,
            tarCustomer.c.CustID,
        )
        .join(tarCustomer, tarCustomer.c.CustKey == inv.CustKey)
        .where(
            inv.CompanyID == s.company_id,
            inv.TranType == codes.TRAN_TYPE_CREDIT_MEMO,
            inv.TranDate >= midnight(since),
            sa.func.lower(sa.func.ltrim(inv.TranCmnt)).startswith(flag.lower(), autoescape=True),
            ~written_by_tracepost,
        )
        .order_by(inv.TranDate, inv.TranNo, inv.TranID)
    )
    with erp_guard(ERP_LABEL, "flagged_refund_memos"), engine.connect() as conn:
        memos = list(conn.execute(query).all())
        applied = _applied_to(conn, s, memos)
    return [
        FlaggedMemo(
            erp_document=str(m.TranID).strip(),
            customer_id=str(m.CustID).strip(),
            amount=quantize(abs(dec(m.TranAmt)), 2),
            memo_date=as_date(m.TranDate),
            comment=str(m.TranCmnt or "").strip(),
            applied_to=applied.get((int(m.InvcKey), str(m.TranID)), ()),
        )
        for m in memos
    ]


def _applied_to(
    conn: sa.Connection, s: SageSettings, memos: list[Any]
) -> dict[tuple[int, str], tuple[str, ...]]:
    """The visible numbers of the invoices each memo's posted applications credit, in SeqNo order.

    An invoice whose applications from the memo net to zero or less (applied, then taken back)
    is left out.
    """
    wanted = {(int(m.InvcKey), str(m.TranID)) for m in memos}
    appl = tarCustPmtAppl.c
    inv = tarInvoice.c
    net: dict[tuple[int, str], dict[str, Decimal]] = defaultdict(dict)
    for chunk in chunked(sorted({key for key, _ in wanted})):
        rows = conn.execute(
            sa.select(appl.ApplyFromPmtKey, appl.ApplyFromTranID, appl.PmtAmt, inv.TranNo)
            .join(tarInvoice, inv.InvcKey == appl.ApplyToInvcKey)
            .where(appl.ApplyFromPmtKey.in_(list(chunk)))
            .order_by(appl.ApplyFromPmtKey, appl.SeqNo, appl.CustPmtApplKey)
        )
        for r in rows:
            memo = (int(r.ApplyFromPmtKey), str(r.ApplyFromTranID))
            if memo not in wanted:  # a payment's application: CustPmtKey and InvcKey may clash
                continue
            number = codes.display_number(str(r.TranNo), s.invoice_prefixes)
            net[memo][number] = net[memo].get(number, ZERO) + dec(r.PmtAmt)
    return {
        memo: tuple(number for number, amount in by_invoice.items() if amount > ZERO)
        for memo, by_invoice in net.items()
    }
