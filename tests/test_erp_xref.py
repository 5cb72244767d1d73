"""tracepost's cross-reference row: what it keeps, and how it reads back."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.xref import (
    APPLIED_TO_WIDTH,
    chunked,
    fit_applied_to,
    of_source,
    row_source,
    rows_for_transaction,
    to_document,
    xref_row,
    xref_table,
)
from domain.erp_documents import DocumentKind, DocumentStatus
from domain.models import PaymentSource


def test_applied_to_keeps_the_numbers_that_fit_in_order() -> None:
    numbers = [f"{n:010d}" for n in range(1, 41)]  # 40 ten-digit invoices: 439 characters
    kept = fit_applied_to(numbers)
    assert kept == tuple(numbers[:23])
    assert len(",".join(kept)) <= APPLIED_TO_WIDTH < len(",".join(numbers[:24]))
    assert fit_applied_to([]) == ()


def test_a_payment_of_many_invoices_reads_back() -> None:
    numbers = tuple(f"{n:010d}" for n in range(1, 41))
    row = xref_row(
        kind=DocumentKind.RECEIPT,
        key="1000123",
        company_id="SOA",
        doc_no="0000000001-PA",
        batch_id="ARCR-0000001",
        amount=Decimal("1234.5"),
        now=datetime(2025, 6, 2, 14, 30),
        paytrace_transaction_id=1000123,
        customer_id="C0001",
        doc_date=date(2025, 6, 2),
        applied_to=numbers,
    )
    engine = sa.create_engine("sqlite://")
    table = xref_table(sa.MetaData())
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(table), [row])
        stored = conn.execute(sa.select(table)).one()
    doc = to_document(stored, "sage500", created=True)
    assert doc.applied_to == numbers[:23]
    assert (doc.amount, doc.status, doc.created) == (
        Decimal("1234.50"),
        DocumentStatus.PENDING,
        True,
    )
    assert (doc.paytrace_transaction_id, doc.document_date) == (1000123, date(2025, 6, 2))


def test_payment_source_is_recorded_and_null_reads_as_card() -> None:
    def row(kind: DocumentKind, key: str, source: PaymentSource | None) -> dict[str, Any]:
        return xref_row(
            kind=kind,
            key=key,
            company_id="SOA",
            doc_no="D",
            batch_id="B",
            amount=Decimal("1"),
            now=datetime(2025, 6, 2),
            paytrace_transaction_id=5000001,
            source=source,
        )

    engine = sa.create_engine("sqlite://")
    table = xref_table(sa.MetaData())
    table.metadata.create_all(engine)
    rows = [
        row(DocumentKind.RECEIPT, "5000001", PaymentSource.CARD),
        row(DocumentKind.RECEIPT, "ach-5000001", PaymentSource.ACH),
        row(DocumentKind.JOURNAL, "fees:5000001", None),
    ]
    assert [r["PaymentSource"] for r in rows] == ["card", "ach", None]
    with engine.begin() as conn:
        conn.execute(sa.insert(table), rows)
        card = rows_for_transaction(conn, table, 5000001)
        ach = rows_for_transaction(conn, table, 5000001, PaymentSource.ACH)
        nulls = conn.execute(
            sa.select(table.c.SourceKey).where(of_source(table, PaymentSource.CARD))
        )
        assert sorted(nulls.scalars()) == ["5000001", "fees:5000001"]
    assert [r.SourceKey for r in card] == ["fees:5000001", "5000001"]  # CreateDate, DocKind
    assert [r.SourceKey for r in ach] == ["ach-5000001"]
    assert [row_source(r) for r in card + ach] == [
        PaymentSource.CARD,
        PaymentSource.CARD,
        PaymentSource.ACH,
    ]
    assert [list(c) for c in chunked([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]
    assert list(chunked([], 500)) == []
