"""Dynamics SL general ledger writes: journal entries, deposits and the emulated GL release.

Every write runs on the caller's connection inside its write transaction
(``connectors.erp.locks.write_transaction``) and is exactly once by its business key:

1. read ``tptPaytraceXref`` back (a repeat returns the same document, ``created=False``);
2. validate what needs no lock (balance, accounts configured, receipts written);
3. lock the ``GLSetup`` row (it holds ``LastBatNbr``), then read it and the xref again in new
   statements: a racing writer of the same key has committed by then and is returned;
4. check the period (``GLSetup.PerNbr``) and the accounts, take the batch number, insert
   ``Batch``, ``GLTran`` and the xref row inside a savepoint; a primary-key violation there
   (a writer the lock did not serialize) rolls back to the savepoint and reads the winner back.

See docs/erp/dynamics_sl_ledger.md for the tables and columns each operation touches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.dynamics_sl import codes
from connectors.erp.dynamics_sl.base import (
    Batch,
    SlContext,
    money,
    pad,
    text,
    tptPaytraceXref,
)
from connectors.erp.dynamics_sl.ledger_checks import (
    account_for,
    check_accounts,
    gl_account_exists,
    journal_lines,
    open_period,
    read_setup,
    total_debits,
)
from connectors.erp.dynamics_sl.ledger_numbering import lock_setup, next_gl_bat_nbr
from connectors.erp.dynamics_sl.ledger_rows import (
    BATCH_STATUS_BALANCED,
    BATCH_STATUS_UNPOSTED,
    EDIT_SCREEN_JOURNAL,
    MODULE_GL,
    POSTED_UNPOSTED,
    ZERO,
    GlBatchHeader,
    GlLine,
    gl_batch_row,
    gl_tran_rows,
)
from connectors.erp.dynamics_sl.ledger_schema import GLTran, tptPaytraceDepositLink
from connectors.erp.dynamics_sl.ledger_seed import DEMO_ACCOUNTS, seed_ledger
from connectors.erp.errors import (
    ClosedPeriodError,
    DocumentNotFoundError,
    ErpBusinessError,
    UnbalancedEntryError,
)
from connectors.erp.locks import lock_rows
from connectors.erp.xref import read_xref, to_document, xref_row
from domain.erp_documents import Deposit, DocumentKind, ErpDocument, JournalEntry
from domain.money import quantize

ERP_NAME = codes.ERP_NAME
SOURCE_KEY_WIDTH = 40

__all__ = [
    "DEMO_ACCOUNTS",
    "ERP_NAME",
    "gl_account_exists",
    "release_gl_batch",
    "seed_ledger",
    "write_deposit",
    "write_journal",
]

ExtraRows = Callable[[sa.Connection, str], None]


def write_journal(conn: sa.Connection, entry: JournalEntry, ctx: SlContext) -> ErpDocument:
    """Write a balanced GL journal entry as an unreleased 01.010 batch, exactly once.

    Args:
        conn: a connection inside the caller's write transaction.
        entry: the entry; its key is the ``SourceKey`` of its xref row (DocKind ``journal``).
        ctx: company, user, program (``01010``), timestamp, default subaccount.

    Returns:
        The document (``erp_document`` and ``batch`` are the ``BatNbr``); ``created`` is False
        when it had been written before.

    Raises:
        UnbalancedEntryError: the lines do not balance or a line has both or neither side.
        MissingGlAccountError: an account or subaccount is missing or inactive.
        ClosedPeriodError: the entry date's period is closed (before ``GLSetup.PerNbr``).
        ErpBusinessError: the key is blank or does not fit ``tptPaytraceXref.SourceKey``.
    """
    if not entry.key.strip() or len(entry.key) > SOURCE_KEY_WIDTH:
        raise ErpBusinessError(f"journal key {entry.key!r} is blank or longer than 40 characters")
    existing = read_xref(conn, tptPaytraceXref, DocumentKind.JOURNAL, entry.key)
    if existing is not None:
        return to_document(existing, ERP_NAME)
    lines = journal_lines(entry, ctx)
    return _write_batch(
        conn,
        ctx,
        kind=DocumentKind.JOURNAL,
        key=entry.key,
        day=entry.entry_date,
        description=entry.description,
        lines=lines,
        ext_ref_nbr=entry.key,
        paytrace_transaction_id=entry.paytrace_transaction_id,
    )


def write_deposit(conn: sa.Connection, deposit: Deposit, ctx: SlContext) -> ErpDocument:
    """Write the bank deposit of a settled PayTrace batch as an unreleased GL batch, once.

    Two lines move the net amount from the undeposited-funds (card clearing) account
    (``ctx.accounts["undeposited"]``) to the bank account (``ctx.accounts["bank"]``); a negative
    net (refunds above sales) moves it the other way. The receipts are linked in
    ``tptPaytraceDepositLink``; every one of them must have been written (its xref row).

    Args:
        conn: a connection inside the caller's write transaction.
        deposit: the deposit; ``str(batch_number)`` is its ``SourceKey`` (DocKind ``deposit``).
        ctx: company, user, program, timestamp and the bank/undeposited accounts.

    Returns:
        The document; ``created`` is False when it had been written before.

    Raises:
        DocumentNotFoundError: a receipt of the batch was never written.
        ErpBusinessError: a receipt is already linked to another deposit, or the net is zero.
        MissingGlAccountError: bank or undeposited account not configured, missing or inactive.
        ClosedPeriodError: the deposit date's period is closed.
    """
    key = str(deposit.batch_number)
    existing = read_xref(conn, tptPaytraceXref, DocumentKind.DEPOSIT, key)
    if existing is not None:
        return to_document(existing, ERP_NAME)
    amount = quantize(deposit.amount, 2)
    if amount == ZERO:
        raise ErpBusinessError(f"deposit of PayTrace batch {key}: net amount is zero")
    receipts = _written_receipts(conn, deposit)
    bank, clearing = account_for("bank", ctx), account_for("undeposited", ctx)
    description = deposit.reference.strip() or f"PayTrace deposit batch {key}"
    into_bank = amount > ZERO
    lines = (
        GlLine(*bank, abs(amount) if into_bank else ZERO, ZERO if into_bank else abs(amount), ""),
        GlLine(
            *clearing, ZERO if into_bank else abs(amount), abs(amount) if into_bank else ZERO, ""
        ),
    )

    def link_receipts(inner: sa.Connection, bat_nbr: str) -> None:
        if receipts:
            inner.execute(
                sa.insert(tptPaytraceDepositLink),
                [
                    {
                        "DepositKey": key,
                        "PaytraceTranID": int(row.PaytraceTranID),
                        "ReceiptRefNbr": text(row.DocNo),
                        "ReceiptBatNbr": text(row.BatchID),
                        "Amount": row.Amount,
                        "DepositBatNbr": bat_nbr,
                        "CreateDate": ctx.now,
                    }
                    for row in receipts
                ],
            )

    return _write_batch(
        conn,
        ctx,
        kind=DocumentKind.DEPOSIT,
        key=key,
        day=deposit.deposit_date,
        description=description,
        lines=lines,
        ext_ref_nbr=f"PT BATCH {key}",
        amount=amount,
        extra_rows=link_receipts,
    )


def release_gl_batch(conn: sa.Connection, bat_nbr: str, ctx: SlContext) -> None:
    """Release a GL batch the way ``pp_01400`` does (the ``emulated`` strategy); idempotent.

    Sets ``Batch.Status`` ``U`` (released, not posted) and ``Rlsed`` 1, ``GLTran.Posted`` ``U``,
    ``Rlsed`` 1 and ``OrigCpnyID``; nothing else (account history is updated by GL posting,
    01.520, which stays an SL user's step). A batch already released is left alone.

    Args:
        conn: a connection inside the caller's write transaction.
        bat_nbr: the GL ``BatNbr``.
        ctx: unused by SL's release beyond the company; kept for symmetry with the writes.

    Raises:
        DocumentNotFoundError: no GL batch has that number.
        ClosedPeriodError: the batch's period was closed since it was written.
        ErpBusinessError: the batch is not balanced-and-ready (Status other than ``B``).
        UnbalancedEntryError: its lines do not add up to its totals.
    """
    key = {"Module": MODULE_GL, "BatNbr": pad(bat_nbr.strip(), 10)}
    where = sa.and_(Batch.c.Module == key["Module"], Batch.c.BatNbr == key["BatNbr"])
    conn.execute(lock_rows(sa.select(Batch.c.BatNbr).where(where), Batch))
    batch = conn.execute(sa.select(Batch).where(where)).first()
    if batch is None:
        raise DocumentNotFoundError(f"Dynamics SL GL batch {bat_nbr.strip()} does not exist")
    if int(batch.Rlsed) == 1:
        return
    current = text(read_setup(conn).PerNbr)
    if text(batch.PerPost) < current:
        raise ClosedPeriodError(
            f"Dynamics SL GL batch {bat_nbr.strip()} posts to period {text(batch.PerPost)},"
            f" closed since it was written (current GL period {current})"
        )
    if text(batch.Status) != BATCH_STATUS_BALANCED:
        raise ErpBusinessError(
            f"Dynamics SL GL batch {bat_nbr.strip()} has Status {text(batch.Status)!r}; only a"
            " balanced batch (B) can be released"
        )
    tran_where = sa.and_(GLTran.c.Module == key["Module"], GLTran.c.BatNbr == key["BatNbr"])
    sums = conn.execute(
        sa.select(sa.func.count(), sa.func.sum(GLTran.c.DrAmt), sa.func.sum(GLTran.c.CrAmt)).where(
            tran_where
        )
    ).one()
    debits, credits = money(sums[1]), money(sums[2])
    if sums[0] == 0 or debits != credits or credits != money(batch.CrTot):
        raise UnbalancedEntryError(
            f"Dynamics SL GL batch {bat_nbr.strip()} is out of balance: lines debit {debits},"
            f" credit {credits}, batch total {money(batch.CrTot)}"
        )
    conn.execute(sa.update(Batch).where(where).values(Status=BATCH_STATUS_UNPOSTED, Rlsed=1))
    conn.execute(
        sa.update(GLTran)
        .where(tran_where)
        .values(Posted=POSTED_UNPOSTED, Rlsed=1, OrigCpnyID=batch.CpnyID)
    )


# --- internals ---------------------------------------------------------------------------------


def _written_receipts(conn: sa.Connection, deposit: Deposit) -> list[sa.Row[Any]]:
    """The receipt xref rows of every transaction the deposit holds, or DocumentNotFoundError."""
    wanted = sorted(set(deposit.receipt_transaction_ids))
    if not wanted:
        return []
    xref = tptPaytraceXref.c
    rows = list(
        conn.execute(
            sa.select(tptPaytraceXref)
            .where(
                xref.DocKind == DocumentKind.RECEIPT.value,
                xref.PaytraceTranID.in_(wanted),
            )
            .order_by(xref.PaytraceTranID)
        ).all()
    )
    found = {int(row.PaytraceTranID) for row in rows}
    missing = [tid for tid in wanted if tid not in found]
    if missing:
        raise DocumentNotFoundError(
            f"deposit of PayTrace batch {deposit.batch_number}: no receipt was written for"
            f" transaction(s) {', '.join(str(m) for m in missing)}"
        )
    link = tptPaytraceDepositLink.c
    elsewhere = conn.execute(
        sa.select(link.PaytraceTranID, link.DepositKey)
        .where(link.PaytraceTranID.in_(wanted), link.DepositKey != str(deposit.batch_number))
        .order_by(link.PaytraceTranID)
    ).all()
    if elsewhere:
        deposited = ", ".join(f"{r.PaytraceTranID} (batch {r.DepositKey})" for r in elsewhere)
        raise ErpBusinessError(
            f"deposit of PayTrace batch {deposit.batch_number}: receipts already deposited with"
            f" another batch: {deposited}"
        )
    return rows


def _write_batch(
    conn: sa.Connection,
    ctx: SlContext,
    *,
    kind: DocumentKind,
    key: str,
    day: date,
    description: str,
    lines: tuple[GlLine, ...],
    ext_ref_nbr: str,
    paytrace_transaction_id: int | None = None,
    amount: Decimal | None = None,
    extra_rows: ExtraRows | None = None,
) -> ErpDocument:
    """Lock, re-read, check, number and insert one GL batch with its xref row."""
    ctx = replace(ctx, prog=EDIT_SCREEN_JOURNAL)
    what = f"{kind.value} {key}"
    setup = lock_setup(conn)
    # The lock may have waited for a racing writer of this same document.
    existing = read_xref(conn, tptPaytraceXref, kind, key)
    if existing is not None:
        return to_document(existing, ERP_NAME)
    per_post = open_period(setup, day, what)
    check_accounts(conn, {(line.acct, line.sub) for line in lines})
    try:
        with conn.begin_nested():
            bat_nbr = next_gl_bat_nbr(conn, setup)
            header = GlBatchHeader(
                bat_nbr=bat_nbr,
                description=description,
                tran_date=day,
                per_post=per_post,
                per_ent=text(setup.PerNbr),
                ledger_id=text(setup.LedgerID),
                base_cury_id=text(setup.BaseCuryId),
                ext_ref_nbr=ext_ref_nbr,
            )
            conn.execute(sa.insert(Batch), [gl_batch_row(header, lines, ctx)])
            conn.execute(sa.insert(GLTran), gl_tran_rows(header, lines, ctx))
            if extra_rows is not None:
                extra_rows(conn, bat_nbr)
            conn.execute(
                sa.insert(tptPaytraceXref),
                [
                    xref_row(
                        kind=kind,
                        key=key,
                        company_id=ctx.cpny_id,
                        doc_no=bat_nbr,
                        batch_id=bat_nbr,
                        amount=amount if amount is not None else total_debits(lines),
                        now=ctx.now,
                        paytrace_transaction_id=paytrace_transaction_id,
                        doc_date=day,
                    )
                ],
            )
    except sa.exc.IntegrityError as exc:
        winner = read_xref(conn, tptPaytraceXref, kind, key)
        if winner is not None:
            return to_document(winner, ERP_NAME)
        raise ErpBusinessError(
            f"Dynamics SL refused {what} through a database constraint: {exc.orig}"
        ) from exc
    written = read_xref(conn, tptPaytraceXref, kind, key)
    if written is None:  # pragma: no cover - inserted just above in this transaction
        raise ErpBusinessError(f"{what} was written but cannot be read back")
    return to_document(written, ERP_NAME, created=True)
