"""Signed JSON events: each type starts or joins its workflow; every bad request gets a 4xx."""

import json
import random
import time
from typing import Any

import pytest
import sqlalchemy as sa

from domain.events import sign
from tests.ops_helpers import asgi_client, sqlite_store
from workers.api import MAX_BODY_BYTES, TemporalGateway, create_api
from workers.settings import Settings

OLD, NEW = "old-secret-0123456789", "new-secret-9876543210"
CARD = "4111111111111111"  # Visa's published test number


def signed(body: bytes, secret: str = NEW, at: int | None = None) -> dict[str, str]:
    at = int(time.time()) if at is None else at
    return {
        "content-type": "application/json",
        "x-tracepost-timestamp": str(at),
        "x-tracepost-signature": sign(secret.encode(), at, body),
    }


def event(kind: str, data: Any, event_id: str | None = None) -> bytes:
    return json.dumps(
        {"id": event_id or f"evt-{random.randrange(10**9)}", "type": kind, "data": data}
    ).encode()


@pytest.fixture
def settings(tmp_path):
    return Settings(
        var_dir=tmp_path,
        codec="off",
        event_secrets=f"{NEW},{OLD}",
        task_queue=f"events-test-{random.randrange(10**9)}",
    )


@pytest.fixture
def store(tmp_path):
    return sqlite_store(tmp_path)


@pytest.fixture
async def api(dev_env, settings, store):
    app = create_api(settings, store, TemporalGateway(settings, dev_env.client))
    async with asgi_client(app) as client:
        yield client


async def post(api, body: bytes, headers=None):
    return await api.post("/webhooks/events", content=body, headers=headers or signed(body))


async def cleanup(dev_env, workflow_id):
    await dev_env.client.get_workflow_handle(workflow_id).terminate("test cleanup")


def txn() -> int:
    return random.randrange(10**9, 10**10)


async def test_payment_event_starts_once_and_a_duplicate_joins(api, dev_env, store):
    t = txn()
    body = event("payment.completed", {"transaction_id": t}, "evt-pay-1")
    first, again = await post(api, body), await post(api, body)
    assert first.status_code == again.status_code == 202
    assert first.json() == {"workflow_id": f"payment-{t}", "started": True, "outcome": "started"}
    assert again.json()["workflow_id"] == f"payment-{t}" and again.json()["started"] is False
    described = await dev_env.client.get_workflow_handle(f"payment-{t}").describe()
    assert described.workflow_type == "PaymentPosting"
    logged = store.events(event_id="evt-pay-1")
    assert [e.outcome for e in logged] == ["joined", "started"]
    assert logged[0].data == {"transaction_id": t, "method": "card"}
    await cleanup(dev_env, f"payment-{t}")


async def test_both_secrets_of_a_rotation_are_accepted(api, dev_env):
    for secret in (OLD, NEW):
        t = txn()
        body = event("refund.completed", {"transaction_id": t})
        resp = await post(api, body, signed(body, secret))
        assert resp.status_code == 202 and resp.json()["workflow_id"] == f"refund-{t}"
        await cleanup(dev_env, f"refund-{t}")
    t = txn()
    body = event("payment.completed", {"transaction_id": t, "method": "ach"})
    headers = signed(body, "retired-secret-0000000")
    headers["x-tracepost-signature"] += "," + signed(body, OLD)["x-tracepost-signature"]
    resp = await post(api, body, headers)  # a sender signing with old and new during its rotation
    assert resp.status_code == 202 and resp.json()["workflow_id"] == f"payment-ach-{t}"
    await cleanup(dev_env, f"payment-ach-{t}")


