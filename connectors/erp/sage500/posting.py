"""Emulated posting of a balanced cash receipt batch (stand-in databases only).

What Sage's posting procedures do for tracepost's purposes, in the caller's transaction: move the
pending receipt to ``tarCustPmt`` and its pending applications to ``tarCustPmtAppl`` (same keys),
lower each invoice's ``Balance``/``BalanceHC`` by payment + discount + write-off (never below
zero), and mark the batch posted. GL (tglPosting), aging (tarCustStatus) and Cash Management are
not emulated.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.errors import ClosedPeriodError, InvoiceNotOpenError
from connectors.erp.locks import lock_rows
from connectors.erp.sage500 import codes
from connectors.erp.sage500.lookups import dec
from connectors.erp.sage500.periods import as_date, require_open
from connectors.erp.sage500.schema import (
    tarCustPmt,
    tarCustPmtAppl,
    tarInvoice,
    tarPendCustPmt,
    tarPendCustPmtAppl,
    tciBatchLog,
)
from connectors.erp.sage500.settings import SageSettings
from domain.money import quantize


def post_receipt_batch(conn: sa.Connection, xref: sa.Row[Any], settings: SageSettings) -> None:
    """The emulated ``Poster`` of a cash receipt: post its batch (see ``post_batch_emulated``).

    Raises:
        ClosedPeriodError: the batch's period was closed since it was written.
        InvoiceNotOpenError: an application would take an invoice below zero.
    """
    require_batch_period(conn, settings.company_id, int(xref.BatchKey))
    post_batch_emulated(conn, int(xref.BatchKey), user_id=settings.user, now=settings.clock())


def post_batch_emulated(
    conn: sa.Connection, batch_key: int, *, user_id: str, now: datetime
) -> None:
    """Post one balanced AR cash receipt batch the way Sage's posting would, for the stand-in.

    The caller holds the batch row lock and has checked that the batch is not posted yet.

    Args:
        conn: a connection inside the caller's transaction.
        batch_key: ``tciBatchLog.BatchKey`` of the batch.
        user_id: the user recorded in the audit columns.
        now: the audit timestamp.

    Raises:
        InvoiceNotOpenError: if an application would take an invoice below zero.
    """
    batch_id = conn.execute(
        sa.select(tciBatchLog.c.BatchID).where(tciBatchLog.c.BatchKey == batch_key)
    ).scalar_one()
    appl_rows = pending_appls(conn, batch_key)
    lower_balances(conn, appl_rows, batch_id=str(batch_id), user_id=user_id, now=now)
    pmt_rows = [
        dict(r._mapping)
        for r in conn.execute(
            sa.select(tarPendCustPmt).where(tarPendCustPmt.c.BatchKey == batch_key)
        )
    ]
    if pmt_rows:
        conn.execute(sa.insert(tarCustPmt), pmt_rows)
    if appl_rows:
        conn.execute(sa.insert(tarCustPmtAppl), appl_rows)
    conn.execute(sa.delete(tarPendCustPmtAppl).where(tarPendCustPmtAppl.c.BatchKey == batch_key))
    conn.execute(sa.delete(tarPendCustPmt).where(tarPendCustPmt.c.BatchKey == batch_key))
    mark_batch_posted(conn, batch_key)


def require_batch_period(conn: sa.Connection, company_id: str, batch_key: int) -> None:
    """Refuse to post a batch whose ``PostDate`` period is closed (or gone) since it was written.

    Sage's posting validation refuses such a batch too; posting it anyway would put AR (and the
    GL behind it) into a period the finance team has closed.

    Raises:
        ClosedPeriodError: naming the batch.
    """
    batch = conn.execute(
        sa.select(tciBatchLog.c.BatchID, tciBatchLog.c.PostDate).where(
            tciBatchLog.c.BatchKey == batch_key
        )
    ).one()
    try:
        require_open(conn, company_id, as_date(batch.PostDate))
    except ClosedPeriodError as exc:
        raise ClosedPeriodError(
            f"batch {str(batch.BatchID).strip()} was not posted: {exc} (closed since the batch"
            " was written; reopen the period or move the batch in Sage)"
        ) from exc


def mark_batch_posted(conn: sa.Connection, batch_key: int) -> None:
    """Set a batch to Status 6 (posted), PostStatus 500 (complete)."""
    conn.execute(
        sa.update(tciBatchLog)
        .where(tciBatchLog.c.BatchKey == batch_key)
        .values(
            Status=codes.BATCH_STATUS_POSTED,
            PostStatus=codes.POST_STATUS_COMPLETE,
            UpdateCounter=tciBatchLog.c.UpdateCounter + 1,
        )
    )


def pending_appls(conn: sa.Connection, batch_key: int) -> list[dict[str, object]]:
    """The pending applications of a batch, by SeqNo, as dicts."""
    return [
        dict(r._mapping)
        for r in conn.execute(
            sa.select(tarPendCustPmtAppl)
            .where(tarPendCustPmtAppl.c.BatchKey == batch_key)
            .order_by(tarPendCustPmtAppl.c.SeqNo)
        )
    ]


def lower_balances(
    conn: sa.Connection,
    appl_rows: list[dict[str, object]],
    *,
    batch_id: str,
    user_id: str,
    now: datetime,
) -> None:
    """Lower invoice balances by what the applications take; refuse to go below zero.

    New balances are computed in ``Decimal`` from the locked rows and written as values (not as
    ``Balance - x`` in SQL) so a float-backed stand-in (SQLite) cannot drift.
    """
    taken: dict[int, Decimal] = {}
    for appl in appl_rows:
        key = int(str(appl["ApplyToInvcKey"]))
        amount = sum(
            (dec(appl[name]) for name in ("PmtAmt", "DiscTakenAmt", "WriteOffAmt")), Decimal(0)
        )
        taken[key] = taken.get(key, Decimal(0)) + amount
    if not taken:
        return
    inv = tarInvoice.c
    locked = conn.execute(
        lock_rows(
            sa.select(inv.InvcKey, inv.TranID, inv.Balance, inv.BalanceHC)
            .where(inv.InvcKey.in_(sorted(taken)))
            .order_by(inv.InvcKey),
            tarInvoice,
        )
    ).all()
    found = {int(r.InvcKey): r for r in locked}
    for key in sorted(taken):
        row = found.get(key)
        if row is None:
            raise InvoiceNotOpenError(f"posting batch {batch_id}: invoice key {key} does not exist")
        balance = quantize(dec(row.Balance), 3)
        if taken[key] > balance:
            raise InvoiceNotOpenError(
                f"posting batch {batch_id}: invoice {row.TranID} has balance {balance},"
                f" less than the {taken[key]} applied to it"
            )
        conn.execute(
            sa.update(tarInvoice)
            .where(inv.InvcKey == key)
            .values(
                Balance=balance - taken[key],
                BalanceHC=quantize(dec(row.BalanceHC), 3) - taken[key],
                UpdateDate=now,
                UpdateUserID=user_id,
                UpdateCounter=inv.UpdateCounter + 1,
            )
        )
