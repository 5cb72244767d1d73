"""The v3 seam: PaytraceV3Client against the simulator's ``/v3`` routes, sharing v1's state.

Every test drives the in-process simulator through ``httpx.ASGITransport`` with a fixed clock
(noon in New York), so nothing settles at the daily cut-off by accident. The last tests run one
scenario through both PaytraceClient (v1) and PaytraceV3Client to show the interface is the same.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr

from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.client_v3 import PaytraceV3Client
from connectors.paytrace.errors import (
    PaytraceAmbiguousError,
    PaytraceAuthError,
    PaytraceDeclined,
    PaytraceRateLimited,
    PaytraceTransientError,
    PaytraceValidationError,
)
from connectors.paytrace.gateway import PaytraceGateway
from connectors.paytrace.models import BillingAddress, CreditCard, KeyedSaleRequest
from connectors.paytrace.simulator import SimulatorConfig, create_app

VISA = "4012000098765439"
TZ = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
TODAY = NOW.astimezone(TZ).date()
MERCHANT_ID = 4242
INTEGRATOR = "tracepost01"


class FakeClock:
    """A settable clock, for the simulator (aware datetimes) or the client (monotonic seconds)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class Monotonic:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


class Recording(httpx.AsyncBaseTransport):
    """Passes requests to the app and keeps them, to check what went over the wire."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


def sale(
    amount: str = "125.00",
    *,
    card: str = VISA,
    month: str = "12",
    invoice: str = "INV-1",
    **extra: Any,
) -> KeyedSaleRequest:
    return KeyedSaleRequest(
        amount=Decimal(amount),
        credit_card=CreditCard(
            number=SecretStr(card), expiration_month=month, expiration_year="2030"
        ),
        invoice_id=invoice,
        **extra,
    )


@pytest.fixture
def sim_clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def app(tmp_path: Path, sim_clock: FakeClock):
    config = SimulatorConfig(db_path=str(tmp_path / "sim.db"), merchants={"demo": "demo"})
    return create_app(config, clock=sim_clock)


@pytest.fixture
async def http(app) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim"
    ) as client:
        yield client


def make_v3(app, **kwargs: Any) -> PaytraceV3Client:
    kwargs.setdefault("transport", httpx.ASGITransport(app=app))
    return PaytraceV3Client(
        "http://sim",
        kwargs.pop("client_id", "demo"),
        kwargs.pop("client_secret", "demo"),
        merchant_id=kwargs.pop("merchant_id", MERCHANT_ID),
        integrator_id=kwargs.pop("integrator_id", INTEGRATOR),
        **kwargs,
    )


@pytest.fixture
async def v3(app) -> AsyncIterator[PaytraceV3Client]:
    client = make_v3(app)
    yield client
    await client.aclose()


@pytest.fixture
async def v1(app) -> AsyncIterator[PaytraceClient]:
    client = PaytraceClient("http://sim", "demo", "demo", transport=httpx.ASGITransport(app=app))
    yield client
    await client.aclose()


async def v3_token(http: httpx.AsyncClient) -> str:
    resp = await http.post(
        "/v3/token",
        data={"grant_type": "client_credentials", "client_id": "demo", "client_secret": "demo"},
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["data"]["access_token"])


async def v1_token(http: httpx.AsyncClient) -> str:
    resp = await http.post(
        "/oauth/token", data={"grant_type": "password", "username": "demo", "password": "demo"}
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def v3_headers(token: str, integrator: str | None = INTEGRATOR) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if integrator is not None:
        headers["X-Integrator-Id"] = integrator
    return headers


def sale_json(amount: str = "10.00", invoice: str = "INV-1") -> str:
    """A raw v3 sale body: amounts must be JSON numbers, so no json= (it cannot write Decimals)."""
    return (
        f'{{"merchant_id": {MERCHANT_ID}, "amount": {amount}, "invoice_number": "{invoice}", '
        f'"card": {{"number": "{VISA}", "expiration_month": 12, "expiration_year": 2030}}}}'
    )


async def v3_sale(http: httpx.AsyncClient, token: str, amount: str = "10.00") -> int:
    resp = await http.post(
        "/v3/card/sale/keyed", content=sale_json(amount), headers=v3_headers(token)
    )
    assert resp.status_code == 200, resp.text
    return int(resp.json()["data"]["transaction_id"])


async def add_fault(http: httpx.AsyncClient, **rule: Any) -> None:
    resp = await http.post("/_sim/faults", json=rule)
    assert resp.status_code == 201, resp.text


# -- tokens and headers -------------------------------------------------------------------


async def test_token_is_201_in_a_data_envelope_and_refreshable(http):
    resp = await http.post(
        "/v3/token",
        data={"grant_type": "client_credentials", "client_id": "demo", "client_secret": "demo"},
    )
    assert resp.status_code == 201
    data = resp.json()["data"]
    assert data["token_type"] == "bearer" and data["expires_in"] == 900
    assert data["access_token"] and data["refresh_token"]

    again = await http.post(
        "/v3/token", data={"grant_type": "refresh_token", "refresh_token": data["refresh_token"]}
    )
    assert again.status_code == 201
    fresh = again.json()["data"]["access_token"]
    assert fresh != data["access_token"]
    body = f'{{"merchant_id": 1, "start_date": "{TODAY}", "end_date": "{TODAY}"}}'
    export = await http.post(
        "/v3/transactions/export/by-date", content=body, headers=v3_headers(fresh)
    )
    assert export.status_code == 200 and export.json() == {"data": []}


@pytest.mark.parametrize(
    ("form", "status", "field"),
    [
        ({"grant_type": "client_credentials", "client_id": "demo", "client_secret": "x"}, 401, ""),
        (
            {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "demo"},
            401,
            "",
        ),
        ({"grant_type": "refresh_token", "refresh_token": "not-a-token"}, 401, ""),
        ({"grant_type": "client_credentials", "client_id": "demo"}, 422, "client_secret"),
        ({"grant_type": "password", "username": "demo", "password": "demo"}, 422, "grant_type"),
        ({}, 422, "grant_type"),
    ],
)
async def test_token_refusals_are_json_errors(http, form, status, field):
    resp = await http.post("/v3/token", data=form)
    assert resp.status_code == status
    body = resp.json()
    assert body["error"] is True and body["message"]
    if field:
        assert field in body["errors"]


async def test_v1_and_v3_tokens_are_not_interchangeable(http):
    token1, token3 = await v1_token(http), await v3_token(http)
    body = f'{{"merchant_id": 1, "start_date": "{TODAY}", "end_date": "{TODAY}"}}'
    on_v3 = await http.post(
        "/v3/transactions/export/by-date", content=body, headers=v3_headers(token1)
    )
    assert on_v3.status_code == 401 and on_v3.json()["error"] is True
    on_v1 = await http.post(
        "/v1/transactions/export/by_id",
        json={"transaction_id": 1},
        headers={"Authorization": f"Bearer {token3}"},
    )
    assert on_v1.status_code == 401


async def test_integrator_header_and_merchant_id_are_required(http):
    token = await v3_token(http)
    path = "/v3/transactions/export/by-date"
    good = f'{{"merchant_id": 7, "start_date": "{TODAY}", "end_date": "{TODAY}"}}'

    missing = await http.post(path, content=good, headers=v3_headers(token, integrator=None))
    assert missing.status_code == 422
    assert "X-Integrator-Id" in missing.json()["errors"]
    too_long = await http.post(path, content=good, headers=v3_headers(token, "x" * 13))
    assert too_long.status_code == 422 and "X-Integrator-Id" in too_long.json()["errors"]
    # No token at all is refused before the header is looked at.
    anonymous = await http.post(path, content=good)
    assert anonymous.status_code == 401

    for merchant in ('"7"', "0", "true", "null"):
        body = good.replace('"merchant_id": 7', f'"merchant_id": {merchant}')
        resp = await http.post(path, content=body, headers=v3_headers(token))
        assert resp.status_code == 422, merchant
        assert "merchant_id" in resp.json()["errors"]
    assert (await http.post(path, content=good, headers=v3_headers(token))).status_code == 200
    not_json = await http.post(path, content="[1]", headers=v3_headers(token))
    assert not_json.status_code == 400 and not_json.json()["error"] is True


def test_client_refuses_an_integrator_id_or_merchant_id_paytrace_would_refuse():
    for bad in ("", "   ", "x" * 13):
        with pytest.raises(ValueError, match="integrator_id"):
            PaytraceV3Client("http://sim", "demo", "demo", merchant_id=1, integrator_id=bad)
    with pytest.raises(ValueError, match="merchant_id"):
        PaytraceV3Client("http://sim", "demo", "demo", merchant_id=0, integrator_id="t")


async def test_client_sends_headers_merchant_id_and_numbers(app, caplog):
    caplog.set_level(logging.DEBUG)
    wire = Recording(httpx.ASGITransport(app=app))
    client = make_v3(app, transport=wire)
    request = sale(
        "125.00",
        csc=SecretStr("999"),
        billing_address=BillingAddress(name="Ada Lovelace", street_address="1 Main", zip="10001"),
        customer_reference_id="PO-9",
        description="widgets",
    )
    resp = await client.sale_keyed(request)
    await client.aclose()
    token_request, sale_request = wire.requests
    assert token_request.url.path == "/v3/token"
    assert sale_request.headers["X-Integrator-Id"] == INTEGRATOR
    raw = sale_request.content.decode()
    assert '"merchant_id":4242' in raw and '"amount":125.00' in raw
    assert '"invoice_number":"INV-1"' in raw and '"billing_name":"Ada Lovelace"' in raw
    assert '"card":{' in raw and "credit_card" not in raw and "invoice_id" not in raw
    assert resp.avs_response == "Full Exact Match" and resp.csc_response == "Match"
    assert VISA not in caplog.text and "999" not in caplog.text


# -- token lifetime ------------------------------------------------------------------------


async def test_token_is_refreshed_early_with_the_refresh_token(app):
    clock = Monotonic()
    client = make_v3(app, clock=clock)
    await client.export_by_date_range(TODAY, TODAY)
    await client.export_by_date_range(TODAY, TODAY)
    assert (client.token_fetches, client.token_refreshes) == (1, 0)
    clock.value += 601  # 900 s token, renewed 5 minutes before it runs out
    await client.export_by_date_range(TODAY, TODAY)
    assert (client.token_fetches, client.token_refreshes) == (2, 1)
    await client.aclose()


async def test_expired_token_is_renewed_once_on_401(http, sim_clock, v3):
    first = await v3.sale_keyed(sale("1.00"))
    sim_clock.advance(seconds=901)  # the simulator's token expired; the client does not know
    second = await v3.sale_keyed(sale("2.00"))
    assert (v3.token_fetches, v3.token_refreshes) == (2, 1)

    # Both tokens expired: the refresh token is refused, the client credentials are used.
    assert (await http.post("/_sim/tokens/expire")).status_code == 200
    third = await v3.sale_keyed(sale("3.00"))
    assert (v3.token_fetches, v3.token_refreshes) == (3, 1)
    ids = [r.transaction_id for r in (first, second, third)]
    assert len(set(ids)) == 3
    assert len(await v3.export_by_date_range(TODAY, TODAY)) == 3  # nothing sent twice


def _token_answers(token: dict[str, Any]) -> tuple[httpx.MockTransport, list[int]]:
    """A transport that answers every token request with ``token``; the count of those calls."""
    calls = [0]

    def answer(request: httpx.Request) -> httpx.Response:
        calls[0] += 1
        return httpx.Response(201, json={"data": token})

    return httpx.MockTransport(answer), calls


@pytest.mark.parametrize("token", ["tok\u00b4", "tok en", "tok\n", 12345, "x" * 5000])
async def test_a_token_that_cannot_go_into_a_header_is_transient_not_a_crash(token: object):
    transport, _ = _token_answers({"access_token": token, "expires_in": 900})
    client = PaytraceV3Client(
        "http://v3", "demo", "demo", merchant_id=1, integrator_id="t", transport=transport
    )
    with pytest.raises(PaytraceTransientError, match="usable access_token"):
        await client.ping()
    await client.aclose()


@pytest.mark.parametrize("lifetime", ["nan", "inf", "-5", "soon", None, 0])
async def test_a_malformed_token_lifetime_falls_back_to_the_v3_default(lifetime: object):
    clock = Monotonic()
    transport, calls = _token_answers({"access_token": "tok-1", "expires_in": lifetime})
    client = PaytraceV3Client(
        "http://v3",
        "demo",
        "demo",
        merchant_id=1,
        integrator_id="t",
        transport=transport,
        clock=clock,
    )
    await client.ping()
    clock.value += 500  # inside the 900 s default less its 5-minute margin: reused
    await client.ping()
    assert calls[0] == 1
    clock.value += 101  # past it: renewed (the refresh-token grant is not offered: none given)
    await client.ping()
    assert calls[0] == 2
    await client.aclose()


async def test_wrong_secret_is_an_auth_error(app):
    client = make_v3(app, client_secret="nope")
    with pytest.raises(PaytraceAuthError) as refused:
        await client.export_by_id(1)
    assert "nope" not in str(refused.value)
    with pytest.raises(PaytraceAuthError):
        await client.ping()
    await client.aclose()


async def test_ping_gets_a_token(v3):
    assert await v3.ping() is True
    assert v3.token_fetches == 1


# -- sales ---------------------------------------------------------------------------------


async def test_approved_sale_is_the_same_transaction_through_v1_and_v3(v3, v1):
    resp = await v3.sale_keyed(sale("125.00", customer_reference_id="PO-1", description="d"))
    assert resp.success and resp.response_code == 101 and resp.approval_code.startswith("TAS")
    assert resp.masked_card_number == "xxxxxxxxxxxx5439"

    through_v1 = await v1.export_by_id(resp.transaction_id)
    through_v3 = await v3.export_by_id(resp.transaction_id)
    assert through_v1 is not None and through_v3 is not None
    assert through_v3.to_domain() == through_v1.to_domain()
    txn = through_v3.to_domain()
    assert txn.approved and txn.amount == Decimal("125.00") and txn.invoice_id == "INV-1"
    assert txn.created_at == NOW.astimezone(TZ).replace(tzinfo=None)
    assert txn.settled_at is None and txn.masked_card_number == "xxxxxxxxxxxx5439"
    assert VISA not in through_v3.model_dump_json()

    # and the other way round: a v1 sale is exported by v3
    made_by_v1 = await v1.sale_keyed(sale("7.00", invoice="V1"))
    seen = await v3.export_by_id(made_by_v1.transaction_id)
    assert seen is not None and seen.invoice_id == "V1" and seen.amount == Decimal("7.00")


async def test_decline_is_paytrace_declined_and_stored(v3, http):
    with pytest.raises(PaytraceDeclined) as declined:
        await v3.sale_keyed(sale("10.02"))
    assert declined.value.response_code == 102
    assert declined.value.approval_message == "DECLINE - Do not honor"
    assert declined.value.transaction_id is not None
    exported = await v3.export_by_id(declined.value.transaction_id)
    assert exported is not None
    assert exported.to_domain().declined and not exported.to_domain().approved

    # On the wire a decline is HTTP 200 with status "declined", like an approval.
    token = await v3_token(http)
    resp = await http.post(
        "/v3/card/sale/keyed", content=sale_json("10.29"), headers=v3_headers(token)
    )
    assert resp.status_code == 200
    assert resp.json()["data"]["status"] == "declined"
    assert "EXPIRED CARD" in resp.json()["data"]["approval_message"]


async def test_validation_error_keeps_field_errors_and_stores_nothing(v3):
    with pytest.raises(PaytraceValidationError) as invalid:
        await v3.sale_keyed(sale("10.00", card="4012000098765430", month="13"))
    assert {"card.number", "card.expiration_month"} <= invalid.value.errors.keys()
    assert "4012000098765430" not in str(invalid.value)
    assert await v3.export_by_date_range(TODAY, TODAY) == []


@pytest.mark.parametrize(
    ("amount", "field"), [('"10.00"', "amount"), ("10.001", "amount"), ("-1", "amount")]
)
async def test_amount_must_be_a_json_number_in_cents(http, amount, field):
    token = await v3_token(http)
    resp = await http.post(
        "/v3/card/sale/keyed", content=sale_json(amount), headers=v3_headers(token)
    )
    assert resp.status_code == 422
    assert field in resp.json()["errors"]


async def test_a_lost_sale_answer_is_ambiguous_and_found_by_read_back(v3, http):
    await add_fault(http, kind="lost_response", path="/v3/card/sale")
    with pytest.raises(PaytraceAmbiguousError):
        await v3.sale_keyed(sale("42.00", invoice="LOST-1"))
    found = await v3.find_transactions(TODAY, amount=Decimal("42.00"), invoice_id="LOST-1")
    assert len(found) == 1 and found[0].to_domain().approved


async def test_5xx_and_429_follow_the_taxonomy(v3, http):
    await add_fault(http, kind="http_error", path="/v3/card/sale", status=502)
    with pytest.raises(PaytraceAmbiguousError):
        await v3.sale_keyed(sale("1.00"))
    await add_fault(http, kind="http_error", path="/v3/transactions/export", status=503)
    with pytest.raises(PaytraceTransientError):
        await v3.export_by_date_range(TODAY, TODAY)
    await add_fault(http, kind="rate_limit", path="/v3/transaction/export", retry_after=7)
    with pytest.raises(PaytraceRateLimited) as limited:
        await v3.export_by_id(1)
    assert limited.value.retry_after == 7
    assert await v3.export_by_date_range(TODAY, TODAY) == []  # the faults fired once each


# -- capture, void, refund -----------------------------------------------------------------


async def test_capture_through_the_batch_endpoint(v3, http):
    token = await v1_token(http)
    auth = await http.post(
        "/v1/transactions/authorization/keyed",
        json={
            "amount": "80.00",
            "credit_card": {"number": VISA, "expiration_month": "12", "expiration_year": "2030"},
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert auth.status_code == 200, auth.text
    auth_id = int(auth.json()["transaction_id"])

    with pytest.raises(PaytraceValidationError) as too_much:
        await v3.capture(auth_id, Decimal("90.00"))
    assert too_much.value.codes == [813]
    captured = await v3.capture(auth_id, Decimal("60.00"))
    assert captured.success and captured.response_code == 112
    assert captured.transaction_id == auth_id
    exported = await v3.export_by_id(auth_id)
    assert exported is not None and exported.transaction_type == "CAPTURE"
    assert exported.amount == Decimal("60.00") and exported.to_domain().approved
    with pytest.raises(PaytraceValidationError) as again:
        await v3.capture(auth_id)
    assert again.value.codes == [812]


async def test_void_through_the_batch_endpoint(v3):
    made = await v3.sale_keyed(sale("15.00"))
    voided = await v3.void(made.transaction_id)
    assert voided.success and voided.response_code == 109
    assert voided.transaction_id == made.transaction_id
    exported = await v3.export_by_id(made.transaction_id)
    assert exported is not None and exported.transaction_type == "VOID"
    with pytest.raises(PaytraceValidationError) as twice:
        await v3.void(made.transaction_id)
    assert twice.value.codes == [816]
    with pytest.raises(PaytraceValidationError) as unknown:
        await v3.void(999)
    assert unknown.value.codes == [58]


async def test_refund_before_settlement_fails_then_refunds_after(v3, http):
    made = await v3.sale_keyed(sale("50.00"))
    with pytest.raises(PaytraceValidationError) as early:
        await v3.refund_transaction(made.transaction_id)
    assert early.value.codes == [817]
    assert "void the transaction instead" in str(early.value)
    assert await v3.find_transactions(TODAY, transaction_type="REFUND") == []

    settled = await http.post(
        "/v1/transactions/settle",
        json={},
        headers={"Authorization": f"Bearer {await v1_token(http)}"},
    )
    assert settled.status_code == 200 and settled.json()["batch_number"] == 1
    after = await v3.export_by_id(made.transaction_id)
    assert after is not None and after.batch_number == 1
    assert after.to_domain().settled_at == NOW.astimezone(TZ).replace(tzinfo=None)

    part = await v3.refund_transaction(made.transaction_id, Decimal("20.00"))
    assert part.success and part.response_code == 106
    assert part.transaction_id != made.transaction_id
    assert part.masked_card_number == "xxxxxxxxxxxx5439"
    refund = await v3.export_by_id(part.transaction_id)
    assert refund is not None and refund.transaction_type == "REFUND"
    assert refund.amount == Decimal("20.00")
    with pytest.raises(PaytraceValidationError) as too_much:
        await v3.refund_transaction(made.transaction_id, Decimal("40.00"))
    assert too_much.value.codes == [814]
    rest = await v3.refund_transaction(made.transaction_id)
    rest_record = await v3.export_by_id(rest.transaction_id)
    assert rest_record is not None and rest_record.amount == Decimal("30.00")


async def test_batch_results_follow_the_items_and_fail_inside_them(http):
    token = await v3_token(http)
    first, second = await v3_sale(http, token), await v3_sale(http, token)
    body = (
        f'{{"merchant_id": 1, "batch_items": [{{"transaction_id": {first}}}, '
        f'{{"transaction_id": 999}}, {{"transaction_id": {second}}}]}}'
    )
    resp = await http.post("/v3/card/batch/void", content=body, headers=v3_headers(token))
    assert resp.status_code == 200
    results = resp.json()["data"]
    assert [(r["transaction_id"], r["status"], r["response_code"]) for r in results] == [
        (first, "success", 109),
        (999, "failed", 58),
        (second, "success", 109),
    ]
    assert results[1]["message"] == "Please provide a valid Transaction ID."


@pytest.mark.parametrize(
    ("operation", "items", "field"),
    [
        (
            "void",
            '[{"transaction_id": ID}, {"transaction_id": "x"}]',
            "batch_items.1.transaction_id",
        ),
        ("void", '[{"transaction_id": ID, "amount": 1.00}]', "batch_items.0.amount"),
        ("refund", '[{"transaction_id": ID, "amount": "1.00"}]', "batch_items.0.amount"),
        ("capture", "[]", "batch_items"),
        ("void", '[{"transaction_id": 9223372036854775808}]', "batch_items.0.transaction_id"),
    ],
)
async def test_a_malformed_batch_is_refused_whole(http, operation, items, field):
    token = await v3_token(http)
    made = await v3_sale(http, token)
    body = f'{{"merchant_id": 1, "batch_items": {items.replace("ID", str(made))}}}'
    resp = await http.post(f"/v3/card/batch/{operation}", content=body, headers=v3_headers(token))
    assert resp.status_code == 422
    assert field in resp.json()["errors"]
    record = await http.post(
        f"/v3/transaction/export/{made}", content='{"merchant_id": 1}', headers=v3_headers(token)
    )
    assert record.json()["data"]["transaction_type"] == "SALE"  # nothing was done


# -- exports -------------------------------------------------------------------------------


async def test_export_by_date_and_find_transactions(v3, http, sim_clock):
    a = await v3.sale_keyed(sale("3.00", invoice="A-1"))
    await v3.sale_keyed(sale("4.00", invoice="B-2"))
    await v3.sale_keyed(sale("5.00", invoice="A-1"))
    with pytest.raises(PaytraceDeclined):
        await v3.sale_keyed(sale("3.02", invoice="A-1"))
    sim_clock.advance(days=1)
    tomorrow = await v3.sale_keyed(sale("3.00", invoice="A-1"))

    today = await v3.export_by_date_range(TODAY, TODAY)
    assert [t.amount for t in today] == [Decimal(x) for x in ("3.00", "4.00", "5.00", "3.02")]
    both = await v3.export_by_date_range(TODAY, TODAY + timedelta(days=1))
    assert len(both) == 5
    declined = await v3.export_by_date_range(TODAY, TODAY, transaction_type="DECLINED")
    assert [t.amount for t in declined] == [Decimal("3.02")]
    one = await v3.export_by_date_range(TODAY, TODAY, transaction_id=a.transaction_id)
    assert [t.transaction_id for t in one] == [a.transaction_id]

    back = await v3.find_transactions(TODAY, amount=Decimal("3.00"), invoice_id="A-1")
    assert [t.transaction_id for t in back] == [a.transaction_id]
    later = await v3.find_transactions(
        TODAY + timedelta(days=1), amount=Decimal("3.00"), invoice_id="A-1"
    )
    assert [t.transaction_id for t in later] == [tomorrow.transaction_id]
    assert await v3.find_transactions(TODAY - timedelta(days=1), invoice_id="A-1") == []


async def test_export_record_shape_on_the_wire(http):
    token = await v3_token(http)
    made = await v3_sale(http, token, "12.50")
    resp = await http.post(
        f"/v3/transaction/export/{made}", content='{"merchant_id": 1}', headers=v3_headers(token)
    )
    assert resp.status_code == 200
    record = resp.json()["data"]
    assert '"amount":12.50' in resp.text
    assert record["invoice_number"] == "INV-1" and "invoice_id" not in record
    assert record["masked_card_number"] == "xxxxxxxxxxxx5439"
    assert datetime.fromisoformat(record["created_at"]) == NOW
    assert record["created_at"].endswith("-04:00")  # merchant local, with its offset
    assert record["settled_at"] is None and record["status_code"] == 101

    unknown = await http.post(
        "/v3/transaction/export/999", content='{"merchant_id": 1}', headers=v3_headers(token)
    )
    assert unknown.status_code == 404 and unknown.json()["error"] is True
    for bad in ("abc", "0", "9" * 20, "9223372036854775808"):
        malformed = await http.post(
            f"/v3/transaction/export/{bad}", content='{"merchant_id": 1}', headers=v3_headers(token)
        )
        assert malformed.status_code == 422, bad


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("03/10/2026", "2026-03-10", "start_date"),
        ("2026-03-10", "2026-3-10", "end_date"),
        ("2026-03-10", "2026-03-09", "end_date"),
    ],
)
async def test_by_date_wants_iso_dates_in_order(http, start, end, field):
    token = await v3_token(http)
    body = f'{{"merchant_id": 1, "start_date": "{start}", "end_date": "{end}"}}'
    resp = await http.post(
        "/v3/transactions/export/by-date", content=body, headers=v3_headers(token)
    )
    assert resp.status_code == 422 and field in resp.json()["errors"]


async def test_unknown_transaction_is_none(v3):
    assert await v3.export_by_id(999) is None


async def test_merchant_timezone_converts_timestamps(app):
    client = make_v3(app, merchant_timezone="America/Los_Angeles")
    made = await client.sale_keyed(sale("1.00"))
    found = await client.export_by_id(made.transaction_id)
    await client.aclose()
    assert found is not None
    assert found.to_domain().created_at == NOW.astimezone(ZoneInfo("America/Los_Angeles")).replace(
        tzinfo=None
    )


# -- one scenario, both API generations ----------------------------------------------------


@pytest.fixture(params=["v1", "v3"])
async def gateway(request, app) -> AsyncIterator[PaytraceGateway]:
    transport = httpx.ASGITransport(app=app)
    client: PaytraceGateway
    if request.param == "v1":
        client = PaytraceClient("http://sim", "demo", "demo", transport=transport)
    else:
        client = make_v3(app, transport=transport)
    yield client
    await client.aclose()


async def test_the_same_scenario_through_either_gateway(gateway: PaytraceGateway):
    made = await gateway.sale_keyed(sale("33.00", invoice="SHARED-1"))
    assert made.response_code == 101
    voided = await gateway.void(made.transaction_id)
    assert voided.response_code == 109 and voided.transaction_id == made.transaction_id
    exported = await gateway.export_by_id(made.transaction_id)
    assert exported is not None
    txn = exported.to_domain()
    assert txn.transaction_type == "VOID" and txn.invoice_id == "SHARED-1"
    assert txn.amount == Decimal("33.00") and not txn.approved
    assert txn.created_at == NOW.astimezone(TZ).replace(tzinfo=None)

    with pytest.raises(PaytraceDeclined):
        await gateway.sale_keyed(sale("1.51", invoice="SHARED-2"))
    with pytest.raises(PaytraceValidationError) as early:
        await gateway.refund_transaction(made.transaction_id)
    assert early.value.codes == [818]  # a void is not refundable, on either API
    assert await gateway.export_by_id(987654) is None
    found = await gateway.find_transactions(TODAY, amount=Decimal("33.00"), invoice_id="SHARED-1")
    assert [t.transaction_id for t in found] == [made.transaction_id]
    assert len(await gateway.export_by_date_range(TODAY, TODAY)) == 2


async def test_v3_client_is_a_gateway():
    typed: PaytraceGateway = PaytraceV3Client(
        "http://sim", "demo", "demo", merchant_id=1, integrator_id="t"
    )
    assert isinstance(typed, PaytraceV3Client)
    await typed.aclose()


def test_today_is_the_merchant_day():
    assert TODAY == date(2026, 3, 10)


async def test_v3_errors_never_carry_the_card_number_or_csc(caplog: pytest.LogCaptureFixture):
    """A 422 that echoes the request (as a careless server might) is scrubbed before it leaves."""
    caplog.set_level(logging.DEBUG)
    typo = "4012000098765430"  # one digit off: not Luhn-valid, so only scrubbing can catch it

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v3/token":
            data = {"access_token": "t", "token_type": "bearer", "expires_in": 900}
            return httpx.Response(201, json={"data": data})
        sent = json.loads(request.content)
        echo = f"card {sent['card']['number']} with csc {sent['csc']} was refused"
        return httpx.Response(
            422, json={"error": True, "message": echo, "errors": {"card": [echo]}}
        )

    client = PaytraceV3Client(
        "http://v3",
        "demo",
        "demo",
        merchant_id=1,
        integrator_id="tracepost",
        transport=httpx.MockTransport(answer),
    )
    with pytest.raises(PaytraceValidationError) as invalid:
        await client.sale_keyed(sale("10.00", card=typo, csc=SecretStr("4321")))
    await client.aclose()
    text = str(invalid.value) + repr(invalid.value.errors) + repr(invalid.value.args) + caplog.text
    assert typo not in text and "4321" not in text
