"""Drive the PayTrace simulator over HTTP exactly as a PayTrace v1 client would.

Written from the API reference (docs/paytrace-api notes), with plain httpx calls only.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from connectors.paytrace.simulator import SimulatorConfig, create_app

VISA = "4012000098765439"
MASTERCARD = "5499740000000057"
DISCOVER = "6011000993026909"
AMEX = "371449635392376"
TEST_CARDS = [VISA, MASTERCARD, DISCOVER, AMEX]
FUTURE_YEAR = str(datetime.now(UTC).year + 4)


class FakeClock:
    """A settable clock, so tests can create transactions on chosen days."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class Receiver:
    """Records Silent Posts sent through an httpx MockTransport."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self._statuses = list(statuses or [])

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self._statuses.pop(0) if self._statuses else 200
        return httpx.Response(status, text="OK")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "paytrace-sim.db"


@pytest.fixture
def config(db_path: Path) -> SimulatorConfig:
    return SimulatorConfig(db_path=str(db_path), merchants={"demo": "demo", "other": "pw2"})


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim")


@pytest.fixture
async def sim(config: SimulatorConfig) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(config)) as client:
        yield client


async def get_token(client: httpx.AsyncClient, user: str = "demo", password: str = "demo") -> str:
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": user, "password": password},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sale_body(amount: str = "125.00", **extra: object) -> dict[str, object]:
    number = str(extra.pop("number", VISA))
    body: dict[str, object] = {
        "amount": amount,
        "credit_card": {
            "number": number,
            "expiration_month": "12",
            "expiration_year": FUTURE_YEAR,
        },
        "integrator_id": "tracepost01",
    }
    body.update(extra)
    return body


async def sale(
    client: httpx.AsyncClient, token: str, amount: str = "125.00", **extra: object
) -> httpx.Response:
    return await client.post(
        "/v1/transactions/sale/keyed", json=sale_body(amount, **extra), headers=bearer(token)
    )


async def export_by_id(client: httpx.AsyncClient, token: str, transaction_id: object):
    return await client.post(
        "/v1/transactions/export/by_id",
        json={"transaction_id": transaction_id, "include_bin": False},
        headers=bearer(token),
    )


async def date_range(client: httpx.AsyncClient, token: str, **body: object) -> httpx.Response:
    return await client.post(
        "/v1/transactions/export/by_date_range", json=body, headers=bearer(token)
    )


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(500):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met within 5 seconds")


def last_delivery_is(client: httpx.AsyncClient, status: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        deliveries = (await client.get("/_sim/silent-posts")).json()["deliveries"]
        return bool(deliveries) and deliveries[-1]["status"] == status

    return check


# Authentication ---------------------------------------------------------------------------


async def test_token_issued_for_good_credentials(sim: httpx.AsyncClient) -> None:
    response = await sim.post(
        "/oauth/token",
        content="grant_type=password&username=demo&password=demo",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "created_at"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 7200
    assert isinstance(body["created_at"], int)
    assert len(body["access_token"]) >= 32


async def test_bad_password_is_invalid_grant(sim: httpx.AsyncClient) -> None:
    response = await sim.post(
        "/oauth/token", data={"grant_type": "password", "username": "demo", "password": "nope"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_grant"
    assert body["error_description"].startswith("The provided authorization grant is invalid")


async def test_other_grant_type_is_unsupported(sim: httpx.AsyncClient) -> None:
    response = await sim.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "demo", "client_secret": "demo"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_ping_needs_no_token(sim: httpx.AsyncClient) -> None:
    response = await sim.get("/v1/ping")
    assert response.status_code == 200
    assert response.json() == {"status": "success"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-real-token"}, {"Authorization": "Basic ZGVtbzpkZW1v"}],
)
async def test_missing_or_unknown_token_is_401(
    sim: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await sim.post("/v1/transactions/sale/keyed", json=sale_body(), headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_token"
    assert body["error_description"] == (
        "The access token provided is expired, revoked, malformed, or invalid for other reasons."
    )


async def test_expired_token_is_401_until_reauth(sim: httpx.AsyncClient) -> None:
    token = await get_token(sim)
    assert (await sale(sim, token)).status_code == 200
    expired = await sim.post("/_sim/tokens/expire")
    assert expired.status_code == 200
    assert expired.json()["expired"] >= 1
    response = await sale(sim, token)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    fresh = await get_token(sim)
    assert (await sale(sim, fresh)).status_code == 200


async def test_token_expires_after_ttl(config: SimulatorConfig) -> None:
    clock = FakeClock(datetime(2025, 3, 10, 15, 0, tzinfo=UTC))
    async with client_for(create_app(config, clock=clock)) as client:
        token = await get_token(client)
        clock.advance(seconds=7199)
        assert (await sale(client, token)).status_code == 200
        clock.advance(seconds=2)
        assert (await sale(client, token)).status_code == 401


# Keyed sale -------------------------------------------------------------------------------


@pytest.mark.parametrize("number", TEST_CARDS)
async def test_published_test_cards_approve(sim: httpx.AsyncClient, number: str) -> None:
    token = await get_token(sim)
    response = await sale(sim, token, "10.00", number=number, csc="999")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["response_code"] == 101
    assert body["status_message"] == "Your transaction was successfully approved."
    assert isinstance(body["transaction_id"], int)
    assert body["transaction_id"] >= 1000001
    assert body["approval_code"].startswith("TAS")
    assert body["avs_response"] == "No Match"
    assert body["csc_response"] == "Match"
    assert body["external_transaction_id"] == ""
    assert body["masked_card_number"] == "x" * (len(number) - 4) + number[-4:]
    assert number not in response.text


async def test_approval_avs_and_csc_rules(sim: httpx.AsyncClient) -> None:
    token = await get_token(sim)
    address = {"name": "Ann Buyer", "street_address": "8320 This Way Lane", "zip": "85284"}
    full = (await sale(sim, token, billing_address=address)).json()
    assert full["avs_response"] == "Full Exact Match"
    assert full["csc_response"] == ""
    plain = (await sale(sim, token)).json()
    assert plain["avs_response"] == "No Match"
    assert plain["approval_message"] == "  NO  MATCH - Approved and completed"


async def test_transaction_ids_increase(sim: httpx.AsyncClient) -> None:
    token = await get_token(sim)
    first = (await sale(sim, token)).json()["transaction_id"]
    second = (await sale(sim, token)).json()["transaction_id"]
    assert first == 1000001
    assert second == first + 1


async def test_amount_as_json_number_is_read_exactly(sim: httpx.AsyncClient) -> None:
    token = await get_token(sim)
    raw = json.dumps(sale_body("0")).replace('"amount": "0"', '"amount": 19.99')
    response = await sim.post(
        "/v1/transactions/sale/keyed",
        content=raw,
        headers={**bearer(token), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    exported = await export_by_id(sim, token, response.json()["transaction_id"])
    assert '"amount":19.99' in exported.text


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("1.29", "  EXPIRED CARD - Expired card"),
        ("5.02", "    DECLINE - Do not honor"),
        ("77.51", "    DECLINE - Insufficient funds"),
    ],
)
async def test_decline_by_amount_cents(sim: httpx.AsyncClient, amount: str, message: str) -> None:
    token = await get_token(sim)
    response = await sale(sim, token, amount, invoice_id="INV-DECLINE")
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["response_code"] == 102
    assert body["status_message"] == "Your transaction was not approved."
    assert body["approval_code"] == ""
    assert body["approval_message"] == message
    assert body["masked_card_number"] == "xxxxxxxxxxxx5439"
    transaction_id = body["transaction_id"]
    assert isinstance(transaction_id, int)

    exported = await export_by_id(sim, token, transaction_id)
    assert exported.status_code == 200
    record = exported.json()["transactions"][0]
    assert record["transaction_type"] == "SALE"
    assert record["status_code"] == 102
    assert record["approval_message"] == message
    assert record["amount"] == float(amount)


async def test_expired_card_is_declined_not_rejected(sim: httpx.AsyncClient) -> None:
    token = await get_token(sim)
    body = sale_body()
    body["credit_card"] = {"number": MASTERCARD, "expiration_month": 1, "expiration_year": 2019}
    response = await sim.post("/v1/transactions/sale/keyed", json=body, headers=bearer(token))
    assert response.status_code == 400
    assert response.json()["response_code"] == 102
    assert response.json()["approval_message"] == "  EXPIRED CARD - Expired card"


async def test_validation_errors_come_back_together(sim: httpx.AsyncClient) -> None:
    token = await get_token(sim)
    body = sale_body("250.00")
    body["credit_card"] = {
        "number": "4012000098765438",  # the Visa test number with a wrong check digit
        "expiration_month": "14",
        "expiration_year": "1999",
    }
    response = await sim.post("/v1/transactions/sale/keyed", json=body, headers=bearer(token))
    assert response.status_code == 400
    data = response.json()
    assert data["success"] is False
    assert data["response_code"] == 1
    assert data["status_message"] == "One or more errors has occurred."
    assert data["errors"] == {
        "35": ["Please provide a valid Credit Card Number."],
        "43": ["Please provide a valid Expiration Month."],
    }
    assert "transaction_id" not in data


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"amount": "0.00"}, "39"),
        ({"amount": "-5.00"}, "39"),
        ({"amount": "abc"}, "39"),
        ({"amount": "1.005"}, "39"),
        ({"amount": None}, "39"),
        ({"tax_amount": "x"}, "40"),
        ({"invoice_id": "I" * 51}, "47"),
        (
            {"credit_card": {"number": VISA, "expiration_month": "12", "expiration_year": "30x"}},
            "44",
        ),
        (
            {
                "credit_card": {
                    "number": "4012-0000",
                    "expiration_month": "12",
                    "expiration_year": "2030",
                }
            },
            "35",
        ),
    ],
)
async def test_single_validation_errors(
    sim: httpx.AsyncClient, change: dict[str, object], code: str
) -> None:
    token = await get_token(sim)
    body = sale_body()
    body.update(change)
    response = await sim.post("/v1/transactions/sale/keyed", json=body, headers=bearer(token))
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [code]


async def test_malformed_json_body_is_an_error(sim: httpx.AsyncClient) -> None:
    token = await get_token(sim)
    response = await sim.post(
        "/v1/transactions/sale/keyed",
        content=b"{not json",
        headers={**bearer(token), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["response_code"] == 1


# Export by id ----------------------------------------------------------------------------


async def test_export_by_id_record(config: SimulatorConfig, db_path: Path) -> None:
    # 2025-04-10 20:06:30 UTC is 4:06:30 PM in New York (EDT).
    clock = FakeClock(datetime(2025, 4, 10, 20, 6, 30, tzinfo=UTC))
    async with client_for(create_app(config, clock=clock)) as client:
        token = await get_token(client)
        response = await sale(
            client,
            token,
            "125.00",
            number=AMEX,
            csc="1234",
            invoice_id="INV-1001",
            customer_reference_id="PO-77",
            email="ap@example.com",
            description="April order",
            tax_amount="8.25",
            billing_address={
                "name": "Ann Buyer",
                "street_address": "8320 This Way Lane",
                "street_address2": "Suite 5",
                "city": "Placeville",
                "state": "CA",
                "zip": "85284",
                "country": "US",
            },
        )
        transaction_id = response.json()["transaction_id"]
        exported = await export_by_id(client, token, transaction_id)

    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/json")
    body = exported.json()
    assert body["success"] is True
    assert body["response_code"] == 1
    assert body["status_message"] == "Your request has been successfully completed."
    [record] = body["transactions"]
    assert record["transaction_id"] == transaction_id
    assert record["created"] == {
        "through": "API",
        "at": "4/10/2025 4:06:30 PM",
        "by": "demo",
        "from_ip": "127.0.0.1",
    }
    assert '"amount":125.00' in exported.text  # exact two-place JSON number
    assert json.loads(exported.text, parse_float=Decimal)["transactions"][0]["amount"] == Decimal(
        "125.00"
    )
    assert record["tax_amount"] == "8.25"
    assert record["transaction_type"] == "SALE"
    assert record["status_code"] == 101
    assert record["status_message"] == "Your transaction was successfully approved."
    assert record["approval_code"] == response.json()["approval_code"]
    assert record["approval_message"] == "  EXACT MATCH - Approved and completed"
    assert record["avs_response"] == "Full Exact Match"
    assert record["csc_response"] == "Match"
    assert record["credit_card"] == {
        "masked_number": "xxxxxxxxxxx2376",
        "expiration_month": "12",
        "expiration_year": FUTURE_YEAR,
    }
    assert record["invoice_id"] == "INV-1001"
    assert record["customer_reference_id"] == "PO-77"
    assert record["customer_id"] == ""
    assert record["description"] == "April order"
    assert record["email"] == "ap@example.com"
    assert record["billing_address"]["street_address2"] == "Suite 5"
    assert record["billing_address"]["country"] == "US"
    assert record["settled"] == ""

    # The full card number and CSC are nowhere: not in the response, not in the SQLite files.
    assert AMEX not in exported.text
    stored = b"".join(p.read_bytes() for p in db_path.parent.iterdir() if p.is_file())
    assert stored
    assert AMEX.encode() not in stored
    with closing(sqlite3.connect(db_path)) as conn:
        [row] = conn.execute(
            "SELECT * FROM transactions WHERE transaction_id = ?", (transaction_id,)
        ).fetchall()
    assert not any("1234" in str(value) for value in row)  # the CSC was not kept either


async def test_tokens_are_stored_hashed(sim: httpx.AsyncClient, db_path: Path) -> None:
    token = await get_token(sim)
    stored = b"".join(p.read_bytes() for p in db_path.parent.iterdir() if p.is_file())
    assert token.encode() not in stored


@pytest.mark.parametrize("transaction_id", [999, 99999999, "abc", None, ""])
async def test_export_unknown_id_is_error_58(sim: httpx.AsyncClient, transaction_id) -> None:
    token = await get_token(sim)
    response = await export_by_id(sim, token, transaction_id)
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["response_code"] == 1
    assert body["errors"] == {"58": ["Please provide a valid Transaction ID."]}


async def test_merchants_do_not_see_each_other(sim: httpx.AsyncClient) -> None:
    demo = await get_token(sim)
    other = await get_token(sim, "other", "pw2")
    transaction_id = (await sale(sim, demo)).json()["transaction_id"]
    assert (await export_by_id(sim, other, transaction_id)).json()["errors"].keys() == {"58"}
    assert (await export_by_id(sim, demo, transaction_id)).status_code == 200


# Export by date range --------------------------------------------------------------------


async def test_export_by_date_range_with_filters(config: SimulatorConfig) -> None:
    # 03:30 UTC on March 11 is still March 10 in New York: local dates decide.
    clock = FakeClock(datetime(2025, 3, 11, 3, 30, tzinfo=UTC))
    config = config.model_copy(update={"token_ttl_seconds": 30 * 86400})
    async with client_for(create_app(config, clock=clock)) as client:
        token = await get_token(client)
        first = (await sale(client, token, "10.00", invoice_id="INV-A1")).json()
        clock.advance(days=1)  # March 11 local
        second = (
            await sale(client, token, "20.02", invoice_id="INV-B2", description="Widgets")
        ).json()
        third = (await sale(client, token, "30.00", customer_reference_id="po-widgets")).json()
        clock.advance(days=2)  # March 13 local
        fourth = (await sale(client, token, "40.00", invoice_id="INV-D4")).json()

        async def ids(**body: object) -> list[int]:
            response = await date_range(client, token, **body)
            assert response.status_code == 200, response.text
            data = response.json()
            assert data["success"] is True
            assert data["response_code"] == 1
            return [t["transaction_id"] for t in data["transactions"]]

        all_ids = [first, second, third, fourth]
        assert await ids(start_date="03/10/2025", end_date="03/13/2025") == [
            t["transaction_id"] for t in all_ids
        ]
        assert await ids(start_date="03/10/2025", end_date="03/10/2025") == [
            first["transaction_id"]
        ]
        assert await ids(start_date="3/11/2025", end_date="3/12/2025") == [
            second["transaction_id"],
            third["transaction_id"],
        ]
        assert await ids(start_date="03/12/2025", end_date="03/12/2025") == []
        assert await ids(
            start_date="03/10/2025", end_date="03/13/2025", transaction_type="SALE"
        ) == [t["transaction_id"] for t in all_ids]
        assert (
            await ids(start_date="03/10/2025", end_date="03/13/2025", transaction_type="REFUND")
            == []
        )
        assert await ids(
            start_date="03/10/2025", end_date="03/13/2025", transaction_type="DECLINED"
        ) == [second["transaction_id"]]
        assert await ids(
            start_date="03/10/2025",
            end_date="03/13/2025",
            transaction_id=third["transaction_id"],
        ) == [third["transaction_id"]]
        assert await ids(
            start_date="03/10/2025", end_date="03/13/2025", including_text="WIDGETS"
        ) == [second["transaction_id"], third["transaction_id"]]
        assert await ids(
            start_date="03/10/2025", end_date="03/13/2025", including_text="inv-d4"
        ) == [fourth["transaction_id"]]
        assert await ids(start_date="03/10/2025", end_date="03/13/2025", customer_id="nobody") == []
        assert await ids(
            start_date="03/10/2025", end_date="03/13/2025", include_bin=True, customer_id=""
        ) == [t["transaction_id"] for t in all_ids]


@pytest.mark.parametrize(
    ("body", "codes"),
    [
        ({"start_date": "2025-03-10", "end_date": "03/13/2025"}, ["70"]),
        ({"start_date": "03/10/2025", "end_date": "13/45/2025"}, ["71"]),
        ({"end_date": "03/13/2025"}, ["70"]),
        ({"start_date": "02/30/2025", "end_date": ""}, ["70", "71"]),
        ({"start_date": "03/13/2025", "end_date": "03/10/2025"}, ["72"]),
        ({"start_date": "03/10/2025", "end_date": "03/13/2025", "transaction_id": "x"}, ["58"]),
    ],
)
async def test_export_by_date_range_bad_input(
    sim: httpx.AsyncClient, body: dict[str, object], codes: list[str]
) -> None:
    token = await get_token(sim)
    response = await date_range(sim, token, **body)
    assert response.status_code == 400
    data = response.json()
    assert data["success"] is False
    assert data["response_code"] == 1
    assert sorted(data["errors"]) == codes


# Persistence ----------------------------------------------------------------------------


async def test_state_survives_recreating_the_app(config: SimulatorConfig) -> None:
    async with client_for(create_app(config)) as client:
        token = await get_token(client)
        transaction_id = (await sale(client, token, invoice_id="INV-KEEP")).json()["transaction_id"]

    async with client_for(create_app(config)) as client:
        exported = await export_by_id(client, token, transaction_id)  # the old token still works
        assert exported.status_code == 200
        assert exported.json()["transactions"][0]["invoice_id"] == "INV-KEEP"
        next_id = (await sale(client, token)).json()["transaction_id"]
        assert next_id == transaction_id + 1


# Hosted checkout and Silent Post ---------------------------------------------------------


async def test_checkout_form_is_served(sim: httpx.AsyncClient) -> None:
    response = await sim.get("/checkout", params={"ORDERID": "INV-9", "AMOUNT": "12.50"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for field in ("AMOUNT", "ORDERID", "EMAIL", "CC", "EXPMNTH", "EXPYR"):
        assert f'name="{field}"' in response.text
    assert VISA in response.text
    assert 'value="INV-9"' in response.text


async def test_checkout_sends_silent_post(db_path: Path) -> None:
    receiver = Receiver()
    config = SimulatorConfig(db_path=str(db_path), silent_post_url="http://erp.test/silent-post")
    app = create_app(config, silent_post_transport=httpx.MockTransport(receiver))
    async with client_for(app) as client:
        response = await client.post(
            "/checkout/pay",
            data={"UN": "demo", "ORDERID": "INV-5001", "AMOUNT": "42.00", "EMAIL": "a@b.example"},
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["approved"] is True
        assert result["approval_message"] == "  NO  MATCH - Approved and completed"
        transaction_id = result["transaction_id"]

        await eventually(last_delivery_is(client, "delivered"))
        [post] = receiver.requests
        assert post.method == "POST"
        assert str(post.url) == "http://erp.test/silent-post"
        assert post.headers["content-type"] == "application/x-www-form-urlencoded"
        fields = {
            k: v[0] for k, v in parse_qs(post.content.decode(), keep_blank_values=True).items()
        }
        token = await get_token(client)
        record = (await export_by_id(client, token, transaction_id)).json()["transactions"][0]
        assert fields == {
            "ORDERID": "INV-5001",
            "TRANSACTIONID": str(transaction_id),
            "APPCODE": record["approval_code"],
            "APPMSG": "  NO  MATCH - Approved and completed",
            "AVSRESPONSE": "No Match",
            "CSCRESPONSE": "",
            "EMAIL": "a@b.example",
        }
        assert record["created"]["through"] == "Hosted Checkout"
        assert record["amount"] == 42.0
        assert record["credit_card"]["masked_number"] == "xxxxxxxxxxxx5439"


async def test_silent_post_retries_then_delivers(db_path: Path) -> None:
    receiver = Receiver(statuses=[503])
    config = SimulatorConfig(db_path=str(db_path), silent_post_url="http://erp.test/sp")
    app = create_app(config, silent_post_transport=httpx.MockTransport(receiver))
    async with client_for(app) as client:
        response = await client.post(
            "/checkout/pay",
            data={
                "ORDERID": "INV-7",
                "AMOUNT": "3.02",
                "EMAIL": "",
                "CC": MASTERCARD,
                "EXPMNTH": "11",
                "EXPYR": FUTURE_YEAR,
                "CSC": "123",
            },
        )
        assert response.status_code == 200
        assert "Declined" in response.text
        assert "xxxxxxxxxxxx0057" in response.text
        assert MASTERCARD not in response.text

        await eventually(last_delivery_is(client, "delivered"))
        assert len(receiver.requests) == 2
        deliveries = (await client.get("/_sim/silent-posts")).json()["deliveries"]
        assert deliveries[-1]["attempts"] == 2
        assert all(parse_qs(r.content.decode())["ORDERID"] == ["INV-7"] for r in receiver.requests)
        appmsg = parse_qs(receiver.requests[-1].content.decode())["APPMSG"]
        assert appmsg == ["    DECLINE - Do not honor"]


async def test_checkout_without_silent_post_url_sends_nothing(db_path: Path) -> None:
    receiver = Receiver()
    config = SimulatorConfig(db_path=str(db_path))
    app = create_app(config, silent_post_transport=httpx.MockTransport(receiver))
    async with client_for(app) as client:
        response = await client.post("/checkout/pay", data={"ORDERID": "INV-1", "AMOUNT": "9.00"})
        assert response.status_code == 200
        assert "Approved" in response.text
        await asyncio.sleep(0.05)
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"ORDERID": "INV-1", "AMOUNT": "zero"}, "valid Transaction Amount"),
        ({"UN": "stranger", "ORDERID": "INV-1", "AMOUNT": "1.00"}, "Unknown merchant"),
        ({"ORDERID": "INV-1", "AMOUNT": "1.00", "CC": "1234"}, "valid Credit Card Number"),
    ],
)
async def test_checkout_rejects_bad_forms(
    sim: httpx.AsyncClient, form: dict[str, str], reason: str
) -> None:
    html = await sim.post("/checkout/pay", data=form)
    assert html.status_code == 400
    assert reason in html.text
    as_json = await sim.post("/checkout/pay", data=form, headers={"Accept": "application/json"})
    assert as_json.status_code == 400
    assert reason in as_json.json()["error"]


async def test_admin_healthz(sim: httpx.AsyncClient) -> None:
    response = await sim.get("/_sim/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
