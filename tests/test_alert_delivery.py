"""Alert delivery: the store's per-channel state (SQLite and PostgreSQL), the delivery activity
against a real SMTP server and a real webhook receiver, and the AlertDelivery workflow on the
Temporal dev server."""

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from temporalio.client import ScheduleOverlapPolicy
from temporalio.testing import ActivityEnvironment

from activities.alerts import AlertDeliveryActivities
from connectors.notify import SmtpSender, WebhookSender
from connectors.store import Store
from domain.alert_io import AlertChannel, AlertDeliveryInput, AlertDeliveryReport, DeliveryStatus
from domain.store_io import AlertKind, AlertRequest
from tests.alert_receivers import free_port, http_receiver, smtp_receiver
from tests.stack import running_stack
from workers.composition import Components
from workers.failure_alerts import RepeatedFailureAlerts
from workers.schedules import ALERTS_SCHEDULE_ID, schedules
from workers.settings import Settings
from workers.worker import build_workers
from workflows.registry import AlertDelivery

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CARD = "4012000098765439"
FINANCE = "finance@acme.example"
CUSTOMER = "ap@customer.example"
FINANCE_KINDS = [k for k in AlertKind if k is not AlertKind.CUSTOMER_NOTICE]
EMAIL, WEBHOOK, NONE = AlertChannel.EMAIL, AlertChannel.WEBHOOK, AlertChannel.NONE


class Clock:
    def __init__(self) -> None:
        self.now = AT

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def store(store_url):
    store = Store(sa.create_engine(store_url))
    store.create_schema()
    yield store
    store.engine.dispose()


def raise_alert(store, kind=AlertKind.NOTICE, key="", **values) -> int:
    key = key or f"{kind.value}/{uuid.uuid4().hex[:8]}"
    values = {"subject": f"{kind.value} subject", "message": f"{kind.value} message", **values}
    if kind is AlertKind.CUSTOMER_NOTICE:
        values.setdefault("detail", {"to": CUSTOMER})
    assert store.raise_alert(
        AlertRequest(alert_key=key, kind=kind, workflow_id="payment-1", at=AT, **values)
    )
    return int(next(a.id for a in store.alerts() if a.alert_key == key))


def rows(store, alert_id):
    return {d.channel: d for d in store.alert_deliveries(alert_id=alert_id)}


def delivery(store, clock, *, smtp=None, hook=None, finance=(FINANCE,)):
    email = (
        SmtpSender("127.0.0.1", smtp, sender="tracepost@acme.example", timeout=5) if smtp else None
    )
    webhook = WebhookSender(hook, timeout=5) if hook else None
    return AlertDeliveryActivities(
        store, email=email, email_to=finance, webhook=webhook, clock=clock
    )


async def run(acts, limit=50) -> AlertDeliveryReport:
    return await ActivityEnvironment().run(acts.deliver_alerts, AlertDeliveryInput(limit=limit))


# -- the store ----------------------------------------------------------------------------


def test_deliveries_are_planned_once_claimed_once_and_settle_the_alert(store):
    first, second = raise_alert(store), raise_alert(store)
    assert [a.id for a in store.unplanned_alerts()] == [first, second]
    assert store.plan_alert_deliveries(first, [EMAIL, WEBHOOK], AT)
    assert not store.plan_alert_deliveries(first, [EMAIL], AT)
    assert [a.id for a in store.unplanned_alerts()] == [second]
    due = store.due_alert_deliveries(AT)
    assert [(d.alert.id, d.delivery.channel) for d in due] == [(first, EMAIL), (first, WEBHOOK)]
    assert due[0].alert.subject == "notice subject" and due[0].delivery.attempts == 0
    assert store.due_alert_deliveries(AT - timedelta(seconds=1)) == []

    assert store.claim_alert_delivery(first, EMAIL, AT, AT + timedelta(minutes=5))
    assert not store.claim_alert_delivery(first, EMAIL, AT, AT + timedelta(minutes=5))
    assert [d.delivery.channel for d in store.due_alert_deliveries(AT)] == [WEBHOOK]
    assert not store.record_alert_delivered(first, EMAIL, AT)
    assert store.record_alert_failure(first, WEBHOOK, AT, "503", AT + timedelta(minutes=1)) == 1
    assert store.due_alert_deliveries(AT) == []
    assert [d.delivery.channel for d in store.due_alert_deliveries(AT + timedelta(minutes=1))] == [
        WEBHOOK
    ]
    assert first in {a.id for a in store.alerts(undelivered_only=True)}

    later = AT + timedelta(minutes=1)
    assert store.record_alert_delivered(first, WEBHOOK, later)
    assert store.record_alert_delivered(first, WEBHOOK, later + timedelta(hours=1))  # no change
    settled = rows(store, first)
    assert {c: (d.status, d.attempts) for c, d in settled.items()} == {
        EMAIL: (DeliveryStatus.DELIVERED, 1),
        WEBHOOK: (DeliveryStatus.DELIVERED, 2),
    }
    assert settled[WEBHOOK].last_error == "503" and settled[WEBHOOK].delivered_at == later
    assert [a.id for a in store.alerts(undelivered_only=True)] == [second]
    assert next(a for a in store.alerts() if a.id == first).delivered_at == later


