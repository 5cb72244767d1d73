"""``post_document``: finish a written document's batch with the configured strategy.

One transaction: lock the document's xref row and its ``tciBatchLog`` row; a batch already at
Status 6 is never posted twice. ``manual`` leaves the balanced batch for a Sage user and reports
it posted once they have; ``emulated`` does what Sage's posting does for the stand-in (one poster
per document kind); ``procedures`` (SQL Server) commits, runs Sage's own posting procedures on a
connection of their own (they manage their own transactions), then checks the batch in a new
transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from connectors.erp.errors import DocumentNotFoundError, ErpBusinessError
from connectors.erp.guard import erp_guard
from connectors.erp.locks import lock_rows, write_transaction
from connectors.erp.procedures import Runner, execute_call, require_mssql, run_autocommit
from connectors.erp.protocol import PostingStrategy
from connectors.erp.sage500 import codes
from connectors.erp.sage500.procedure_calls import ar_posting_calls
from connectors.erp.sage500.schema import tciBatchLog, tptPaytraceXref
from connectors.erp.sage500.settings import ERP_LABEL, SageSettings
from connectors.erp.xref import mark_posted, read_xref
from domain.erp_documents import DocumentKind

# Posts one pending batch in the caller's transaction: (conn, xref row, settings).
Poster = Callable[[sa.Connection, sa.Row[Any], SageSettings], None]
# Finishes a document without a batch (sales order); True when it is complete.
Finisher = Callable[[sa.Connection, sa.Row[Any], SageSettings], bool]


def post_document(
    engine: sa.Engine,
    settings: SageSettings,
    kind: DocumentKind,
    key: str,
    posters: Mapping[DocumentKind, Poster],
    finishers: Mapping[DocumentKind, Finisher],
    runner: Runner = execute_call,
) -> sa.Row[Any]:
    """Post a written document's batch; idempotent.

    Args:
        engine: the Sage database.
        settings: the connector settings (strategy, user, clock).
        kind: the document kind.
        key: its business key.
        posters: the emulated poster of each batched kind.
        finishers: what finishes each kind written without a batch.
        runner: executes one stored procedure call (``procedures``; tests pass a recorder).

    Returns:
        The document's xref row after posting (or still pending under ``manual``).

    Raises:
        DocumentNotFoundError: nothing was written for the key.
        ErpBusinessError: the batch was deleted in Sage, or ``procedures`` on another database.
        ErpUnavailableError: the database could not be reached (retryable).
    """
    row, batch = _post_step(engine, settings, kind, key, posters, finishers, procedures=True)
    if batch is None:
        return row
    batch_key, batch_type = batch
    calls = ar_posting_calls(
        batch_key=batch_key, batch_type=batch_type, company_id=settings.company_id
    )
    with erp_guard(ERP_LABEL, f"post {kind.value}"):
        run_autocommit(engine, calls, erp_label=ERP_LABEL, runner=runner)
    row, _ = _post_step(engine, settings, kind, key, posters, finishers, procedures=False)
    if row.Status != "posted":
        raise ErpBusinessError(
            f"Sage 500's posting procedures ran for batch {row.BatchID} but left it unposted;"
            f" see tciErrorLog for BatchKey {row.BatchKey}, fix the batch in Sage, then retry"
        )
    return row


def _post_step(
    engine: sa.Engine,
    settings: SageSettings,
    kind: DocumentKind,
    key: str,
    posters: Mapping[DocumentKind, Poster],
    finishers: Mapping[DocumentKind, Finisher],
    *,
    procedures: bool,
) -> tuple[sa.Row[Any], tuple[int, int] | None]:
    """One posting transaction: record a posted batch, emulate, or say what Sage must post.

    Returns:
        The xref row as it stands, and ``(BatchKey, BatchType)`` when Sage's procedures must run.
    """
    xref = tptPaytraceXref.c
    with erp_guard(ERP_LABEL, f"post {kind.value}"), write_transaction(engine) as conn:
        row = conn.execute(
            lock_rows(
                sa.select(tptPaytraceXref).where(xref.DocKind == kind.value, xref.SourceKey == key),
                tptPaytraceXref,
            )
        ).first()
        if row is None:
            raise DocumentNotFoundError(f"no {kind.value} was written for {key}")
        if row.BatchKey is None:
            finisher = finishers.get(kind)
            if finisher is None:
                raise ErpBusinessError(f"posting of {kind.value} is not supported yet")
            if not finisher(conn, row, settings):
                return row, None
        else:
            batch = conn.execute(
                lock_rows(
                    sa.select(tciBatchLog.c.Status, tciBatchLog.c.BatchType).where(
                        tciBatchLog.c.BatchKey == row.BatchKey
                    ),
                    tciBatchLog,
                )
            ).first()
            if batch is None:
                raise ErpBusinessError(
                    f"batch {row.BatchID} of {kind.value} {key} no longer exists in Sage 500"
                    " (deleted before posting?)"
                )
            if int(batch.Status) != codes.BATCH_STATUS_POSTED:
                if settings.strategy is PostingStrategy.MANUAL or (
                    settings.strategy is PostingStrategy.PROCEDURES and not procedures
                ):
                    return row, None
                if settings.strategy is PostingStrategy.PROCEDURES:
                    require_mssql(conn, ERP_LABEL)
                    return row, (int(row.BatchKey), int(batch.BatchType))
                poster = posters.get(kind)
                if poster is None:
                    raise ErpBusinessError(f"emulated posting of {kind.value} is not supported yet")
                poster(conn, row, settings)
        if row.Status != "posted":
            mark_posted(conn, tptPaytraceXref, kind, key, settings.clock())
        posted = read_xref(conn, tptPaytraceXref, kind, key)
        assert posted is not None
        return posted, None