async def test_order_customer_and_chargeback_events_start_their_workflows(api, dev_env):
    order_id = f"WEB-{random.randrange(10**6)}"
    order = {
        "order_id": order_id,
        "transaction_id": txn(),
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
        "lines": [{"item_id": "WIDGET", "quantity": "2", "unit_price": "9.99"}],
    }
    case = f"CB{random.randrange(10**8)}"
    chargeback = {
        "case_id": case,
        "transaction_id": txn(),
        "amount": "125.00",
        "opened_on": "2026-11-30",
        "respond_by": "2026-12-20",
    }
    customer = f"PT{random.randrange(10**8)}"
    expected = [
        ("order.paid", order, f"order-{order_id}", "OrderSync"),
        (
            "customer.updated",
            {"paytrace_customer_id": customer},
            f"customer-link-{customer}",
            "CustomerLink",
        ),
        ("chargeback.opened", chargeback, f"chargeback-{case}", "Chargeback"),
    ]
    for kind, data, workflow_id, workflow_type in expected:
        body = event(kind, data)
        resp = await post(api, body)
        assert resp.status_code == 202, resp.text
        assert resp.json()["workflow_id"] == workflow_id and resp.json()["started"] is True
        again = await post(api, event(kind, data))  # a new delivery of the same business key
        assert again.status_code == 202 and again.json()["outcome"] == "joined"
        handle = dev_env.client.get_workflow_handle(workflow_id)
        assert (await handle.describe()).workflow_type == workflow_type
        await handle.terminate("test cleanup")
    closed = await post(api, event("chargeback.opened", chargeback))
    assert closed.status_code == 202 and closed.json()["outcome"] == "closed"


async def test_a_decision_for_an_unknown_case_is_404(api):
    body = event("chargeback.resolved", {"case_id": "NOPE1", "outcome": "won"})
    resp = await post(api, body)
    assert resp.status_code == 404 and "chargeback.opened first" in resp.json()["error"]