def test_permanent_failures_wait_for_an_operator_and_retry_resets_them(store):
    nowhere, refused = raise_alert(store), raise_alert(store)
    assert store.plan_alert_deliveries(nowhere, [], AT, {NONE: "no channel"})
    assert store.plan_alert_deliveries(refused, [EMAIL], AT)
    store.record_alert_failure(refused, EMAIL, AT, "550 mailbox unavailable", None)
    assert (
        store.unplanned_alerts() == [] and store.due_alert_deliveries(AT + timedelta(days=9)) == []
    )
    failed = store.alert_deliveries(status=DeliveryStatus.FAILED)
    assert [(d.alert_id, d.channel, d.last_error) for d in failed] == [
        (nowhere, NONE, "no channel"),
        (refused, EMAIL, "550 mailbox unavailable"),
    ]
    assert {a.id for a in store.alerts(undelivered_only=True)} == {nowhere, refused}

    later = AT + timedelta(hours=1)
    assert store.retry_alert_deliveries(later, alert_id=refused) == 1
    (again,) = store.due_alert_deliveries(later)
    assert (again.alert.id, again.delivery.status, again.delivery.attempts) == (
        refused,
        DeliveryStatus.PENDING,
        1,
    )
    assert store.retry_alert_deliveries(later) == 2  # the pending one, and `none` routed again
    assert [a.id for a in store.unplanned_alerts()] == [nowhere]
    with pytest.raises(ValueError, match="at least one channel"):
        store.plan_alert_deliveries(nowhere, [], AT)


def test_an_alert_marked_delivered_by_hand_is_not_sent_any_more(store):
    alert_id = raise_alert(store)
    store.plan_alert_deliveries(alert_id, [EMAIL, WEBHOOK], AT)
    store.mark_alert_delivered(alert_id, AT)
    assert store.alerts(undelivered_only=True) == [] and store.due_alert_deliveries(AT) == []
    assert store.retry_alert_deliveries(AT) == 0


# -- the delivery activity against real channels -----------------------------------------


async def test_each_kind_goes_to_its_channels_exactly_once(store):
    clock = Clock()
    ids = {kind: raise_alert(store, kind) for kind in AlertKind}
    with smtp_receiver() as smtp:
        async with http_receiver() as hook:
            acts = delivery(store, clock, smtp=smtp.port, hook=hook.url)
            report = await run(acts)
            assert await run(acts) == AlertDeliveryReport(channels=(EMAIL, WEBHOOK))
    assert report == AlertDeliveryReport(
        channels=(EMAIL, WEBHOOK), planned=len(AlertKind), delivered=2 * len(FINANCE_KINDS) + 1
    )
    finance_mail = smtp.to(FINANCE)
    assert sorted(m.message["X-Tracepost-Alert"] for m in finance_mail) == sorted(
        str(ids[k]) for k in FINANCE_KINDS
    )
    assert all(m.rcpt_tos == [FINANCE] for m in finance_mail)
    assert {m.message["Subject"] for m in finance_mail} == {
        f"[tracepost warning] {k.value} subject" for k in FINANCE_KINDS
    }
    (customer_mail,) = smtp.to(CUSTOMER)
    assert customer_mail.rcpt_tos == [CUSTOMER]
    assert customer_mail.message["Subject"] == "customer_notice subject"
    assert customer_mail.body == "customer_notice message\n"  # no internal detail for customers
    assert customer_mail.message["Message-ID"] == (
        f"<tracepost-alert-{ids[AlertKind.CUSTOMER_NOTICE]}@acme.example>"
    )
    assert sorted(p.json["kind"] for p in hook.posts) == sorted(k.value for k in FINANCE_KINDS)
    posted = next(p for p in hook.posts if p.json["kind"] == "repeated_failure")
    assert posted.json["alert_id"] == ids[AlertKind.REPEATED_FAILURE]
    assert posted.json["text"].startswith("[WARNING] repeated_failure subject\n")
    assert posted.headers["idempotency-key"] == f"tracepost-alert-{ids[AlertKind.REPEATED_FAILURE]}"
    assert store.alerts(undelivered_only=True) == []
    assert set(rows(store, ids[AlertKind.CUSTOMER_NOTICE])) == {EMAIL}


