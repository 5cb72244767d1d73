"""The store's records for posting (SQLite and PostgreSQL): decisions, alerts, needs-attention
items with escalations, ERP-requested refunds, settlement reports."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from activities.store import decision_from_audit
from connectors.store import AuditEvent, Store
from domain.erp_documents import DocumentKind, DocumentStatus, ErpDocument
from domain.models import PaymentSource
from domain.store_io import (
    AlertKind,
    AlertRequest,
    CardRefundIntent,
    CardRefundStatus,
    RefundLookup,
    SettlementLine,
    SettlementLineStatus,
    SettlementReport,
)

AT = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)


@pytest.fixture
def store(store_url):
    s = Store(sa.create_engine(store_url))
    s.create_schema()
    yield s
    s.engine.dispose()


def test_a_matched_audit_event_is_a_decision_with_rule_and_reason(store):
    event = AuditEvent(
        event_key="payment-1/r/2",
        workflow_id="payment-1",
        event="matched",
        paytrace_transaction_id=1,
        at=AT,
        detail={
            "outcome": "apply",
            "rule": "oldest_first",
            "reason": "allocated oldest due first across 1001, 1002",
            "applications": [
                {"invoice_number": "1001", "amount": "125.00", "write_off": "0.00"},
                {"invoice_number": "1002", "amount": "80.00", "write_off": "0.00"},
            ],
            "on_account": "0.00",
            "written_off": "0.00",
            "amount": "205.00",
            "customer_id": "C0001",
            "method": "ach",
        },
    )
    decision = decision_from_audit(event)
    assert decision is not None and decision.applied == Decimal("205.00")
    assert store.record_decision(decision) and not store.record_decision(decision)
    (stored,) = store.decisions(transaction_id=1)
    assert (stored.rule, stored.source, stored.customer_id) == (
        "oldest_first",
        PaymentSource.ACH,
        "C0001",
    )
    assert [a.invoice_number for a in stored.applications] == ["1001", "1002"]
    assert decision_from_audit(event.model_copy(update={"event": "received"})) is None


def test_alerts_are_raised_once_and_kept_until_delivered(store):
    alert = AlertRequest(
        alert_key="attention/1",
        kind=AlertKind.NEEDS_ATTENTION,
        subject="needs attention: payment PT 1",
        message="waits",
        at=AT,
    )
    assert store.raise_alert(alert) and not store.raise_alert(alert)
    (pending,) = store.alerts(undelivered_only=True)
    store.mark_alert_delivered(pending.id, AT + timedelta(minutes=1))
    assert store.alerts(undelivered_only=True) == []
    assert store.alerts(kind=AlertKind.NEEDS_ATTENTION)[0].delivered_at == AT + timedelta(minutes=1)


def test_attention_items_carry_type_subject_and_escalations(store):
    dl = store.open_dead_letter(
        workflow_id="refund-9",
        run_id="r",
        transaction_id=9,
        reason_kind="refund_customer",
        reason="who?",
        detail={},
        at=AT,
    )
    store.describe_attention(dl, workflow_type="RefundToCreditMemo", subject="refund PT 9")
    store.describe_attention(dl, workflow_type="RefundToCreditMemo", subject="refund PT 9")
    assert store.record_escalation(dl, 1, AT + timedelta(hours=4))
    assert not store.record_escalation(dl, 1, AT + timedelta(hours=5))  # once per level
    assert store.record_escalation(dl, 2, AT + timedelta(hours=28))
    (item,) = store.attention_items()
    assert (item["workflow_type"], item["subject"], item["escalations"]) == (
        "RefundToCreditMemo",
        "refund PT 9",
        2,
    )
    store.resolve_dead_letter(dl, "mark_handled by ops: called", AT + timedelta(days=2))
    assert store.attention_items() == []


def intent(memo, amount="25.00", status=CardRefundStatus.REQUESTED, refund=None):
    return CardRefundIntent(
        memo_key=memo,
        workflow_id=f"memo-refund-{memo}",
        original_transaction_id=1000123,
        invoice_id="1001",
        masked_card="xxxxxxxxxxxx5439",
        customer_id="C0001",
        amount=Decimal(amount),
        status=status,
        refund_transaction_id=refund,
        requested_at=AT,
    )


def test_a_memo_is_refunded_once_and_its_refund_is_recognised(store):
    first = store.request_card_refund(intent("CM-1"))
    again = store.request_card_refund(intent("CM-1", amount="99.00"))
    assert again == first  # the earlier intent wins
    like = RefundLookup(
        refund_transaction_id=2000001,
        invoice_id="1001",
        masked_card="xxxxxxxxxxxx5439",
        amount=Decimal("25.00"),
    )
    assert [i.memo_key for i in store.card_refunds_like(like)] == ["CM-1"]  # still in flight
    done = store.finish_card_refund("CM-1", CardRefundStatus.REFUNDED, 2000001)
    assert done.refund_transaction_id == 2000001 and done.status is CardRefundStatus.REFUNDED
    assert [i.memo_key for i in store.card_refunds_like(like)] == ["CM-1"]  # by its id now
    other = like.model_copy(update={"refund_transaction_id": 2000002})
    assert store.card_refunds_like(other) == []  # another refund of the same amount is not it
    assert [i.memo_key for i in store.card_refunds_of_refund(2000001)] == ["CM-1"]
    store.request_card_refund(intent("CM-2", amount="10.00"))
    assert [i.memo_key for i in store.card_refunds_of(1000123)] == ["CM-1", "CM-2"]
    with pytest.raises(KeyError):
        store.finish_card_refund("CM-404", CardRefundStatus.VOIDED, None)


def test_a_settlement_report_is_replaced_on_rerun(store):
    lines = tuple(
        SettlementLine(
            transaction_id=n,
            transaction_type="SALE",
            paytrace_amount=Decimal("1.00"),
            status=SettlementLineStatus.MATCHED,
        )
        for n in range(1, 2501)
    )
    report = SettlementReport(
        batch_number=77,
        settled_at=AT,
        deposit_date=date(2026, 12, 1),
        transaction_count=2500,
        status="reconciled",
        lines=lines,
    )
    store.save_settlement_report(report)
    missing = report.model_copy(
        update={
            "status": "discrepancies",
            "notes": ("summary differs",),
            "lines": (lines[0].model_copy(update={"status": SettlementLineStatus.MISSING_IN_ERP}),),
        }
    )
    store.save_settlement_report(missing)
    stored = store.settlement_report(77)
    assert stored is not None and len(stored.lines) == 1 and stored.notes == ("summary differs",)
    assert stored.discrepancies[0].status is SettlementLineStatus.MISSING_IN_ERP
    store.mark_settlement_deposited(77, "GL-1", "GL-2", "discrepancies")
    (header,) = store.settlement_reports()
    assert (header.deposit_document, header.fee_document, header.lines) == ("GL-1", "GL-2", ())
    assert store.settlement_report(78) is None


def test_any_document_is_copied_into_the_postings(store):
    memo = ErpDocument(
        kind=DocumentKind.CREDIT_MEMO,
        key="2000001",
        erp="dynamics_sl",
        erp_document="000123",
        batch="000045",
        amount=Decimal("25.00"),
        status=DocumentStatus.PENDING,
        customer_id="C0001",
    )
    store.record_document(
        memo, workflow_id="refund-2000001", kind="credit_memo", transaction_id=2000001
    )
    store.record_document(
        memo.model_copy(update={"status": DocumentStatus.POSTED}),
        workflow_id="refund-2000001",
        kind="credit_memo",
        transaction_id=2000001,
    )
    row = store.posting(2000001, kind="credit_memo")
    assert row is not None and row["status"] == "posted" and row["erp_document"] == "000123"
    assert [p["kind"] for p in store.postings_of([2000001, 5])] == ["credit_memo"]
