"""The api process: health probes and the Silent Post webhook starter."""

import random

import httpx
import pytest
import sqlalchemy as sa

from connectors.store import Store
from tests.ops_helpers import asgi_client
from workers.api import MAX_BODY_BYTES, TemporalGateway, create_api
from workers.settings import Settings

SECRET = "s3cret-path-token"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def make_api(tmp_path, gateway, settings):
    store = Store(sa.create_engine(f"sqlite:///{tmp_path}/store.db"))
    store.create_schema()
    return create_api(settings, store, gateway)


@pytest.fixture
def settings(tmp_path):
    return Settings(
        var_dir=tmp_path,
        codec="off",  # the dev server's client reads plain payloads (tests/test_codec.py encrypts)
        silent_post_secret=SECRET,
        task_queue=f"api-test-{random.randrange(10**9)}",
    )


@pytest.fixture
async def api(dev_env, tmp_path, settings):
    app = make_api(tmp_path, TemporalGateway(settings, dev_env.client), settings)
    async with asgi_client(app) as client:
        yield client


async def test_health_and_readiness(api):
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"temporal": "ok", "store": "ok"}


async def test_silent_post_starts_once_and_duplicates_join(api, dev_env):
    txn = random.randrange(10**9, 10**10)
    body = f"ORDERID=1001&TRANSACTIONID={txn}&APPCODE=TAS610&APPMSG=APPROVED&AVSRESPONSE=No+Match&CSCRESPONSE=&EMAIL=a%40b.c"
    first = await api.post(f"/webhooks/paytrace/silent-post/{SECRET}", content=body, headers=FORM)
    again = await api.post(f"/webhooks/paytrace/silent-post/{SECRET}", content=body, headers=FORM)
    assert first.status_code == 202 and again.status_code == 202
    assert first.json() == {"workflow_id": f"payment-{txn}", "started": True, "outcome": "started"}
    assert again.json() == {"workflow_id": f"payment-{txn}", "started": False, "outcome": "joined"}
    await dev_env.client.get_workflow_handle(f"payment-{txn}").terminate("test cleanup")


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "reason"),
    [
        ("wrong", "TRANSACTIONID=1", FORM, 404, "unknown webhook"),
        (SECRET, "ORDERID=1001", FORM, 422, "TRANSACTIONID is required"),
        (SECRET, "TRANSACTIONID=12abc", FORM, 422, "must be a number"),
        (SECRET, "TRANSACTIONID=1&TRANSACTIONID=2", FORM, 422, "TRANSACTIONID"),
        (SECRET, "TRANSACTIONID=%C2%B2", FORM, 422, "must be a number"),  # superscript two
        (SECRET, "TRANSACTIONID=0", FORM, 422, "out of range"),
        (SECRET, "TRANSACTIONID=99999999999999999999", FORM, 422, "must be a number"),
        (SECRET, "TRANSACTIONID=9999999999999999999", FORM, 422, "out of range"),
        (SECRET, "TRANSACTIONID=1&NOTE=4012000098765439", FORM, 422, "card number"),
        # a 20-digit run is no card number, but the 50 characters kept of it end in one
        (
            SECRET,
            "TRANSACTIONID=1&ORDERID=" + "x" * 34 + "4012000098765439" + "1234",
            FORM,
            422,
            "card number",
        ),
        (
            SECRET,
            '{"TRANSACTIONID": 1}',
            {"content-type": "application/json"},
            415,
            "form-urlencoded",
        ),
        (SECRET, "TRANSACTIONID=1&X=" + "a" * MAX_BODY_BYTES, FORM, 413, "body over"),
        (SECRET, b"TRANSACTIONID=\xff\xfe", FORM, 422, "UTF-8"),
    ],
)
async def test_bad_silent_posts_get_a_clear_4xx(api, path, body, headers, status, reason):
    resp = await api.post(f"/webhooks/paytrace/silent-post/{path}", content=body, headers=headers)
    assert resp.status_code == status
    assert reason in resp.json()["error"]
    assert "4012000098765439" not in resp.text


async def test_temporal_down_answers_503_with_retry_after(tmp_path):
    settings = Settings(
        var_dir=tmp_path, codec="off", silent_post_secret=SECRET, temporal_address="127.0.0.1:1"
    )
    app = make_api(tmp_path, TemporalGateway(settings), settings)
    async with asgi_client(app) as client:
        resp = await client.post(
            f"/webhooks/paytrace/silent-post/{SECRET}", content="TRANSACTIONID=5", headers=FORM
        )
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["temporal"].startswith(
            "unavailable"
        )


async def test_a_chunked_body_over_the_limit_is_refused_without_reading_it_all(api):
    sent = []

    async def chunks():
        for _ in range(100):  # 100 x 4 KiB, no Content-Length
            sent.append(1)
            yield b"X=" + b"a" * 4094

    resp = await api.post(
        f"/webhooks/paytrace/silent-post/{SECRET}", content=chunks(), headers=FORM
    )
    assert resp.status_code == 413


@pytest.mark.parametrize(
    ("allowed", "status"),
    [(["10.0.0.0/8", "127.0.0.1"], 202), (["10.0.0.0/8"], 403), (["::1"], 403)],
)
async def test_silent_post_allow_list(dev_env, tmp_path, settings, allowed, status):
    limited = settings.model_copy(update={"silent_post_allowed_ips": allowed})
    app = make_api(tmp_path, TemporalGateway(limited, dev_env.client), limited)
    txn = random.randrange(10**9, 10**10)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        resp = await client.post(
            f"/webhooks/paytrace/silent-post/{SECRET}", content=f"TRANSACTIONID={txn}", headers=FORM
        )
    assert resp.status_code == status, resp.text
    if status == 202:
        await dev_env.client.get_workflow_handle(f"payment-{txn}").terminate("test cleanup")
    else:
        assert "not allowed" in resp.json()["error"]


def test_a_bad_allow_list_entry_is_refused_by_name():
    from workers.api_webhooks import parse_networks

    with pytest.raises(ValueError, match="not-an-ip"):
        parse_networks(["10.0.0.0/8", "not-an-ip"])