async def test_a_webhook_that_is_down_holds_up_nothing_and_backs_off(store):
    clock = Clock()
    alert_id = raise_alert(store, AlertKind.NEEDS_ATTENTION)
    with smtp_receiver() as smtp:
        async with http_receiver() as hook:
            acts = delivery(store, clock, smtp=smtp.port, hook=hook.url)
            hook.status, hook.answer = 503, "service unavailable"
            report = await run(acts)
            assert (report.delivered, report.retrying) == (1, 1)
            state = rows(store, alert_id)
            assert state[EMAIL].status is DeliveryStatus.DELIVERED
            webhook = state[WEBHOOK]
            assert (webhook.status, webhook.attempts) == (DeliveryStatus.PENDING, 1)
            assert webhook.next_attempt_at == AT + timedelta(minutes=1)
            assert "answered 503: service unavailable" in webhook.last_error
            assert [a.id for a in store.alerts(undelivered_only=True)] == [alert_id]

            clock.advance(seconds=30)  # not due yet
            assert (await run(acts)).retrying == 0 and len(hook.posts) == 1
            clock.advance(seconds=30)
            assert (await run(acts)).retrying == 1
            assert rows(store, alert_id)[WEBHOOK].next_attempt_at == clock.now + timedelta(
                minutes=2
            )
            hook.status = 200
            clock.advance(minutes=2)
            assert (await run(acts)).delivered == 1
            clock.advance(hours=2)
            assert await run(acts) == AlertDeliveryReport(channels=(EMAIL, WEBHOOK))
    assert len(hook.posts) == 3 and [p.json["alert_id"] for p in hook.posts] == [alert_id] * 3
    assert len(smtp.mails) == 1  # e-mail delivered once, never again
    webhook = rows(store, alert_id)[WEBHOOK]
    assert (webhook.status, webhook.attempts) == (DeliveryStatus.DELIVERED, 3)
    assert store.alerts(undelivered_only=True) == []


async def test_an_smtp_server_that_is_down_is_tried_again_once_it_is_back(store):
    clock = Clock()
    alert_id = raise_alert(store, AlertKind.SETTLEMENT_DISCREPANCY)
    async with http_receiver() as hook:
        closed = delivery(store, clock, smtp=free_port(), hook=hook.url)
        assert (await run(closed)).delivered == 1
        email = rows(store, alert_id)[EMAIL]
        assert (email.status, email.attempts) == (DeliveryStatus.PENDING, 1)
        assert "ConnectionRefusedError" in email.last_error
        assert email.next_attempt_at == AT + timedelta(minutes=1)
        with smtp_receiver() as smtp:
            back = delivery(store, clock, smtp=smtp.port, hook=hook.url)
            assert (await run(back)).delivered == 0  # waits for its next attempt
            clock.advance(minutes=1)
            assert (await run(back)).delivered == 1
            clock.advance(minutes=5)
            assert (await run(back)).delivered == 0
    assert len(smtp.mails) == 1 and len(hook.posts) == 1
    assert store.alerts(undelivered_only=True) == []


