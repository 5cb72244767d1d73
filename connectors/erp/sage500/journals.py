"""GL journal entries: balanced ``tglPosting`` rows in a type-301 batch, exactly once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.amounts import check_cents
from connectors.erp.errors import UnbalancedEntryError
from connectors.erp.sage500 import codes, lookups
from connectors.erp.sage500.journal_rows import JournalKeys, JournalRows, build_journal_rows
from connectors.erp.sage500.numbering import (
    next_batch_no,
    next_surrogate_block,
    next_surrogate_keys,
    next_tran_no,
)
from connectors.erp.sage500.once import write_once
from connectors.erp.sage500.periods import require_open
from connectors.erp.sage500.posting import mark_batch_posted
from connectors.erp.sage500.schema import (
    tciBatchLog,
    tglPosting,
    tglTransaction,
    tptPaytraceXref,
)
from connectors.erp.sage500.settings import SageSettings
from connectors.erp.sage500.validation import gl_account_keys
from connectors.erp.xref import to_document
from domain.erp_documents import DocumentKind, ErpDocument, JournalEntry
from domain.money import quantize

ZERO = Decimal(0)


def check_balanced(entry: JournalEntry) -> None:
    """Each line one-sided, positive, whole cents; debits equal credits; at least two lines.

    Raises:
        UnbalancedEntryError: if not balanced or a line is malformed.
        ErpBusinessError: an amount has fractions of a cent.
    """
    if len(entry.lines) < 2:
        raise UnbalancedEntryError(f"journal {entry.key}: needs at least two lines")
    # Lines are stored one by one: sub-cent lines would round apart from the totals checked below.
    check_cents(f"journal {entry.key}", *(a for ln in entry.lines for a in (ln.debit, ln.credit)))
    for i, line in enumerate(entry.lines, 1):
        sides = (line.debit > ZERO) + (line.credit > ZERO)
        if line.debit < ZERO or line.credit < ZERO or sides != 1:
            raise UnbalancedEntryError(
                f"journal {entry.key}: line {i} ({line.account}) must have exactly one of debit"
                f" and credit above zero (debit {line.debit}, credit {line.credit})"
            )
    debits = quantize(sum((line.debit for line in entry.lines), ZERO), 3)
    credits = quantize(sum((line.credit for line in entry.lines), ZERO), 3)
    if debits != credits:
        raise UnbalancedEntryError(
            f"journal {entry.key}: debits {debits} and credits {credits} differ"
        )


def write_journal(engine: sa.Engine, s: SageSettings, entry: JournalEntry) -> ErpDocument:
    """Write a balanced journal entry in the entry date's open period, exactly once.

    Raises:
        UnbalancedEntryError: the entry does not balance or a line is malformed.
        MissingGlAccountError: an account is missing or inactive.
        ClosedPeriodError: the entry date's period is closed or missing.
        ErpUnavailableError: connection trouble or deadlock victim (retryable).
    """

    def write(conn: sa.Connection) -> bool:
        check_balanced(entry)
        require_open(conn, s.company_id, entry.entry_date)
        rows = insert_gl_batch(conn, s, entry)
        conn.execute(sa.insert(tptPaytraceXref), [rows.xref])
        return True

    row, created = write_once(engine, DocumentKind.JOURNAL, entry.key, "write_journal", write)
    return to_document(row, lookups.ERP_NAME, created=created)


def insert_gl_batch(
    conn: sa.Connection,
    s: SageSettings,
    entry: JournalEntry,
    *,
    kind: DocumentKind = DocumentKind.JOURNAL,
    amount: Decimal | None = None,
) -> JournalRows:
    """Number and insert a checked entry's type-301 batch and ``tglPosting`` rows.

    The caller has checked the balance and the period, and inserts ``rows.xref`` itself (after
    any rows of its own that need the batch).

    Args:
        conn: a connection inside the write transaction.
        s: the connector settings.
        entry: the balanced entry.
        kind: the document kind of the xref row.
        amount: the xref amount; default the entry's total debits.

    Returns:
        The rows written, and the xref row still to insert.

    Raises:
        MissingGlAccountError: an account is missing or inactive.
    """
    acct_keys = gl_account_keys(conn, s.company_id, [ln.account.strip() for ln in entry.lines])
    batch_no, batch_type_id = next_batch_no(conn, s.company_id, codes.BATCH_TYPE_GL_JOURNAL)
    tran_no, tran_type_id = next_tran_no(conn, s.company_id, codes.TRAN_TYPE_GL_JOURNAL)
    keys = JournalKeys(
        batch_key=next_surrogate_block(conn, "tciBatchLog", 1),
        batch_no=batch_no,
        batch_type_id=batch_type_id,
        tran_no=tran_no,
        tran_type_id=tran_type_id,
        posting_keys=tuple(next_surrogate_keys(conn, "tglPosting", len(entry.lines))),
        gl_acct_keys=tuple(acct_keys),
    )
    rows = build_journal_rows(
        entry,
        company_id=s.company_id,
        keys=keys,
        user_id=s.user,
        now=s.clock(),
        kind=kind,
        xref_amount=amount,
    )
    conn.execute(sa.insert(tciBatchLog), [rows.batch_log])
    conn.execute(sa.insert(tglPosting), rows.postings)
    return rows


def post_journal_batch(conn: sa.Connection, xref: sa.Row[Any], settings: SageSettings) -> None:
    """Emulated posting: ``tglPosting`` rows become ``tglTransaction`` rows of the period.

    Raises:
        ClosedPeriodError: the batch's period was closed since it was written.
    """
    batch_key = int(xref.BatchKey)
    postings = [
        dict(r._mapping)
        for r in conn.execute(
            sa.select(tglPosting)
            .where(tglPosting.c.BatchKey == batch_key)
            .order_by(tglPosting.c.PostingKey)
        )
    ]
    if postings:
        post_date = postings[0]["PostDate"]
        period = require_open(conn, settings.company_id, post_date.date())
        first = next_surrogate_block(conn, "tglTransaction", len(postings))
        transactions = []
        for i, posting in enumerate(postings):
            row = {k: v for k, v in posting.items() if k != "PostingKey"}
            row.update(
                glTranKey=first + i,
                CompanyID=settings.company_id,
                FiscYear=period.fiscal_year,
                FiscPer=period.period,
            )
            transactions.append(row)
        conn.execute(sa.insert(tglTransaction), transactions)
        conn.execute(sa.delete(tglPosting).where(tglPosting.c.BatchKey == batch_key))
    mark_batch_posted(conn, batch_key)
