"""The store's event log, postings search and dashboard figures, on SQLite and PostgreSQL."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from connectors.store import Store
from connectors.store.ops_queries import PostingQuery
from domain.events import EventReceipt
from domain.models import Application, ReceiptRecord, ReceiptStatus
from domain.store_io import AlertKind, AlertRequest, DecisionRecord


def make_store(url):
    store = Store(sa.create_engine(url))
    store.create_schema()
    return store


def receipt(store, txn, customer, amount, at, invoices=()):
    store.record_posting(
        ReceiptRecord(
            paytrace_transaction_id=txn,
            erp="sage500",
            customer_id=customer,
            erp_document=f"CR-{txn}",
            batch="B1",
            amount=Decimal(amount),
            status=ReceiptStatus.POSTED,
        ),
        workflow_id=f"payment-{txn}",
    )
    with store.engine.begin() as conn:
        conn.execute(
            sa.text("update tp_posting set created_at = :at where paytrace_transaction_id = :t"),
            {"at": at, "t": txn},
        )
    store.record_decision(
        DecisionRecord(
            decision_key=f"payment-{txn}/r/1",
            workflow_id=f"payment-{txn}",
            paytrace_transaction_id=txn,
            outcome="apply" if invoices else "needs_attention",
            rule="invoice_number" if invoices else "ambiguous",
            reason="test",
            customer_id=customer,
            amount=Decimal(amount),
            applications=tuple(
                Application(invoice_number=i, amount=Decimal(amount)) for i in invoices
            ),
            at=at,
        )
    )


def test_event_log_keeps_receipts_newest_first(store_url):
    store = make_store(store_url)
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    for n, outcome in enumerate(["started", "joined", "rejected"]):
        store.log_event(
            EventReceipt(
                received_at=at + timedelta(seconds=n),
                channel="events",
                event_id="evt-1" if n < 2 else "",
                event_type="payment.completed",
                outcome=outcome,
                status_code=202 if n < 2 else 401,
                workflow_id="payment-5" if n < 2 else "",
                reason="" if n < 2 else "signature does not match",
                body_sha256="ab" * 32,
                data={"transaction_id": 5} if n < 2 else None,
                remote_addr="127.0.0.1",
            )
        )
    logged = store.events()
    assert [e.outcome for e in logged] == ["rejected", "joined", "started"]
    assert logged[0].data is None and logged[2].data == {"transaction_id": 5}
    assert [e.outcome for e in store.events(event_id="evt-1")] == ["joined", "started"]
    assert len(store.events(workflow_id="payment-5")) == 2
    assert len(store.events(since=at + timedelta(seconds=2))) == 1


def test_postings_search_by_customer_invoice_transaction_and_day(store_url):
    store = make_store(store_url)
    day = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    receipt(store, 11, "C0001", "100.00", day, invoices=("INV-1001",))
    receipt(store, 12, "C0002", "50.00", day + timedelta(days=1), invoices=("1002", "1003"))
    receipt(store, 13, "C0001", "75.00", day + timedelta(days=2))
    ids = lambda q: [r["paytrace_transaction_id"] for r in store.search_postings(q)]  # noqa: E731
    assert ids(PostingQuery()) == [13, 12, 11]
    assert ids(PostingQuery(customer_id="c0001")) == [13, 11]
    assert ids(PostingQuery(invoice="1003")) == [12]
    assert ids(PostingQuery(invoice="100")) == []  # an invoice number matches whole, not a prefix
    assert ids(PostingQuery(invoice="INV_1001")) == []  # "_" is not a wildcard
    assert ids(PostingQuery(transaction_id=11)) == [11]
    assert ids(PostingQuery(day_from=date(2026, 12, 1))) == [13, 12]
    assert ids(PostingQuery(day_to=date(2026, 12, 1))) == [12, 11]
    row = store.search_postings(PostingQuery(transaction_id=12))[0]
    assert row["invoices"] == ["1002", "1003"] and row["amount"] == Decimal("50.00")


def test_dashboard_counts_today_week_rate_and_waiting(store_url):
    store = make_store(store_url)
    now = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
    receipt(store, 21, "C1", "10.00", now - timedelta(hours=2), invoices=("1",))
    receipt(store, 22, "C1", "20.50", now - timedelta(days=3), invoices=("2",))
    receipt(store, 23, "C1", "5.00", now - timedelta(days=4))
    receipt(store, 24, "C1", "7.00", now - timedelta(days=20), invoices=("4",))
    opened = now - timedelta(hours=5)
    store.open_dead_letter(
        workflow_id="payment-23",
        run_id="r",
        transaction_id=23,
        reason_kind="ambiguous",
        reason="two invoices",
        detail={},
        at=opened,
    )
    store.raise_alert(
        AlertRequest(
            alert_key="a1", kind=AlertKind.NEEDS_ATTENTION, subject="s", message="m", at=now
        )
    )
    f = store.dashboard(now)
    assert (f.postings_today, f.amount_today) == (1, Decimal("10.00"))
    assert (f.postings_week, f.amount_week) == (3, Decimal("35.50"))
    assert (f.auto_applied_week, f.decisions_week) == (2, 3)
    assert f.auto_applied_rate == 2 / 3
    assert f.attention_open == 1 and f.attention_oldest == opened
    assert f.undelivered_alerts == 1 and f.last_settlement is None
    assert f.alerts_week == {"needs_attention": 1}
    assert len(f.days) == 14 and f.days[-1].count == 1 and f.days[-4].amount == Decimal("20.50")
    assert sum(d.count for d in f.days) == 3  # the 20-day-old one is outside the series


def test_an_operators_resolution_counts_as_the_invoices_a_posting_paid(store_url):
    from connectors.store import AuditEvent

    store = make_store(store_url)
    at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    receipt(store, 31, "C0003", "60.00", at)  # matching parked it: no invoices of its own
    store.record_audit(
        AuditEvent(
            event_key="payment-31/r/9",
            workflow_id="payment-31",
            event="resolved",
            detail={
                "action": "apply_to",
                "invoices": [{"invoice_number": "2001", "amount": "60.00"}],
                "customer_id": "2001-not-an-invoice",
            },
            paytrace_transaction_id=31,
            at=at,
        )
    )
    assert [
        r["paytrace_transaction_id"] for r in store.search_postings(PostingQuery(invoice="2001"))
    ] == [31]
    assert store.search_postings(PostingQuery(invoice="2001-not-an-invoice")) == []
    assert store.search_postings(PostingQuery(transaction_id=31))[0]["invoices"] == ["2001"]