async def test_permanent_failures_are_recorded_logged_and_not_retried(store, caplog):
    clock = Clock()
    finance = raise_alert(store, AlertKind.ESCALATION)
    refused = raise_alert(store, AlertKind.CUSTOMER_NOTICE, detail={"to": "gone@customer.example"})
    invalid = raise_alert(store, AlertKind.CUSTOMER_NOTICE, detail={"to": "a@x.example; b@y"})
    caplog.set_level(logging.ERROR, logger="activities.alerts")
    with smtp_receiver() as smtp:
        smtp.refuse = {"gone@customer.example"}
        async with http_receiver() as hook:
            hook.status, hook.answer = 400, "invalid_payload"
            acts = delivery(store, clock, smtp=smtp.port, hook=hook.url)
            report = await run(acts)
            assert (report.delivered, report.failed, report.retrying) == (1, 3, 0)
            hook_row = rows(store, finance)[WEBHOOK]
            assert hook_row.status is DeliveryStatus.FAILED and hook_row.attempts == 1
            assert "answered 400: invalid_payload" in hook_row.last_error
            assert "secret-token" not in hook_row.last_error
            assert rows(store, finance)[EMAIL].status is DeliveryStatus.DELIVERED
            refused_row = rows(store, refused)[EMAIL]
            assert refused_row.status is DeliveryStatus.FAILED
            assert "refused every recipient: gone@customer.example: 550" in refused_row.last_error
            invalid_row = rows(store, invalid)[EMAIL]
            assert (invalid_row.status, invalid_row.attempts) == (DeliveryStatus.FAILED, 0)
            assert "not one e-mail address" in invalid_row.last_error
            errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
            assert any(f"alert {finance} " in e and "for good" in e for e in errors)
            assert any(f"alert {refused} " in e and "550" in e for e in errors)
            assert any(f"alert {invalid} " in e and "cannot be delivered" in e for e in errors)

            clock.advance(hours=6)
            hook.status = 200
            smtp.refuse = set()
            assert (await run(acts)).delivered == 0  # permanent: not retried by itself
            assert len(hook.posts) == 1 and smtp.to("gone@customer.example") == []

            assert store.retry_alert_deliveries(clock.now, alert_id=finance) == 1
            assert (await run(acts)).delivered == 1
    assert len(hook.posts) == 2 and len(smtp.to(FINANCE)) == 1
    assert {a.id for a in store.alerts(undelivered_only=True)} == {refused, invalid}


async def test_a_card_number_never_reaches_a_channel(store):
    clock = Clock()
    raise_alert(
        store,
        AlertKind.NEEDS_ATTENTION,
        subject=f"payment with card {CARD}",
        message="the memo said 4012-0000-9876-5439 and csc=123; token: abcdef",
        detail={"note": f"card {CARD}", "pan": int(CARD), "number": "5439"},
    )
    raise_alert(
        store,
        AlertKind.CUSTOMER_NOTICE,
        message=f"We could not charge {CARD}.",
        detail={"to": CUSTOMER},
    )
    with smtp_receiver() as smtp:
        async with http_receiver() as hook:
            assert (await run(delivery(store, clock, smtp=smtp.port, hook=hook.url))).delivered == 3
    sent = b" ".join([m.raw for m in smtp.mails] + [p.raw for p in hook.posts]).decode()
    for secret in (CARD, "4012-0000-9876-5439", "csc=123", "abcdef"):
        assert secret not in sent
    assert "xxxxxxxxxxxx5439" in sent
    (post,) = hook.posts
    assert post.json["detail"] == {
        "note": "card xxxxxxxxxxxx5439",
        "pan": "xxxxxxxxxxxx5439",
        "number": "[REDACTED]",
    }


async def test_a_rate_limited_webhook_waits_as_long_as_it_asks(store):
    clock = Clock()
    alert_id = raise_alert(store)
    async with http_receiver() as hook:
        hook.status, hook.retry_after = 429, "600"
        await run(delivery(store, clock, hook=hook.url))
    webhook = rows(store, alert_id)[WEBHOOK]
    assert webhook.status is DeliveryStatus.PENDING
    assert webhook.next_attempt_at == AT + timedelta(minutes=10)


async def test_recipients_refused_among_others_still_count_as_delivered(store):
    clock = Clock()
    alert_id = raise_alert(store)
    with smtp_receiver() as smtp:
        smtp.refuse = {"left@acme.example"}
        acts = delivery(store, clock, smtp=smtp.port, finance=(FINANCE, "left@acme.example"))
        assert (await run(acts)).delivered == 1
    email = rows(store, alert_id)[EMAIL]
    assert email.status is DeliveryStatus.DELIVERED
    assert "refused for: left@acme.example: 550" in email.last_error
    assert [m.rcpt_tos for m in smtp.mails] == [[FINANCE]]


