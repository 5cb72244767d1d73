"""Emulated posting of a credit memo batch (type 501, stand-in databases only).

Like Sage's posting for tracepost's purposes: the pending memo moves to ``tarInvoice`` (same
``InvcKey``), its applications to ``tarCustPmtAppl``; each applied invoice's balance drops by the
application, and the memo's own ``Balance`` rises from ``-TranAmt`` by what it applied (0 when
fully applied, negative = open credit otherwise).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.sage500.lookups import dec
from connectors.erp.sage500.posting import (
    lower_balances,
    mark_batch_posted,
    pending_appls,
    require_batch_period,
)
from connectors.erp.sage500.schema import (
    tarCustPmtAppl,
    tarInvoice,
    tarPendCustPmtAppl,
    tarPendInvoice,
)
from connectors.erp.sage500.settings import SageSettings
from domain.money import quantize


def post_memo_batch(conn: sa.Connection, xref: sa.Row[Any], settings: SageSettings) -> None:
    """Post the credit memo batch of an xref row (caller holds the batch lock).

    Raises:
        ClosedPeriodError: the batch's period was closed since it was written.
        InvoiceNotOpenError: an application would take an invoice below zero.
    """
    batch_key = int(xref.BatchKey)
    require_batch_period(conn, settings.company_id, batch_key)
    now = settings.clock()
    appls = pending_appls(conn, batch_key)
    lower_balances(conn, appls, batch_id=str(xref.BatchID), user_id=settings.user, now=now)
    memos = [
        dict(r._mapping)
        for r in conn.execute(
            sa.select(tarPendInvoice).where(tarPendInvoice.c.BatchKey == batch_key)
        )
    ]
    for memo in memos:
        applied = sum(
            (dec(a["PmtAmt"]) for a in appls if a["ApplyFromTranID"] == memo["TranID"]),
            Decimal(0),
        )
        balance = quantize(dec(memo["TranAmt"]) + applied, 3)
        memo.update(Balance=balance, BalanceHC=balance)
    if memos:
        conn.execute(sa.insert(tarInvoice), memos)
    if appls:
        conn.execute(sa.insert(tarCustPmtAppl), appls)
    conn.execute(sa.delete(tarPendCustPmtAppl).where(tarPendCustPmtAppl.c.BatchKey == batch_key))
    conn.execute(sa.delete(tarPendInvoice).where(tarPendInvoice.c.BatchKey == batch_key))
    mark_batch_posted(conn, batch_key)
