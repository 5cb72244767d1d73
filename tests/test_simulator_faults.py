"""Fault injection in the PayTrace simulator, seen through tracepost's real PayTrace client.

The simulator is served by uvicorn on a real loopback port, so dropped connections and lost
answers are real TCP events, and the client's error taxonomy is checked against them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.errors import (
    PaytraceAmbiguousError,
    PaytraceRateLimited,
    PaytraceTransientError,
)
from connectors.paytrace.models import CreditCard, KeyedSaleRequest
from connectors.paytrace.simulator import SimulatorConfig, create_app
from connectors.paytrace.simulator.faults import FaultRule
from tests.serving import served

TEST_CARD = "4012000098765439"
TZ = ZoneInfo("America/New_York")
SALE = "/v1/transactions/sale/keyed"
EXPORT = "/v1/transactions/export/"
SHORT_READ = httpx.Timeout(connect=2, read=0.3, write=2, pool=2)


def sale(amount: str, invoice: str) -> KeyedSaleRequest:
    return KeyedSaleRequest(
        amount=Decimal(amount),
        credit_card=CreditCard(
            number=SecretStr(TEST_CARD), expiration_month="12", expiration_year="2030"
        ),
        invoice_id=invoice,
    )


def today() -> date:
    return datetime.now(TZ).date()


@dataclass
class Sim:
    url: str
    admin: httpx.AsyncClient
    paytrace: PaytraceClient

    def client(self, **kwargs: Any) -> PaytraceClient:
        return PaytraceClient(self.url, "demo", "demo", **kwargs)

    async def fault(self, **rule: Any) -> str:
        resp = await self.admin.post("/_sim/faults", json=rule)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])

    async def faults(self) -> list[dict[str, Any]]:
        resp = await self.admin.get("/_sim/faults")
        assert resp.status_code == 200
        return list(resp.json()["faults"])

    async def all_transactions(self) -> list[Any]:
        day = today()
        return await self.paytrace.export_by_date_range(
            day - timedelta(days=1), day + timedelta(days=1)
        )


@asynccontextmanager
async def serve(tmp_path: Path, **config: Any) -> AsyncIterator[Sim]:
    """Serve a fresh simulator with uvicorn on 127.0.0.1 and a free port (the OS picks it)."""
    app = create_app(SimulatorConfig(db_path=str(tmp_path / "sim.db"), **config))
    async with (
        served(app, "simulator") as url,
        httpx.AsyncClient(base_url=url) as admin,
        PaytraceClient(url, "demo", "demo") as paytrace,
    ):
        yield Sim(url, admin, paytrace)


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Sim]:
    async with serve(tmp_path) as running:
        yield running


@pytest.fixture(scope="module")
async def module_sim(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Sim]:
    async with serve(tmp_path_factory.mktemp("shared")) as running:
        yield running


@pytest.fixture
async def shared_sim(module_sim: Sim) -> Sim:
    """One server for tests that leave no transactions behind; its rules cleared first."""
    assert (await module_sim.admin.delete("/_sim/faults")).status_code == 200
    return module_sim


# -- each kind, classified by the client -------------------------------------------------------


async def test_rate_limit_is_rate_limited_with_the_retry_after_header(sim: Sim) -> None:
    await sim.fault(kind="rate_limit", path=EXPORT, retry_after=7)
    with pytest.raises(PaytraceRateLimited) as limited:
        await sim.paytrace.export_by_id(1)
    assert limited.value.retry_after == 7.0

    await sim.fault(kind="rate_limit", retry_after=3)
    raw = await sim.admin.get("/v1/ping")
    assert raw.status_code == 429 and raw.headers["retry-after"] == "3"
    assert raw.json()["success"] is False

    assert await sim.paytrace.export_by_id(1) is None  # count 1 each: both used up


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_http_error_on_a_read_is_transient(shared_sim: Sim, status: int) -> None:
    await shared_sim.fault(kind="http_error", path=EXPORT, status=status)
    with pytest.raises(PaytraceTransientError, match=f"HTTP {status}"):
        await shared_sim.paytrace.export_by_id(1)


async def test_http_error_on_a_sale_is_ambiguous_and_the_handler_did_not_run(sim: Sim) -> None:
    await sim.fault(kind="http_error", path="/v1/transactions/sale")
    with pytest.raises(PaytraceAmbiguousError, match="HTTP 503"):
        await sim.paytrace.sale_keyed(sale("10.00", "F-500"))
    assert await sim.all_transactions() == []

    await sim.fault(kind="http_error", status=502)
    raw = await sim.admin.get("/v1/ping")
    assert raw.status_code == 502 and raw.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in raw.text


async def test_reset_on_a_read_is_transient(sim: Sim) -> None:
    await sim.fault(kind="reset", path=EXPORT)
    with pytest.raises(PaytraceTransientError, match="answer lost"):
        await sim.paytrace.export_by_id(1)
    assert await sim.paytrace.export_by_id(1) is None


async def test_reset_on_a_sale_is_ambiguous_and_nothing_was_stored(sim: Sim) -> None:
    await sim.fault(kind="reset", path=SALE)
    with pytest.raises(PaytraceAmbiguousError, match="answer lost"):
        await sim.paytrace.sale_keyed(sale("20.00", "F-RST"))
    assert await sim.all_transactions() == []
    assert await sim.paytrace.find_transactions(today(), amount=Decimal("20.00")) == []


async def test_a_reset_sends_no_http_response_at_all(sim: Sim) -> None:
    await sim.fault(kind="reset", path="/v1/ping")
    with pytest.raises(httpx.TransportError) as dropped:
        await sim.admin.get("/v1/ping")
    assert isinstance(dropped.value, httpx.ReadError | httpx.RemoteProtocolError)
    assert "complete message body" not in str(dropped.value)  # not even a status line


async def test_lost_response_on_a_sale_is_ambiguous_but_the_sale_was_stored(sim: Sim) -> None:
    await sim.fault(kind="lost_response", path=SALE)
    with pytest.raises(PaytraceAmbiguousError, match="answer lost"):
        await sim.paytrace.sale_keyed(sale("30.00", "F-LOST"))

    stored = await sim.all_transactions()
    assert len(stored) == 1
    found = await sim.paytrace.find_transactions(
        today(), amount=Decimal("30.00"), invoice_id="F-LOST"
    )
    assert [t.transaction_id for t in found] == [stored[0].transaction_id]
    assert found[0].to_domain().approved


async def test_lost_response_cuts_the_answer_after_its_headers(sim: Sim) -> None:
    await sim.fault(kind="lost_response", path="/v1/ping")
    with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
        await sim.admin.get("/v1/ping")
    assert (await sim.admin.get("/v1/ping")).status_code == 200


async def test_latency_past_the_read_timeout_is_ambiguous_for_a_sale(sim: Sim) -> None:
    await sim.fault(kind="latency", path=SALE, latency_ms=800)
    async with sim.client(timeout=SHORT_READ) as impatient:
        with pytest.raises(PaytraceAmbiguousError, match="ReadTimeout"):
            await impatient.sale_keyed(sale("40.00", "F-SLOW"))

    # The simulator still handles the request once the delay is over: the sale happened.
    async with asyncio.timeout(5):
        while not (found := await sim.all_transactions()):
            await asyncio.sleep(0.1)
    assert [t.invoice_id for t in found] == ["F-SLOW"]


async def test_latency_then_the_request_is_handled_normally(sim: Sim) -> None:
    fault_id = await sim.fault(kind="latency", path=SALE, latency_ms=50)
    approved = await sim.paytrace.sale_keyed(sale("41.00", "F-LATE"))
    assert approved.response_code == 101
    assert fault_id not in [f["id"] for f in await sim.faults()]  # fired once, dropped


async def test_oauth_token_only_by_a_matching_prefix(sim: Sim) -> None:
    await sim.fault(kind="http_error", rate=1)  # default prefix /v1/: not the token endpoint
    async with sim.client() as fresh:
        with pytest.raises(PaytraceTransientError, match="HTTP 503"):
            await fresh.export_by_id(1)
        assert fresh.token_fetches == 1
    await sim.admin.delete("/_sim/faults")

    await sim.fault(kind="http_error", path="/oauth/token")
    async with sim.client() as fresh:
        with pytest.raises(PaytraceTransientError, match="token request failed with HTTP 503"):
            await fresh.export_by_id(1)
        assert await fresh.export_by_id(1) is None


# -- how often rules fire -----------------------------------------------------------------------


async def test_count_applies_exactly_n_times_then_stops(sim: Sim) -> None:
    fault_id = await sim.fault(kind="http_error", path=EXPORT, count=3)
    await sim.fault(kind="http_error", path="/v1/transactions/void", count=5)  # never matches
    for left in (2, 1, 0):
        with pytest.raises(PaytraceTransientError):
            await sim.paytrace.export_by_id(1)
        active = {f["id"]: f for f in await sim.faults()}
        if left:
            assert (active[fault_id]["remaining"], active[fault_id]["fired"]) == (left, 3 - left)
        else:
            assert fault_id not in active
    for _ in range(3):
        assert await sim.paytrace.export_by_id(1) is None
    [other] = await sim.faults()
    assert (other["remaining"], other["fired"]) == (5, 0)


async def test_first_matching_rule_that_fires_wins(sim: Sim) -> None:
    await sim.fault(kind="rate_limit", path="/v1/transactions/sale", count=1)
    await sim.fault(kind="http_error", path="/v1/", count=1)
    with pytest.raises(PaytraceRateLimited):
        await sim.paytrace.sale_keyed(sale("50.00", "F-1"))
    with pytest.raises(PaytraceAmbiguousError, match="HTTP 503"):
        await sim.paytrace.sale_keyed(sale("50.00", "F-2"))
    assert (await sim.paytrace.sale_keyed(sale("50.00", "F-3"))).response_code == 101


async def pings(sim: Sim, n: int) -> list[bool]:
    return [await sim.paytrace.ping() for _ in range(n)]


async def test_rate_with_a_fixed_seed_is_reproducible(tmp_path: Path) -> None:
    config: dict[str, Any] = {
        "fault_seed": 1234,
        "faults": [FaultRule(kind="http_error", path="/v1/ping", rate=0.5)],
    }
    async with serve(tmp_path / "a", **config) as first:
        pattern = await pings(first, 40)
        [rule] = await first.faults()
        assert rule["fired"] == pattern.count(False) and rule["remaining"] is None
        # Clearing restarts the sequence: the same rule again fails the same requests.
        assert (await first.admin.delete("/_sim/faults")).json() == {"cleared": 1}
        await first.fault(kind="http_error", path="/v1/ping", rate=0.5)
        assert await pings(first, 40) == pattern
    async with serve(tmp_path / "b", **config) as second:
        assert await pings(second, 40) == pattern
    async with serve(tmp_path / "c", **{**config, "fault_seed": 99}) as other_seed:
        assert await pings(other_seed, 40) != pattern
    assert 5 < pattern.count(False) < 35


async def test_rate_and_count_together(tmp_path: Path) -> None:
    async with serve(tmp_path, fault_seed=7) as sim:
        await sim.fault(kind="http_error", path="/v1/ping", rate=0.5, count=4)
        results = await pings(sim, 40)
        assert results.count(False) == 4 and await sim.faults() == []


async def test_config_rules_are_active_from_startup(tmp_path: Path) -> None:
    rules = [
        FaultRule(kind="rate_limit", path=EXPORT, count=2, retry_after=5),
        FaultRule(kind="lost_response", path=SALE),
    ]
    async with serve(tmp_path, faults=rules) as sim:
        listed = await sim.faults()
        assert [(f["id"], f["kind"], f["remaining"]) for f in listed] == [
            ("f1", "rate_limit", 2),
            ("f2", "lost_response", 1),
        ]
        for _ in range(2):
            with pytest.raises(PaytraceRateLimited):
                await sim.paytrace.export_by_id(1)
        with pytest.raises(PaytraceAmbiguousError):
            await sim.paytrace.sale_keyed(sale("60.00", "F-CFG"))
        assert len(await sim.all_transactions()) == 1
        assert await sim.faults() == []


def test_config_rejects_bad_rules(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="rate"):
        SimulatorConfig(db_path=str(tmp_path / "x.db"), faults=[{"kind": "reset", "rate": 2}])
    with pytest.raises(ValidationError, match="status applies only to kind 'http_error'"):
        SimulatorConfig(db_path=str(tmp_path / "x.db"), faults=[{"kind": "reset", "status": 503}])


# -- the admin API ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"kind": "reset", "rate": 2}, "rate: Input should be less than or equal to 1"),
        ({"kind": "reset", "rate": 0}, "rate: Input should be greater than 0"),
        ({"kind": "reset", "count": 0}, "count: Input should be greater than or equal to 1"),
        ({"kind": "explode"}, "kind: Input should be"),
        ({}, "kind: Field required"),
        ({"kind": "reset", "path": "v1/ping"}, "path must start with '/'"),
        ({"kind": "reset", "path": "/_sim/healthz"}, "never apply to the simulator's own"),
        ({"kind": "http_error", "status": 404}, "status: Input should be 500, 502, 503 or 504"),
        ({"kind": "latency", "status": 503}, "status applies only to kind 'http_error'"),
        ({"kind": "reset", "retry_after": 2}, "retry_after applies only to kind 'rate_limit'"),
        ({"kind": "latency", "latency_ms": 60001}, "latency_ms: Input should be less than"),
        ({"kind": "reset", "id": "mine"}, "id: assigned by the simulator"),
        ({"kind": "reset", "colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
async def test_admin_rejects_invalid_rules(
    shared_sim: Sim, body: dict[str, Any], reason: str
) -> None:
    resp = await shared_sim.admin.post("/_sim/faults", json=body)
    assert resp.status_code == 422
    assert any(reason in r for r in resp.json()["detail"]), resp.json()
    assert await shared_sim.faults() == []


async def test_admin_rejects_a_body_that_is_not_json(shared_sim: Sim) -> None:
    resp = await shared_sim.admin.post("/_sim/faults", content=b"kind=reset")
    assert resp.status_code == 422 and resp.json()["detail"]


async def test_admin_add_list_delete(sim: Sim) -> None:
    resp = await sim.admin.post("/_sim/faults", json={"kind": "http_error", "rate": 0.25})
    assert resp.status_code == 201
    first = resp.json()["id"]
    assert resp.json()["rule"] == {
        "id": first,
        "kind": "http_error",
        "path": "/v1/",
        "rate": 0.25,
        "count": None,
        "status": 503,
        "retry_after": None,
        "latency_ms": None,
    }
    second = await sim.fault(kind="latency")
    third = await sim.fault(kind="rate_limit", count=3)
    listed = await sim.faults()
    assert [f["id"] for f in listed] == [first, second, third]
    assert [(f["remaining"], f["fired"]) for f in listed] == [(None, 0), (1, 0), (3, 0)]
    assert listed[1]["latency_ms"] == 1000 and listed[2]["retry_after"] == 1

    assert (await sim.admin.delete(f"/_sim/faults/{second}")).json() == {"deleted": second}
    assert (await sim.admin.delete(f"/_sim/faults/{second}")).status_code == 404
    assert (await sim.admin.delete("/_sim/faults/nope")).status_code == 404
    assert [f["id"] for f in await sim.faults()] == [first, third]
    assert (await sim.admin.delete("/_sim/faults")).json() == {"cleared": 2}
    assert await sim.faults() == []
    assert await sim.fault(kind="reset") not in {first, second, third}  # ids are not reused


async def test_faults_never_touch_sim_paths(sim: Sim) -> None:
    await sim.fault(kind="reset", path="/", rate=1)
    await sim.fault(kind="rate_limit", path="/", count=5)
    for _ in range(3):
        assert (await sim.admin.get("/_sim/healthz")).status_code == 200
        assert (await sim.admin.get("/_sim/faults")).status_code == 200
        assert (await sim.admin.post("/_sim/tokens/expire")).status_code == 200
    assert [f["fired"] for f in await sim.faults()] == [0, 0]
    with pytest.raises(httpx.TransportError):
        await sim.admin.get("/v1/ping")
    assert [f["fired"] for f in await sim.faults()] == [1, 0]


# -- without a real connection ------------------------------------------------------------------


async def test_in_process_drops_raise_a_transport_error_into_the_client(tmp_path: Path) -> None:
    app = create_app(SimulatorConfig(db_path=str(tmp_path / "sim.db")))
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://sim") as admin,
        PaytraceClient("http://sim", "demo", "demo", transport=transport) as client,
    ):
        for kind in ("reset", "lost_response"):
            resp = await admin.post("/_sim/faults", json={"kind": kind, "path": SALE})
            assert resp.status_code == 201
            with pytest.raises(PaytraceAmbiguousError, match="answer lost"):
                await client.sale_keyed(sale("70.00", f"F-{kind}"))
        found = await client.find_transactions(today(), amount=Decimal("70.00"))
        assert [t.invoice_id for t in found] == ["F-lost_response"]
