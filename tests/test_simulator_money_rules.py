"""The simulator's money rules: settlement on the clock, refund and void limits under races,
state that survives restarts and upgrades, and merchants kept apart."""

import asyncio
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr

from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.errors import PaytraceValidationError
from connectors.paytrace.models import (
    BankAccount,
    CheckSaleRequest,
    CreditCard,
    KeyedSaleRequest,
)
from connectors.paytrace.simulator import SimulatorConfig, create_app
from connectors.paytrace.simulator.settlement import cutoffs_after

NY = ZoneInfo("America/New_York")


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def sale(amount: str) -> KeyedSaleRequest:
    return KeyedSaleRequest(
        amount=Decimal(amount),
        credit_card=CreditCard(
            number=SecretStr("4012000098765439"), expiration_month="12", expiration_year="2099"
        ),
        invoice_id="1001",
    )


def client_for(app, user: str = "demo", password: str = "demo") -> PaytraceClient:
    return PaytraceClient("http://sim", user, password, transport=httpx.ASGITransport(app=app))


def test_cutoffs_follow_local_time_across_daylight_saving():
    start = datetime(2026, 10, 31, 12, tzinfo=UTC)
    found = cutoffs_after(start, start + timedelta(days=3), time(3, 0), NY)
    assert [c.astimezone(NY).hour for c in found] == [3, 3, 3]
    # 3 AM EDT is 07:00 UTC; after the change on Nov 1, 3 AM EST is 08:00 UTC.
    assert [c.hour for c in found] == [8, 8, 8]
    assert found[0].date().isoformat() == "2026-11-01"


async def test_open_batch_settles_at_the_daily_cutoff(tmp_path):
    clock = Clock(datetime(2026, 11, 23, 15, 0, tzinfo=NY))
    app = create_app(SimulatorConfig(db_path=str(tmp_path / "s.db")), clock=clock)
    async with client_for(app) as pt:
        first = await pt.sale_keyed(sale("10.00"))
        clock.now = datetime(2026, 11, 24, 2, 59, tzinfo=NY)
        second = await pt.sale_keyed(sale("20.00"))
        assert await pt.export_batch() is None  # nothing settled before 3 AM
        voided = await pt.void(second.transaction_id)  # still unsettled: void is allowed
        assert voided.response_code == 109
        clock.now = datetime(2026, 11, 24, 4, 0, tzinfo=NY)  # after the cut-off: next batch
        third = await pt.sale_keyed(sale("30.00"))
        clock.now = datetime(2026, 11, 25, 9, 0, tzinfo=NY)  # two cut-offs have passed
        batches = await pt.export_batches(
            datetime(2026, 11, 24).date(), datetime(2026, 11, 25).date()
        )
        assert [(b.number, b.transaction_count, b.net_amount) for b in batches] == [
            (1, 1, Decimal("10.00")),
            (2, 1, Decimal("30.00")),
        ]
        assert batches[0].settled == "11/24/2026 3:00:00 AM"
        (in_first,) = await pt.batch_transactions(1)
        assert in_first.transaction_id == first.transaction_id
        # Settled now: the void route is closed and refunds open.
        with pytest.raises(PaytraceValidationError) as closed:
            await pt.void(third.transaction_id)
        assert closed.value.codes == [816]
        refund = await pt.refund_transaction(third.transaction_id, Decimal("5.00"))
        exported = await pt.export_by_id(refund.transaction_id)
        assert exported is not None and exported.invoice_id == "1001"
        assert exported.transaction_type == "REFUND" and exported.settled == ""


async def test_auto_settle_off_waits_for_the_settle_call(tmp_path):
    clock = Clock(datetime(2026, 11, 23, 15, 0, tzinfo=NY))
    config = SimulatorConfig(db_path=str(tmp_path / "s.db"), auto_settle=False)
    app = create_app(config, clock=clock)
    async with client_for(app) as pt:
        await pt.sale_keyed(sale("10.00"))
        clock.now += timedelta(days=3)
        assert await pt.export_batch() is None
        assert await pt.settle() == 1
        assert await pt.settle() is None  # no empty batches


