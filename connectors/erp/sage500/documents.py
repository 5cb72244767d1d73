"""Read-back of written documents and ``post_document`` for every kind (via ``post_flow``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from connectors.erp.guard import erp_guard
from connectors.erp.sage500.journals import post_journal_batch
from connectors.erp.sage500.lookups import ERP_NAME
from connectors.erp.sage500.once import read_document_row
from connectors.erp.sage500.post_flow import Finisher, Poster
from connectors.erp.sage500.post_flow import post_document as _post
from connectors.erp.sage500.posting import post_receipt_batch
from connectors.erp.sage500.posting_memo import post_memo_batch
from connectors.erp.sage500.sales_orders import finish_sales_order
from connectors.erp.sage500.schema import tptPaytraceXref
from connectors.erp.sage500.settings import ERP_LABEL, SageSettings
from connectors.erp.xref import rows_for_transaction, to_document
from domain.erp_documents import DocumentKind, ErpDocument

# The emulated poster of each document kind.
POSTERS: dict[DocumentKind, Poster] = {
    DocumentKind.RECEIPT: post_receipt_batch,
    DocumentKind.CREDIT_MEMO: post_memo_batch,
    DocumentKind.REVERSAL: post_receipt_batch,
    DocumentKind.REAPPLICATION: post_receipt_batch,
    DocumentKind.JOURNAL: post_journal_batch,
    DocumentKind.DEPOSIT: post_journal_batch,  # a deposit is a GL transfer (type-301 batch)
}


# What finishes each kind written without a batch.
FINISHERS: dict[DocumentKind, Finisher] = {
    DocumentKind.SALES_ORDER: finish_sales_order,
}


def find_document(engine: sa.Engine, kind: DocumentKind, key: str) -> ErpDocument | None:
    """The document of a kind written for a business key, or None."""
    row = read_document_row(engine, kind, key)
    return to_document(row, ERP_NAME) if row is not None else None


def documents_for_transaction(engine: sa.Engine, paytrace_transaction_id: int) -> list[ErpDocument]:
    """Every document written for a PayTrace transaction, oldest first."""
    with erp_guard(ERP_LABEL, "documents_for_transaction"), engine.connect() as conn:
        rows = rows_for_transaction(conn, tptPaytraceXref, paytrace_transaction_id)
    return [to_document(r, ERP_NAME) for r in rows]


def post_document(
    engine: sa.Engine, settings: SageSettings, kind: DocumentKind, key: str
) -> sa.Row[Any]:
    """Post a written document's batch with the configured strategy; its xref row after."""
    return _post(engine, settings, kind, key, POSTERS, FINISHERS)
