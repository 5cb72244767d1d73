"""Exactly-once writes: read back by business key, write in one transaction, survive races.

Every write of the connector goes through ``write_once``: inside a write transaction it reads
``tptPaytraceXref`` by (kind, business key) and returns what is there; otherwise the operation
writes its document together with its cross-reference row. A racing writer that committed the
same key first makes the insert of the xref row fail on its primary key: the transaction rolls
back and the winner's row is read back (``created`` False).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from connectors.erp.errors import ErpBusinessError
from connectors.erp.guard import erp_guard
from connectors.erp.locks import write_transaction
from connectors.erp.sage500.schema import tptPaytraceXref
from connectors.erp.sage500.settings import ERP_LABEL
from connectors.erp.xref import read_xref
from domain.erp_documents import DocumentKind

# Writes the document and its xref row; returns False when it found a racer's row instead.
_SOURCE_KEY = tptPaytraceXref.c.SourceKey.type
KEY_WIDTH = _SOURCE_KEY.length if isinstance(_SOURCE_KEY, sa.String) and _SOURCE_KEY.length else 40
Writer = Callable[[sa.Connection], bool]


def write_once(
    engine: sa.Engine, kind: DocumentKind, key: str, operation: str, write: Writer
) -> tuple[sa.Row[Any], bool]:
    """Run a document write exactly once for its business key.

    Args:
        engine: the Sage database.
        kind: the document kind.
        key: its business key.
        operation: the connector operation, for messages.
        write: writes the document and its xref row inside the given transaction.

    Returns:
        The document's xref row and whether this call wrote it.

    Raises:
        ErpBusinessError: the key is blank or longer than ``SourceKey`` (40), or a constraint
            refused the write and no racer's document exists.
        ErpUnavailableError: the database could not be reached or chose a deadlock victim.
    """
    if not key.strip() or len(key) > KEY_WIDTH:
        # Cut, two keys sharing their first 40 characters would be one document; stored whole,
        # PostgreSQL / SQL Server refuse the insert with a raw DataError.
        raise ErpBusinessError(
            f"{operation}: business key {key!r} must be 1 to {KEY_WIDTH} characters"
            f" ({kind.value} keys are kept in tptPaytraceXref.SourceKey)"
        )
    try:
        with erp_guard(ERP_LABEL, operation), write_transaction(engine) as conn:
            existing = read_xref(conn, tptPaytraceXref, kind, key)
            if existing is not None:
                return existing, False
            created = write(conn)
            written = read_xref(conn, tptPaytraceXref, kind, key)
            if written is None:  # pragma: no cover - the writer always inserts its xref row
                raise ErpBusinessError(f"{operation} for {key!r} wrote no cross-reference row")
            return written, created
    except sa.exc.IntegrityError as exc:
        with erp_guard(ERP_LABEL, operation), engine.connect() as conn:
            winner = read_xref(conn, tptPaytraceXref, kind, key)
        if winner is not None:
            return winner, False
        raise ErpBusinessError(
            f"{ERP_LABEL} refused {operation} for {key!r} by a database constraint: {exc.orig}"
        ) from exc


def read_document_row(engine: sa.Engine, kind: DocumentKind, key: str) -> sa.Row[Any] | None:
    """The xref row of a document, read in its own connection (guarded)."""
    with erp_guard(ERP_LABEL, f"find {kind.value}"), engine.connect() as conn:
        return read_xref(conn, tptPaytraceXref, kind, key)