def big_body() -> bytes:
    return event("payment.completed", {"transaction_id": 1, "pad": "a" * MAX_BODY_BYTES})


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        (
            b'{"id":"e","type":"payment.completed","data":{"transaction_id":1}}',
            "wrong-secret-000000",
            401,
            "does not match",
        ),
        (
            b'{"id":"e","type":"payment.completed","data":{"transaction_id":1}}',
            "stale",
            401,
            "seconds from now",
        ),
        (
            b'{"id":"e","type":"payment.completed","data":{"transaction_id":1}}',
            "unsigned",
            401,
            "v1=<hex",
        ),
        (
            b'{"id":"e","type":"payment.completed","data":{"transaction_id":1}}',
            "no-time",
            401,
            "unix seconds",
        ),
        (
            b'{"id":"e","type":"payment.completed","data":{"transaction_id":1}}',
            "text",
            415,
            "application/json",
        ),
        (b'{"id":"e","type":"invoice.paid","data":{}}', None, 422, "unknown event type"),
        (
            b'{"id":"e","type":"payment.completed","data":{"transaction_id":"12"}}',
            None,
            422,
            "malformed",
        ),
        (
            b'{"id":"e","type":"payment.completed","data":{"transaction_id":0}}',
            None,
            422,
            "malformed",
        ),
        (
            b'{"id":"e","type":"payment.completed","data":{"transaction_id":1,"x":1}}',
            None,
            422,
            "malformed",
        ),
        (b'{"type":"payment.completed","data":{"transaction_id":1}}', None, 422, "malformed"),
        (
            b'{"id":"e","type":"chargeback.opened","data":{"case_id":"C1","transaction_id":1,"amount":12.5,"opened_on":"2026-01-01","respond_by":"2026-01-09"}}',
            None,
            422,
            "malformed",
        ),
        (b"[1, 2]", None, 422, "malformed"),
        (b'{"id":', None, 422, "not a JSON object"),
        (
            b'{"id":"e","type":"payment.completed","data":{"transaction_id":1}}\xff',
            None,
            422,
            "UTF-8",
        ),
        (
            b'{"id":"e","type":"payment.completed","data":{"transaction_id":1,"note":"'
            + CARD.encode()
            + b'"}}',
            None,
            422,
            "card number",
        ),
        (  # a JSON escape hides the number from a look at the raw body
            b'{"id":"\\u0034111111111111111","type":"payment.completed","data":{"transaction_id":1}}',
            None,
            422,
            "card number",
        ),
        (
            b'{"id":"e","type":"chargeback.resolved","data":{"case_id":"C9","outcome":"won","note":"card 41111111111\\u00311111"}}',
            None,
            422,
            "card number",
        ),
        (
            event(
                "chargeback.opened",
                {
                    "case_id": "C1",
                    "transaction_id": 1,
                    "amount": "1e30",
                    "opened_on": "2026-01-01",
                    "respond_by": "2026-01-09",
                },
            ),
            None,
            422,
            "malformed",
        ),
        (
            event(
                "chargeback.opened",
                {
                    "case_id": "C1",
                    "transaction_id": 1,
                    "amount": "10.00",
                    "opened_on": "2026-01-01",
                    "respond_by": "9999-12-31",
                },
            ),
            None,
            422,
            "malformed",
        ),
        (
            event(
                "order.paid",
                {
                    "order_id": "WEB-1",
                    "transaction_id": 1,
                    "customer": {"name": "A", "email": "a@example.com"},
                    "lines": [{"item_id": "W", "quantity": "1e30", "unit_price": "1.00"}],
                },
            ),
            None,
            422,
            "malformed",
        ),
        (big_body(), None, 413, "body over"),
    ],
)
async def test_bad_events_get_a_clear_4xx_and_are_logged_without_their_body(
    api, store, body, headers, status, reason
):
    if headers is None:
        headers = signed(body)
    elif headers == "stale":
        headers = signed(body, at=int(time.time()) - 301)
    elif headers == "unsigned":
        headers = {
            "content-type": "application/json",
            "x-tracepost-timestamp": str(int(time.time())),
        }
    elif headers == "no-time":
        headers = {**signed(body), "x-tracepost-timestamp": "yesterday"}
    elif headers == "text":
        headers = {**signed(body), "content-type": "text/plain"}
    else:
        headers = signed(body, headers)
    resp = await post(api, body, headers)
    assert resp.status_code == status, resp.text
    assert reason in resp.json()["error"]
    assert CARD not in resp.text
    [logged] = store.events()
    assert logged.outcome == "rejected" and logged.status_code == status and logged.data is None
    with store.engine.connect() as conn:
        dump = " ".join(str(row) for row in conn.execute(sa.text("select * from tp_event")))
    assert CARD not in dump


async def test_field_level_reasons_name_the_field(api):
    body = event(
        "chargeback.opened",
        {
            "case_id": "C1",
            "transaction_id": 5,
            "amount": "1.234",
            "opened_on": "x",
            "respond_by": "2026-01-09",
        },
    )
    resp = await post(api, body)
    assert resp.status_code == 422
    fields = {f["field"] for f in resp.json()["fields"]}
    assert fields == {"data.amount", "data.opened_on"}
    assert "cent" in resp.text


async def test_temporal_down_answers_503_and_the_event_is_logged_unavailable(
    tmp_path, settings, store
):
    down = settings.model_copy(update={"temporal_address": "127.0.0.1:1"})
    app = create_api(down, store, TemporalGateway(down))
    body = event("payment.completed", {"transaction_id": 77})
    async with asgi_client(app) as client:
        resp = await client.post("/webhooks/events", content=body, headers=signed(body))
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
    [logged] = store.events()
    assert logged.outcome == "unavailable" and logged.data == {
        "transaction_id": 77,
        "method": "card",
    }


async def test_events_are_refused_when_no_secret_is_configured(tmp_path, store, dev_env):
    plain = Settings(var_dir=tmp_path, codec="off")
    app = create_api(plain, store, TemporalGateway(plain, dev_env.client))
    body = event("payment.completed", {"transaction_id": 5})
    async with asgi_client(app) as client:
        resp = await client.post("/webhooks/events", content=body, headers=signed(body))
    assert resp.status_code == 401 and "TRACEPOST_EVENT_SECRETS" in resp.json()["error"]
