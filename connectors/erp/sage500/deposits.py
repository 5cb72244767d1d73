"""Bank deposits: one GL transfer per settled PayTrace batch, linking its receipts.

Sage 500 tables for Cash Management deposits could not be confirmed (``docs/erp/sage500.md``),
so a deposit is written only to confirmed tables, the way the Dynamics SL adapter does it: a
type-301 GL batch (``tciBatchLog`` + two ``tglPosting`` rows, as a journal entry) that debits
the bank GL account (``accounts["bank"]``) and credits the undeposited-funds / card clearing GL
account (``accounts["undeposited"]``) for the net amount, dated ``deposit_date`` in its open
period; a negative net runs the other way. tracepost's own ``tptPaytraceDepositLink`` lists the
receipts. Written exactly once for the business key ``str(batch_number)``; the receipts' xref
rows are locked, so a receipt cannot land in two deposits. ``post_document`` posts the batch like
a journal.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.amounts import check_cents
from connectors.erp.errors import DocumentNotFoundError, ErpBusinessError
from connectors.erp.locks import lock_rows
from connectors.erp.sage500 import lookups
from connectors.erp.sage500.journals import insert_gl_batch
from connectors.erp.sage500.once import write_once
from connectors.erp.sage500.periods import require_open
from connectors.erp.sage500.schema import tptPaytraceDepositLink, tptPaytraceXref
from connectors.erp.sage500.settings import SageSettings
from connectors.erp.xref import read_xref, to_document
from domain.erp_documents import Deposit, DocumentKind, ErpDocument, JournalEntry, JournalLine
from domain.money import quantize

ZERO = Decimal(0)


def write_deposit(engine: sa.Engine, s: SageSettings, deposit: Deposit) -> ErpDocument:
    """Write the deposit of a settled batch exactly once, as a GL transfer.

    Args:
        engine: the Sage database.
        s: the connector settings (company, bank and undeposited accounts, user, clock).
        deposit: the deposit; ``str(batch_number)`` is its business key.

    Returns:
        The document: ``erp_document`` is the GL entry's TranID, ``batch`` its BatchID and
        ``amount`` the net amount; ``created`` is False when it had been written before.

    Raises:
        ErpBusinessError: no receipts, a zero net amount, or a receipt already deposited.
        DocumentNotFoundError: a receipt was never written by tracepost.
        MissingGlAccountError: the bank or undeposited account is missing or inactive.
        ClosedPeriodError: the deposit date's period is closed or missing.
        ErpUnavailableError: connection trouble or deadlock victim (retryable).
    """
    key = str(deposit.batch_number)

    def write(conn: sa.Connection) -> bool:
        return _write(conn, s, deposit)

    row, created = write_once(engine, DocumentKind.DEPOSIT, key, "write_deposit", write)
    return to_document(row, lookups.ERP_NAME, created=created)


def deposit_entry(deposit: Deposit, *, bank: str, undeposited: str) -> JournalEntry:
    """The GL transfer of a deposit: Dr bank, Cr undeposited funds (swapped for a negative net).

    Args:
        deposit: the deposit; its amount must not round to zero at 3 places.
        bank: GL account number of the bank.
        undeposited: GL account number of the undeposited funds / card clearing account.

    Returns:
        A balanced two-line entry keyed ``str(batch_number)``, bank line first.
    """
    amount = quantize(deposit.amount, 3)
    value = abs(amount)
    into_bank = amount > ZERO
    description = deposit.reference.strip() or f"PayTrace deposit batch {deposit.batch_number}"
    return JournalEntry(
        key=str(deposit.batch_number),
        entry_date=deposit.deposit_date,
        description=description,
        lines=(
            JournalLine(
                account=bank,
                debit=value if into_bank else ZERO,
                credit=ZERO if into_bank else value,
            ),
            JournalLine(
                account=undeposited,
                debit=ZERO if into_bank else value,
                credit=value if into_bank else ZERO,
            ),
        ),
    )


def link_rows(
    key: str, receipts: list[tuple[int, Any]], gl_batch_id: str, now: datetime
) -> list[dict[str, Any]]:
    """The ``tptPaytraceDepositLink`` rows of a deposit, one per receipt.

    Args:
        key: the deposit's business key (``DepositKey``).
        receipts: (PayTrace transaction id, the receipt's xref row) pairs.
        gl_batch_id: the deposit's GL ``BatchID`` (``DepositBatNbr``).
        now: the audit timestamp.

    Returns:
        The rows, ready for ``insert``.
    """
    return [
        {
            "DepositKey": key,
            "PaytraceTranID": tran_id,
            "ReceiptRefNbr": str(r.DocNo).strip(),
            "ReceiptBatNbr": str(r.BatchID).strip(),
            "Amount": quantize(Decimal(str(r.Amount)), 3),
            "DepositBatNbr": gl_batch_id,
            "CreateDate": now,
        }
        for tran_id, r in receipts
    ]


def _write(conn: sa.Connection, s: SageSettings, deposit: Deposit) -> bool:
    key = str(deposit.batch_number)
    ids = list(dict.fromkeys(deposit.receipt_transaction_ids))
    if not ids:
        raise ErpBusinessError(f"deposit of PayTrace batch {key}: needs at least one receipt")
    check_cents(f"deposit of PayTrace batch {key}", deposit.amount)
    amount = quantize(deposit.amount, 3)
    if amount == ZERO:
        raise ErpBusinessError(
            f"deposit of PayTrace batch {key}: net amount is zero, nothing to move to the bank"
        )
    require_open(conn, s.company_id, deposit.deposit_date)
    receipts = _locked_receipts(conn, deposit.batch_number, ids)
    if read_xref(conn, tptPaytraceXref, DocumentKind.DEPOSIT, key) is not None:
        return False  # a racing writer of this deposit held the receipt locks
    _refuse_deposited(conn, deposit.batch_number, ids)
    entry = deposit_entry(deposit, bank=s.account("bank"), undeposited=s.account("undeposited"))
    rows = insert_gl_batch(conn, s, entry, kind=DocumentKind.DEPOSIT, amount=amount)
    conn.execute(
        sa.insert(tptPaytraceDepositLink),
        link_rows(
            key,
            list(zip(ids, receipts, strict=True)),
            str(rows.batch_log["BatchID"]),
            rows.xref["CreateDate"],
        ),
    )
    conn.execute(sa.insert(tptPaytraceXref), [rows.xref])
    return True


def _locked_receipts(conn: sa.Connection, batch_number: int, ids: list[int]) -> list[Any]:
    """The receipts' xref rows, locked, in the order of ``ids``; DocumentNotFoundError if not."""
    x = tptPaytraceXref.c
    rows = conn.execute(
        lock_rows(
            sa.select(tptPaytraceXref)
            .where(x.DocKind == DocumentKind.RECEIPT.value, x.SourceKey.in_([str(i) for i in ids]))
            .order_by(x.SourceKey),
            tptPaytraceXref,
        )
    ).all()
    found = {str(r.SourceKey): r for r in rows}
    missing = [i for i in ids if str(i) not in found]
    if missing:
        raise DocumentNotFoundError(
            f"deposit of PayTrace batch {batch_number}: no receipt was written for PayTrace"
            f" transaction(s) {', '.join(str(i) for i in missing)}"
        )
    return [found[str(i)] for i in ids]


def _refuse_deposited(conn: sa.Connection, batch_number: int, ids: list[int]) -> None:
    """ErpBusinessError when one of the receipts is linked to a deposit already."""
    link = tptPaytraceDepositLink.c
    taken = conn.execute(
        sa.select(link.PaytraceTranID, link.ReceiptRefNbr, link.DepositKey, link.DepositBatNbr)
        .where(link.PaytraceTranID.in_(ids))
        .order_by(link.PaytraceTranID)
    ).first()
    if taken is not None:
        raise ErpBusinessError(
            f"deposit of PayTrace batch {batch_number}: receipt {str(taken.ReceiptRefNbr).strip()}"
            f" (PayTrace transaction {taken.PaytraceTranID}) is already in the deposit of PayTrace"
            f" batch {str(taken.DepositKey).strip()} (GL batch"
            f" {str(taken.DepositBatNbr).strip()})"
        )
