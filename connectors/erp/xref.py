"""tracepost's cross-reference table, kept inside each ERP database.

One row per document tracepost wrote, keyed by ``(DocKind, SourceKey)``: the business key the
document was written for (a PayTrace transaction id, ``ach-5000001``, ``batch:77``, a case id, an
order id). The row is inserted in the same transaction as the document, so "read back before
writing" and the primary key together make every write exactly once, also when two workers race.

PayTrace numbers ACH (check) transactions apart from card transactions, so ``PaytraceTranID``
alone does not say which payment a row belongs to: ``PaymentSource`` (``card``/``ach``) does,
on the documents of a payment (receipts, reversals, reapplications). NULL means card: rows of
other kinds, and rows written before the column existed.

Bulk read-backs (``documents_by_keys``, ``documents_dated``) serve the settlement
reconciliation; key lists go to the database in chunks of ``IN_CHUNK`` (SQL Server accepts
2,100 parameters in a statement).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa

from domain.erp_documents import DocumentKind, DocumentStatus, ErpDocument
from domain.models import PaymentSource
from domain.money import quantize

XREF_TABLE = "tptPaytraceXref"
DEPOSIT_LINK_TABLE = "tptPaytraceDepositLink"
APPLIED_TO_WIDTH = 255
IN_CHUNK = 500
"""Most values in one ``IN (...)`` list: well below SQL Server's 2,100 parameters a statement."""

_T = TypeVar("_T")


def xref_table(metadata: sa.MetaData) -> sa.Table:
    """Define ``tptPaytraceXref`` in an ERP schema's metadata.

    Args:
        metadata: the ERP schema's metadata.

    Returns:
        The table.
    """
    return sa.Table(
        XREF_TABLE,
        metadata,
        sa.Column("DocKind", sa.String(15), primary_key=True),
        sa.Column("SourceKey", sa.String(40), primary_key=True),
        sa.Column("PaytraceTranID", sa.BigInteger, nullable=True),
        sa.Column("CompanyID", sa.String(10), nullable=False),
        sa.Column("CustID", sa.String(15), nullable=False, default=""),
        sa.Column("DocKey", sa.Integer, nullable=True),
        sa.Column("DocNo", sa.String(20), nullable=False),
        sa.Column("BatchKey", sa.Integer, nullable=True),
        sa.Column("BatchID", sa.String(15), nullable=False),
        sa.Column("Amount", sa.Numeric(15, 3, asdecimal=True), nullable=False),
        sa.Column("DocDate", sa.Date, nullable=True),
        sa.Column("AppliedTo", sa.String(APPLIED_TO_WIDTH), nullable=False, default=""),
        sa.Column("Status", sa.String(10), nullable=False),
        sa.Column("CreateDate", sa.DateTime, nullable=False),
        sa.Column("UpdateDate", sa.DateTime, nullable=True),
        sa.Column("PaymentSource", sa.String(4), nullable=True),
        sa.Index(f"ix_{XREF_TABLE}_PaytraceTranID", "PaytraceTranID"),
        # documents_dated: one kind's documents in a date range.
        sa.Index(f"ix_{XREF_TABLE}_DocDate", "DocKind", "DocDate"),
    )


