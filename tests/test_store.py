"""The store on SQLite and PostgreSQL: idempotent writes, cursors, needs-attention items."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from connectors.store import AuditEvent, Store
from domain.models import ReceiptRecord, ReceiptStatus


def make_store(url):
    store = Store(sa.create_engine(url))
    store.create_schema()
    return store


def test_audit_events_are_written_once(store_url):
    store = make_store(store_url)
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    event = AuditEvent(
        event_key="payment-1/run/1",
        workflow_id="payment-1",
        event="received",
        detail={"a": 1},
        paytrace_transaction_id=1,
        at=at,
    )
    assert store.record_audit(event) is True
    assert store.record_audit(event) is False
    trail = store.audit_trail(transaction_id=1)
    assert [e.event for e in trail] == ["received"]
    assert trail[0].detail == {"a": 1}


def test_posting_copy_is_upserted(store_url):
    store = make_store(store_url)
    record = ReceiptRecord(
        paytrace_transaction_id=7,
        erp="sage500",
        customer_id="C0001",
        erp_document="CR-1",
        batch="B1",
        amount=Decimal("125.00"),
        status=ReceiptStatus.PENDING,
    )
    store.record_posting(record, workflow_id="payment-7")
    store.record_posting(
        record.model_copy(update={"status": ReceiptStatus.POSTED}), workflow_id="payment-7"
    )
    row = store.posting(7)
    assert row["status"] == "posted" and row["amount"] == Decimal("125.00")
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from tp_posting")).scalar() == 1


def test_sweep_cursor_only_moves_forward(store_url):
    store = make_store(store_url)
    assert store.sweep_cursor("s") is None
    t1 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    store.save_sweep_cursor("s", t1)
    store.save_sweep_cursor("s", t1 - timedelta(minutes=5))
    assert store.sweep_cursor("s") == t1
    store.save_sweep_cursor("s", t1 + timedelta(minutes=1))
    assert store.sweep_cursor("s") == t1 + timedelta(minutes=1)


def test_dead_letters_open_once_and_resolve(store_url):
    store = make_store(store_url)
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    args = dict(
        workflow_id="payment-9",
        run_id="r1",
        transaction_id=9,
        reason_kind="match_invoice_number",
        reason="invoice '9999' was not found",
        detail={},
        at=at,
    )
    first = store.open_dead_letter(**args)
    assert store.open_dead_letter(**args) == first
    assert [d.reason for d in store.dead_letters()] == ["invoice '9999' was not found"]
    store.resolve_dead_letter(first, "apply_to by ops", at + timedelta(minutes=3))
    assert store.dead_letters() == []
    closed = store.dead_letters(open_only=False)
    assert closed[0].resolution == "apply_to by ops"
