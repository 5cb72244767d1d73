"""Inserting one unreleased AR batch: what every AR write (payment, memo, reversal) ends with."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from connectors.erp.dynamics_sl.ar_schema import ARDoc, ARTran, with_record_ids
from connectors.erp.dynamics_sl.base import Batch, tptPaytraceXref


def insert_ar_batch(
    conn: sa.Connection,
    batch: dict[str, Any],
    docs: list[dict[str, Any]],
    trans: list[dict[str, Any]],
    xref: dict[str, Any],
) -> None:
    """Insert a ``Batch``, its ``ARDoc`` and ``ARTran`` rows, and the cross-reference row last.

    Args:
        conn: a connection inside the writer's transaction.
        batch: the ``Batch`` row.
        docs: its documents.
        trans: its lines (``RecordID`` assigned here on databases without identities).
        xref: tracepost's ``tptPaytraceXref`` row.
    """
    conn.execute(sa.insert(Batch), [batch])
    conn.execute(sa.insert(ARDoc), docs)
    if trans:
        conn.execute(sa.insert(ARTran), with_record_ids(conn, ARTran, trans))
    conn.execute(sa.insert(tptPaytraceXref), [xref])