async def test_authorization_settles_only_once_captured(tmp_path):
    config = SimulatorConfig(db_path=str(tmp_path / "s.db"), auto_settle=False)
    async with client_for(create_app(config)) as pt:
        auth = await pt.authorize_keyed(sale("50.00"))
        assert await pt.settle() is None
        with pytest.raises(PaytraceValidationError) as too_much:
            await pt.capture(auth.transaction_id, Decimal("50.01"))
        assert too_much.value.codes == [813]
        await pt.capture(auth.transaction_id, Decimal("45.00"))
        with pytest.raises(PaytraceValidationError) as twice:
            await pt.capture(auth.transaction_id)
        assert twice.value.codes == [812]
        number = await pt.settle()
        assert number is not None
        (captured,) = await pt.batch_transactions(number)
        assert captured.transaction_type == "CAPTURE" and captured.amount == Decimal("45.00")
        assert captured.to_domain().money_received


async def test_racing_partial_refunds_never_exceed_the_sale(tmp_path):
    config = SimulatorConfig(db_path=str(tmp_path / "s.db"), auto_settle=False)
    async with client_for(create_app(config)) as pt:
        original = await pt.sale_keyed(sale("100.00"))
        await pt.settle()

        async def refund() -> bool:
            try:
                await pt.refund_transaction(original.transaction_id, Decimal("30.00"))
            except PaytraceValidationError as exc:
                assert exc.codes == [814]
                return False
            return True

        outcomes = await asyncio.gather(*(refund() for _ in range(6)))
        assert outcomes.count(True) == 3  # 3 x 30.00 fits in 100.00, a fourth does not
        rest = await pt.refund_transaction(original.transaction_id)
        exported = await pt.export_by_id(rest.transaction_id)
        assert exported is not None and exported.amount == Decimal("10.00")


async def test_state_survives_restart_and_merchants_stay_apart(tmp_path):
    config = SimulatorConfig(
        db_path=str(tmp_path / "s.db"), merchants={"demo": "demo", "other": "pw"}
    )
    async with client_for(create_app(config)) as pt:
        kept = await pt.sale_keyed(sale("12.00"))
        check = await pt.check_sale(
            CheckSaleRequest(
                amount=Decimal("7.00"),
                check=BankAccount(
                    account_number=SecretStr("000123456789"), routing_number="325070760"
                ),
            )
        )
    restarted = create_app(config)
    async with client_for(restarted) as pt:
        assert (await pt.export_by_id(kept.transaction_id)) is not None
        assert (await pt.check_void(check.check_transaction_id)).response_code == 124
    async with client_for(restarted, "other", "pw") as other:
        assert await other.export_by_id(kept.transaction_id) is None
        with pytest.raises(PaytraceValidationError) as foreign:
            await other.void(kept.transaction_id)
        assert foreign.value.codes == [58]
    with closing(sqlite3.connect(tmp_path / "s.db")) as conn:
        stored = "\n".join(str(row) for row in conn.execute("SELECT * FROM checks"))
    assert "000123456789" not in stored and "6789" in stored