async def test_without_channels_nothing_is_touched(store):
    raise_alert(store)
    assert await run(delivery(store, Clock(), finance=())) == AlertDeliveryReport()
    assert len(store.unplanned_alerts()) == 1


async def test_routing_follows_the_configuration_of_the_run(store):
    clock = Clock()
    finance = raise_alert(store)
    customer = raise_alert(store, AlertKind.CUSTOMER_NOTICE)
    async with http_receiver() as hook:
        report = await run(delivery(store, clock, hook=hook.url))
        assert (report.delivered, report.failed) == (1, 1)
        assert set(rows(store, finance)) == {WEBHOOK}
        nowhere = rows(store, customer)[NONE]
        assert nowhere.status is DeliveryStatus.FAILED and "e-mail only" in nowhere.last_error
        with smtp_receiver() as smtp:  # e-mail configured later: route the notice again
            store.retry_alert_deliveries(clock.now, alert_id=customer)
            assert (await run(delivery(store, clock, smtp=smtp.port, hook=hook.url))).delivered == 1
    assert [m.rcpt_tos for m in smtp.mails] == [[CUSTOMER]]


# -- the schedule and the workflow ---------------------------------------------------------


def test_the_alerts_schedule_exists_only_with_a_channel(tmp_path):
    assert ALERTS_SCHEDULE_ID not in schedules(Settings(var_dir=tmp_path))
    channels: list[dict[str, Any]] = [
        {"alert_smtp_host": "smtp.acme.example"},
        {"alert_webhook_url": "https://x"},
    ]
    for channel in channels:
        found = schedules(
            Settings(var_dir=tmp_path, alert_delivery_interval_seconds=45, **channel)
        )[ALERTS_SCHEDULE_ID]
        assert found.spec.intervals[0].every == timedelta(seconds=45)
        assert found.policy.overlap is ScheduleOverlapPolicy.SKIP
        assert found.action.workflow == "AlertDelivery"  # type: ignore[attr-defined]
        assert found.action.id == "alert-delivery"  # type: ignore[attr-defined]


def assert_workers_raise_repeated_failures(stack, threshold):
    queue = f"wiring-{uuid.uuid4().hex[:8]}"  # a queue of its own: the stack polls its queue
    components = Components(
        settings=stack.settings.model_copy(update={"task_queue": queue}),
        paytrace=stack.paytrace,
        erp_engine=stack.erp_engine,
        erp=stack.erp,
        store=stack.store,
    )
    with ThreadPoolExecutor(max_workers=1) as executor:
        workers = build_workers(stack.client, components, executor)
    for worker in workers:
        alerting = [
            i for i in worker.config()["interceptors"] if isinstance(i, RepeatedFailureAlerts)
        ]
        assert len(alerting) == 1 and alerting[0].threshold == threshold


async def test_the_workflow_delivers_the_outbox_through_the_real_worker(dev_env, tmp_path):
    with smtp_receiver() as smtp:
        async with http_receiver() as hook:
            async with running_stack(
                dev_env.client,
                tmp_path,
                f"sqlite:///{tmp_path}/erp.db",
                alert_smtp_host="127.0.0.1",
                alert_smtp_port=smtp.port,
                alert_email_to=[FINANCE],
                alert_email_from="tracepost@acme.example",
                alert_webhook_url=hook.url,
                alert_failure_attempts=4,
            ) as stack:
                assert_workers_raise_repeated_failures(stack, 4)
                finance = raise_alert(stack.store, AlertKind.SETTLEMENT_DISCREPANCY)
                customer = raise_alert(stack.store, AlertKind.CUSTOMER_NOTICE)
                report = await stack.client.execute_workflow(
                    AlertDelivery.run,
                    AlertDeliveryInput(),
                    id=f"alert-delivery-{uuid.uuid4().hex[:8]}",
                    task_queue=stack.settings.task_queue,
                )
                assert report == AlertDeliveryReport(
                    channels=(EMAIL, WEBHOOK), planned=2, delivered=3
                )
                assert stack.store.alerts(undelivered_only=True) == []
    assert [m.message["X-Tracepost-Alert"] for m in smtp.to(FINANCE)] == [str(finance)]
    assert [m.message["X-Tracepost-Alert"] for m in smtp.to(CUSTOMER)] == [str(customer)]
    assert [p.json["alert_id"] for p in hook.posts] == [finance]
