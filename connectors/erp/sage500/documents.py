"""Read-back of written documents and ``post_document`` for every kind (via ``post_flow``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
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
from connectors.erp.xref import documents_by_keys as xref_documents_by_keys
from connectors.erp.xref import documents_dated as xref_documents_dated
from connectors.erp.xref import rows_for_transaction, to_document
from domain.erp_documents import DocumentKind, ErpDocument
from domain.models import PaymentSource

# The emulated poster of each document kind.
POSTERS: dict[DocumentKind, Poster] = {
    DocumentKind.RECEIPT: post_receipt_batch,
    DocumentKind.CREDIT_MEMO: post_memo_batch,
    DocumentKind.REVERSAL: post_receipt_batch,
    DocumentKind.REAPPLICATION: post_receipt_batch,
    DocumentKind.JOURNAL: post_journal_batch,
    DocumentKind.DEPOSIT: post_journal_batch,  # a deposit is a GL transfer (type-301 batch)
    DocumentKind.WRITE_OFF: post_receipt_batch,  # a type-506 batch of one pending application
}


# What finishes each kind written without a batch.
FINISHERS: dict[DocumentKind, Finisher] = {
    DocumentKind.SALES_ORDER: finish_sales_order,
}


def find_document(engine: sa.Engine, kind: DocumentKind, key: str) -> ErpDocument | None:
    """The document of a kind written for a business key, or None."""
    row = read_document_row(engine, kind, key)
    return to_document(row, ERP_NAME) if row is not None else None


def documents_for_transaction(
    engine: sa.Engine,
    paytrace_transaction_id: int,
    source: PaymentSource = PaymentSource.CARD,
) -> list[ErpDocument]:
    """Every document written for a card or ACH payment, oldest first."""
    with erp_guard(ERP_LABEL, "documents_for_transaction"), engine.connect() as conn:
        rows = rows_for_transaction(conn, tptPaytraceXref, paytrace_transaction_id, source)
    return [to_document(r, ERP_NAME) for r in rows]


def documents_by_keys(
    engine: sa.Engine, kind: DocumentKind, keys: Sequence[str]
) -> list[ErpDocument]:
    """The documents of a kind written for any of the keys, in their order (chunked reads)."""
    with erp_guard(ERP_LABEL, "documents_by_keys"), engine.connect() as conn:
        return xref_documents_by_keys(conn, tptPaytraceXref, ERP_NAME, kind, keys)


def documents_dated(
    engine: sa.Engine, settings: SageSettings, kind: DocumentKind, start: date, end: date
) -> list[ErpDocument]:
    """The company's documents of a kind dated start to end inclusive, by date then key."""
    with erp_guard(ERP_LABEL, "documents_dated"), engine.connect() as conn:
        return xref_documents_dated(
            conn, tptPaytraceXref, ERP_NAME, kind, start, end, company_id=settings.company_id
        )


def post_document(
    engine: sa.Engine, settings: SageSettings, kind: DocumentKind, key: str
) -> sa.Row[Any]:
    """Post a written document's batch with the configured strategy; its xref row after."""
    return _post(engine, settings, kind, key, POSTERS, FINISHERS)