def deposit_link_table(metadata: sa.MetaData) -> sa.Table:
    """Define ``tptPaytraceDepositLink``: the receipts of each deposit, one row per receipt.

    The unique index on ``PaytraceTranID`` makes a receipt land in one deposit only.

    Args:
        metadata: the ERP schema's metadata.

    Returns:
        The table.
    """
    return sa.Table(
        DEPOSIT_LINK_TABLE,
        metadata,
        sa.Column("DepositKey", sa.String(40), primary_key=True),
        sa.Column("PaytraceTranID", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("ReceiptRefNbr", sa.String(20), nullable=False),
        sa.Column("ReceiptBatNbr", sa.String(15), nullable=False),
        sa.Column("Amount", sa.Numeric(15, 3, asdecimal=True), nullable=False),
        sa.Column("DepositBatNbr", sa.String(15), nullable=False),
        sa.Column("CreateDate", sa.DateTime, nullable=False),
        sa.Index(f"ix_{DEPOSIT_LINK_TABLE}_PaytraceTranID", "PaytraceTranID", unique=True),
    )


def xref_row(
    *,
    kind: DocumentKind,
    key: str,
    company_id: str,
    doc_no: str,
    batch_id: str,
    amount: Decimal,
    now: datetime,
    paytrace_transaction_id: int | None = None,
    customer_id: str = "",
    doc_key: int | None = None,
    batch_key: int | None = None,
    doc_date: date | None = None,
    applied_to: tuple[str, ...] = (),
    source: PaymentSource | None = None,
) -> dict[str, Any]:
    """The cross-reference row of a newly written (pending) document.

    Args:
        kind: what was written.
        key: its business key.
        company_id: the ERP company.
        doc_no: the ERP's document number.
        batch_id: the ERP batch holding it.
        amount: the document amount.
        now: the audit timestamp.
        paytrace_transaction_id: the PayTrace transaction it belongs to, if any.
        customer_id: the ERP customer, if any.
        doc_key: the document's surrogate key (Sage 500), if any.
        batch_key: the batch's surrogate key (Sage 500), if any.
        doc_date: the document date.
        applied_to: invoice numbers it applied to or reopened.
        source: card or ACH, for the documents of a payment (receipt, reversal,
            reapplication); None for the other kinds.

    Returns:
        The row, ready for ``insert``.

    ``AppliedTo`` keeps the invoice numbers that fit its 255 characters, in order: it serves
    tracepost's read-back and the ops pages, while the ERP's own application rows hold every
    application, so a payment of many invoices never fails on it.
    """
    applied = ",".join(fit_applied_to(applied_to))
    return {
        "DocKind": kind.value,
        "SourceKey": key,
        "PaytraceTranID": paytrace_transaction_id,
        "CompanyID": company_id,
        "CustID": customer_id,
        "DocKey": doc_key,
        "DocNo": doc_no,
        "BatchKey": batch_key,
        "BatchID": batch_id,
        "Amount": quantize(amount, 3),
        "DocDate": doc_date,
        "AppliedTo": applied,
        "Status": DocumentStatus.PENDING.value,
        "CreateDate": now,
        "UpdateDate": None,
        "PaymentSource": source.value if source is not None else None,
    }


def fit_applied_to(numbers: Iterable[str]) -> tuple[str, ...]:
    """The invoice numbers that fit ``tptPaytraceXref.AppliedTo`` (comma-separated), in order.

    Args:
        numbers: invoice numbers.

    Returns:
        The leading numbers whose comma-joined text fits 255 characters.
    """
    kept: list[str] = []
    for number in numbers:
        if len(",".join([*kept, number])) > APPLIED_TO_WIDTH:
            break
        kept.append(number)
    return tuple(kept)


def read_xref(
    conn: sa.Connection, table: sa.Table, kind: DocumentKind, key: str
) -> sa.Row[Any] | None:
    """The cross-reference row of a document, if it was written.

    Args:
        conn: a connection.
        table: the ERP schema's ``tptPaytraceXref``.
        kind: the document kind.
        key: its business key.

    Returns:
        The row or None.
    """
    c = table.c
    return conn.execute(sa.select(table).where(c.DocKind == kind.value, c.SourceKey == key)).first()


def of_source(table: sa.Table, source: PaymentSource) -> sa.ColumnElement[bool]:
    """The condition "this row belongs to a payment of ``source``" (NULL counts as card).

    Args:
        table: the ERP schema's ``tptPaytraceXref``.
        source: card or ACH.

    Returns:
        A WHERE condition.
    """
    column = table.c.PaymentSource
    if source is PaymentSource.ACH:
        return column == PaymentSource.ACH.value
    return sa.or_(column.is_(None), column != PaymentSource.ACH.value)


def row_source(row: sa.Row[Any]) -> PaymentSource:
    """The payment source a cross-reference row records (NULL: card)."""
    value = row._mapping.get("PaymentSource")
    return PaymentSource(str(value).strip()) if value else PaymentSource.CARD


def rows_for_transaction(
    conn: sa.Connection,
    table: sa.Table,
    paytrace_transaction_id: int,
    source: PaymentSource = PaymentSource.CARD,
) -> list[sa.Row[Any]]:
    """Every cross-reference row of a PayTrace transaction of one source, oldest first.

    Args:
        conn: a connection.
        table: the ERP schema's ``tptPaytraceXref``.
        paytrace_transaction_id: the card transaction id, or ACH check transaction id.
        source: which of the two numbering ranges the id is from.

    Returns:
        The rows, oldest first: by ``CreateDate``, then (rows stamped in the same second, e.g. a
        reversal and its reapplication) by the order the ERP numbered their batches in
        (``write_order``).
    """
    c = table.c
    rows = conn.execute(
        sa.select(table).where(
            c.PaytraceTranID == paytrace_transaction_id, of_source(table, source)
        )
    ).all()
    return sorted(rows, key=write_order)


def write_order(row: sa.Row[Any]) -> tuple[Any, ...]:
    """Sort key putting cross-reference rows in the order they were written.

    ``CreateDate`` first; within one timestamp the batch's surrogate key (Sage 500
    ``BatchKey``, taken from one counter for every batch), else its number (Dynamics SL
    ``BatNbr``, zero-padded counters: shorter numbers first), then ``DocKind``. Documents
    without a batch (sales orders) come first within their timestamp.
    """
    batch_id = str(row.BatchID or "").strip()
    batch_key = row.BatchKey
    return (
        row.CreateDate,
        batch_key is not None,
        int(batch_key) if batch_key is not None else 0,
        len(batch_id),
        batch_id,
        str(row.DocKind),
    )


def chunked(values: Sequence[_T], size: int = IN_CHUNK) -> Iterator[Sequence[_T]]:
    """Consecutive slices of at most ``size`` values (for ``IN`` lists).

    Args:
        values: the values.
        size: the largest slice, at least 1.

    Yields:
        The slices, in order.

    Raises:
        ValueError: if ``size`` is below 1.
    """
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, not {size}")
    for start in range(0, len(values), size):
        yield values[start : start + size]


def documents_by_keys(
    conn: sa.Connection,
    table: sa.Table,
    erp: str,
    kind: DocumentKind,
    keys: Sequence[str],
) -> list[ErpDocument]:
    """The documents of a kind written for any of the keys, in the order the keys are given.

    One indexed read (the primary key) per ``IN_CHUNK`` keys. Keys nothing was written for are
    left out; a key given twice is returned once.

    Args:
        conn: a connection.
        table: the ERP schema's ``tptPaytraceXref``.
        erp: the ERP's short name, for the documents.
        kind: the document kind.
        keys: business keys, e.g. receipt keys of a settlement batch (``receipt_key``).

    Returns:
        The documents found.
    """
    wanted = list(dict.fromkeys(keys))
    c = table.c
    found: dict[str, ErpDocument] = {}
    for chunk in chunked(wanted):
        for row in conn.execute(
            sa.select(table).where(c.DocKind == kind.value, c.SourceKey.in_(list(chunk)))
        ):
            found[str(row.SourceKey)] = to_document(row, erp)
    return [found[key] for key in wanted if key in found]


def documents_dated(
    conn: sa.Connection,
    table: sa.Table,
    erp: str,
    kind: DocumentKind,
    start: date,
    end: date,
    *,
    company_id: str,
) -> list[ErpDocument]:
    """The documents of a kind a company's connector wrote dated ``start`` to ``end`` inclusive.

    Args:
        conn: a connection.
        table: the ERP schema's ``tptPaytraceXref``.
        erp: the ERP's short name, for the documents.
        kind: the document kind.
        start: first document date.
        end: last document date (an end before the start finds nothing).
        company_id: the ``CompanyID`` the connector writes (Sage ``CompanyID``, SL ``CpnyID``).

    Returns:
        The documents by ``DocDate``, then business key.
    """
    c = table.c
    rows = conn.execute(
        sa.select(table)
        .where(
            c.DocKind == kind.value,
            c.DocDate >= start,
            c.DocDate <= end,
            c.CompanyID == company_id,
        )
        .order_by(c.DocDate, c.SourceKey)
    )
    return [to_document(row, erp) for row in rows]


def mark_posted(
    conn: sa.Connection, table: sa.Table, kind: DocumentKind, key: str, now: datetime
) -> None:
    """Record that a document's batch is posted."""
    c = table.c
    conn.execute(
        sa.update(table)
        .where(c.DocKind == kind.value, c.SourceKey == key)
        .values(Status=DocumentStatus.POSTED.value, UpdateDate=now)
    )


def to_document(row: sa.Row[Any], erp: str, *, created: bool = False) -> ErpDocument:
    """Turn a cross-reference row into the domain model (amount at 2 places).

    Args:
        row: a ``tptPaytraceXref`` row.
        erp: the ERP's short name.
        created: True when the caller just wrote it.

    Returns:
        The document.
    """
    amount = row.Amount if isinstance(row.Amount, Decimal) else Decimal(str(row.Amount))
    doc_date = row.DocDate
    if isinstance(doc_date, datetime):
        doc_date = doc_date.date()
    return ErpDocument(
        kind=DocumentKind(row.DocKind),
        key=str(row.SourceKey),
        erp=erp,
        erp_document=str(row.DocNo).strip(),
        batch=str(row.BatchID).strip(),
        amount=quantize(amount, 2),
        status=DocumentStatus(row.Status),
        customer_id=str(row.CustID or "").strip(),
        paytrace_transaction_id=int(row.PaytraceTranID) if row.PaytraceTranID is not None else None,
        document_date=doc_date,
        applied_to=tuple(a for a in str(row.AppliedTo or "").split(",") if a),
        created=created,
    )