async def test_a_version_1_state_file_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(
            """
            CREATE TABLE tokens (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL,
                created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
            CREATE TABLE transactions (
                transaction_id INTEGER PRIMARY KEY AUTOINCREMENT, merchant TEXT NOT NULL,
                transaction_type TEXT NOT NULL, response_code INTEGER NOT NULL,
                status_message TEXT NOT NULL, approval_code TEXT NOT NULL,
                approval_message TEXT NOT NULL, avs_response TEXT NOT NULL,
                csc_response TEXT NOT NULL, amount TEXT NOT NULL, tax_amount TEXT NOT NULL,
                card_type TEXT NOT NULL, masked_number TEXT NOT NULL,
                expiration_month TEXT NOT NULL, expiration_year TEXT NOT NULL,
                invoice_id TEXT NOT NULL, customer_reference_id TEXT NOT NULL,
                customer_id TEXT NOT NULL, description TEXT NOT NULL, email TEXT NOT NULL,
                billing_address TEXT NOT NULL, shipping_address TEXT NOT NULL,
                external_transaction_id TEXT NOT NULL, created_through TEXT NOT NULL,
                created_by TEXT NOT NULL, created_from_ip TEXT NOT NULL,
                created_at_us INTEGER NOT NULL, settled_at_us INTEGER);
            INSERT INTO transactions VALUES (1000001, 'demo', 'SALE', 101, 'ok', 'TAS1', 'ok',
                '', '', '15.00', '0.00', 'VISA', 'xxxxxxxxxxxx5439', '12', '2099', '1001', '',
                '', '', '', '{}', '{}', '', 'API', 'demo', '127.0.0.1', 1, NULL);
            PRAGMA user_version = 1;
            """
        )
    config = SimulatorConfig(db_path=str(path), auto_settle=False)
    async with client_for(create_app(config)) as pt:
        old = await pt.export_by_id(1000001)
        assert old is not None and old.amount == Decimal("15.00")
        assert await pt.settle() == 1  # the old sale joins the next batch like any other
        refund = await pt.refund_transaction(1000001)
        exported = await pt.export_by_id(refund.transaction_id)
        assert exported is not None and exported.amount == Decimal("15.00")


async def test_absurd_amounts_are_error_39_not_a_crash(tmp_path):
    app = create_app(SimulatorConfig(db_path=str(tmp_path / "s.db")))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as s:
        token = (
            await s.post(
                "/oauth/token",
                data={"grant_type": "password", "username": "demo", "password": "demo"},
            )
        ).json()["access_token"]
        for amount in ("1e30", "NaN", "-1.00", "0.001"):
            resp = await s.post(
                "/v1/transactions/sale/keyed",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "amount": amount,
                    "credit_card": {
                        "number": "4012000098765439",
                        "expiration_month": "12",
                        "expiration_year": "2099",
                    },
                },
            )
            assert resp.status_code == 400 and "39" in resp.json()["errors"], amount


async def test_held_checks_settle_from_funding_and_refused_holds_cannot_be_funded(tmp_path):
    clock = Clock(datetime(2026, 11, 23, 15, 0, tzinfo=NY))
    app = create_app(SimulatorConfig(db_path=str(tmp_path / "s.db")), clock=clock)
    account = {"account_number": "000123456789", "routing_number": "325070760"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as s:

        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            form = {"grant_type": "password", "username": "demo", "password": "demo"}
            token = (await s.post("/oauth/token", data=form)).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}  # the clock jumps days: a fresh token
            answer: dict[str, Any] = (await s.post(path, headers=auth, json=body)).json()
            return answer

        held = await post("/v1/checks/hold/by_account", {"amount": "60.00", "check": account})
        refused = await post("/v1/checks/hold/by_account", {"amount": "60.51", "check": account})
        assert held["response_code"] == 120 and refused["response_code"] == 125
        clock.now = datetime(2026, 11, 25, 15, 0, tzinfo=NY)  # two cut-offs: a hold never settles
        funded = await post(
            "/v1/checks/manage/fund",
            {"check_transaction_id": held["check_transaction_id"], "amount": "50.00"},
        )
        assert funded.get("response_code") == 124, funded
        again = await post(
            "/v1/checks/manage/fund", {"check_transaction_id": refused["check_transaction_id"]}
        )
        assert again["errors"].keys() == {"80"}
        early = await post(
            "/v1/checks/refund/by_transaction",
            {"check_transaction_id": held["check_transaction_id"]},
        )
        assert "817" in early["errors"]  # funded today: not settled until the next cut-off
        clock.now = datetime(2026, 11, 26, 4, 0, tzinfo=NY)
        refund = await post(
            "/v1/checks/refund/by_transaction",
            {"check_transaction_id": held["check_transaction_id"]},
        )
        assert refund["response_code"] == 122
