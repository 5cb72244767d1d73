"""Charge, refund and void activities read PayTrace back instead of moving money twice."""

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.paytrace_money import PaytraceMoneyActivities
from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.models import CreditCard, CustomerRequest, KeyedSaleRequest
from connectors.paytrace.simulator import SimulatorConfig, create_app
from domain.activity_io import ChargeRequest, RefundRequest

TZ = "America/New_York"


@pytest.fixture
async def sim(tmp_path):
    app = create_app(SimulatorConfig(db_path=str(tmp_path / "sim.db"), auto_settle=False))
    transport = httpx.ASGITransport(app=app)
    client = PaytraceClient("http://sim", "demo", "demo", transport=transport)
    admin = httpx.AsyncClient(transport=transport, base_url="http://sim")
    await client.create_customer(
        CustomerRequest(
            customer_id="C0001",
            credit_card=CreditCard(
                number=SecretStr("4012000098765439"), expiration_month="12", expiration_year="2030"
            ),
        )
    )
    yield client, admin, PaytraceMoneyActivities(client, TZ)
    await admin.aclose()
    await client.aclose()


def attempt(n: int) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=n)
    return env


async def fault(admin, path, kind="lost_response", count=1):
    resp = await admin.post("/_sim/faults", json={"kind": kind, "path": path, "count": count})
    assert resp.status_code == 201


async def sales_with(client, key):
    today = datetime.now(ZoneInfo(TZ)).date()
    return await client.export_by_date_range(today, today, including_text=key)


async def test_lost_charge_answer_is_found_by_read_back(sim):
    client, admin, acts = sim
    await fault(admin, "/v1/transactions/sale/by_customer")
    request = ChargeRequest(
        customer_id="C0001", amount=Decimal("40.00"), invoice_id="1004", charge_key="k-1"
    )
    result = await attempt(1).run(acts.charge_customer, request)
    assert result.approved and result.found_by_read_back
    again = await attempt(2).run(acts.charge_customer, request)  # e.g. the worker died after it
    assert again.transaction_id == result.transaction_id and again.found_by_read_back
    assert len(await sales_with(client, "k-1")) == 1


async def test_reset_before_the_charge_retries_and_then_charges_once(sim):
    client, admin, acts = sim
    await fault(admin, "/v1/transactions/sale/by_customer", kind="reset")
    request = ChargeRequest(
        customer_id="C0001", amount=Decimal("40.00"), invoice_id="1004", charge_key="k-2"
    )
    with pytest.raises(ApplicationError) as lost:
        await attempt(1).run(acts.charge_customer, request)
    assert lost.value.type == "paytrace_ambiguous" and not lost.value.non_retryable
    assert await sales_with(client, "k-2") == []
    result = await attempt(2).run(acts.charge_customer, request)
    assert result.approved and not result.found_by_read_back
    assert len(await sales_with(client, "k-2")) == 1


async def test_a_charge_asked_for_again_in_a_new_activity_reads_back_first(sim):
    """After a park and an operator's retry the activity starts at attempt 1 again: with the
    workflow's ``first_requested_at`` it still reads back before it sends anything."""
    client, _admin, acts = sim
    first = ChargeRequest(
        customer_id="C0001", amount=Decimal("40.00"), invoice_id="1004", charge_key="k-park"
    )
    sent = await attempt(1).run(acts.charge_customer, first)
    assert sent.approved and not sent.found_by_read_back
    again = first.model_copy(update={"first_requested_at": datetime.now(UTC) - timedelta(hours=1)})
    found = await attempt(1).run(acts.charge_customer, again)
    assert found.found_by_read_back and found.transaction_id == sent.transaction_id
    assert len(await sales_with(client, "k-park")) == 1
    fresh = again.model_copy(update={"charge_key": "k-park-2"})
    new = await attempt(1).run(acts.charge_customer, fresh)  # nothing earlier: it charges
    assert new.approved and not new.found_by_read_back


async def test_decline_is_a_result(sim):
    _client, _admin, acts = sim
    request = ChargeRequest(
        customer_id="C0001", amount=Decimal("40.51"), invoice_id="1004", charge_key="k-3"
    )
    result = await attempt(1).run(acts.charge_customer, request)
    assert not result.approved and result.response_code == 102
    assert "Insufficient" in result.message


async def settled_sale(client, amount="125.00"):
    sale = await client.sale_keyed(
        KeyedSaleRequest(
            amount=Decimal(amount),
            credit_card=CreditCard(
                number=SecretStr("4012000098765439"), expiration_month="12", expiration_year="2030"
            ),
            invoice_id="1001",
        )
    )
    await client.settle()
    return sale.transaction_id


async def test_lost_refund_answer_is_not_refunded_twice(sim):
    client, admin, acts = sim
    sale_id = await settled_sale(client)
    await fault(admin, "/v1/transactions/refund/for_transaction")
    request = RefundRequest(
        transaction_id=sale_id, amount=Decimal("25.00"), requested_at=datetime.now(UTC)
    )
    refund = await attempt(1).run(acts.refund_transaction, request)
    assert refund.found_by_read_back and refund.amount == Decimal("25.00")
    again = await attempt(2).run(acts.refund_transaction, request)
    assert again.refund_transaction_id == refund.refund_transaction_id
    today = datetime.now(ZoneInfo(TZ)).date()
    refunds = await client.export_by_date_range(today, today, transaction_type="REFUND")
    assert [r.transaction_id for r in refunds] == [refund.refund_transaction_id]
    # A second partial refund is a new intent: with the first one known, it is made.
    second = await attempt(2).run(
        acts.refund_transaction,
        request.model_copy(update={"known_refund_ids": (refund.refund_transaction_id,)}),
    )
    assert second.refund_transaction_id != refund.refund_transaction_id
    assert not second.found_by_read_back


async def test_full_refund_reports_its_amount_and_refund_before_settlement_is_refused(sim):
    client, _admin, acts = sim
    sale_id = await settled_sale(client, "80.50")
    refund = await attempt(1).run(
        acts.refund_transaction,
        RefundRequest(transaction_id=sale_id, requested_at=datetime.now(UTC)),
    )
    assert refund.amount == Decimal("80.50")
    unsettled = await client.sale_keyed(
        KeyedSaleRequest(
            amount=Decimal("5.00"),
            credit_card=CreditCard(
                number=SecretStr("4012000098765439"), expiration_month="12", expiration_year="2030"
            ),
        )
    )
    with pytest.raises(ApplicationError) as refused:
        await attempt(1).run(
            acts.refund_transaction,
            RefundRequest(transaction_id=unsettled.transaction_id, requested_at=datetime.now(UTC)),
        )
    assert refused.value.non_retryable and "817" in str(refused.value)


async def test_lost_void_answer_counts_as_voided(sim):
    client, admin, acts = sim
    sale = await client.sale_keyed(
        KeyedSaleRequest(
            amount=Decimal("9.00"),
            credit_card=CreditCard(
                number=SecretStr("4012000098765439"), expiration_month="12", expiration_year="2030"
            ),
        )
    )
    await fault(admin, "/v1/transactions/void")
    result = await attempt(1).run(acts.void_transaction, sale.transaction_id)
    assert result.already_void
    assert (await attempt(2).run(acts.void_transaction, sale.transaction_id)).already_void
    assert (await client.export_by_id(sale.transaction_id)).transaction_type == "VOID"


def env_at(n: int, scheduled: datetime) -> ActivityEnvironment:
    env = attempt(n)
    env.info = dataclasses.replace(env.info, scheduled_time=scheduled)
    return env


async def test_a_slow_first_attempt_is_waited_for_not_repeated(tmp_path):
    """The sale is still being processed when the client gives up: never charge again."""
    from connectors.paytrace.simulator.faults import FaultRule
    from tests.serving import served

    config = SimulatorConfig(
        db_path=str(tmp_path / "sim.db"),
        faults=[FaultRule(kind="latency", path="/v1/transactions/sale", latency_ms=1500, count=1)],
    )
    # The activity's client gives up after 1 s, before the 1.5 s sale answers; the setup and the
    # final count use a client with the default timeouts (a loaded machine must not fail them).
    timeout = httpx.Timeout(connect=2.0, read=1.0, write=2.0, pool=2.0)
    async with (
        served(create_app(config), "simulator") as url,
        PaytraceClient(url, "demo", "demo") as setup,
        PaytraceClient(url, "demo", "demo", timeout=timeout) as client,
    ):
        await setup.create_customer(
            CustomerRequest(
                customer_id="C0001",
                credit_card=CreditCard(
                    number=SecretStr("4012000098765439"),
                    expiration_month="12",
                    expiration_year="2030",
                ),
            )
        )
        acts = PaytraceMoneyActivities(client, TZ, in_flight_grace=timedelta(seconds=2))
        request = ChargeRequest(
            customer_id="C0001", amount=Decimal("40.00"), invoice_id="1004", charge_key="slow"
        )
        with pytest.raises(ApplicationError) as unknown:
            await attempt(1).run(acts.charge_customer, request)
        assert unknown.value.type == "paytrace_ambiguous"
        assert unknown.value.next_retry_delay == timedelta(seconds=2)
        await asyncio.sleep(2)  # Temporal waits next_retry_delay before attempt 2
        result = await attempt(2).run(acts.charge_customer, request)
        assert result.approved and result.found_by_read_back
        assert len(await sales_with(setup, "slow")) == 1


async def test_a_voided_charge_reads_back_as_not_approved(sim):
    client, admin, acts = sim
    await fault(admin, "/v1/transactions/sale/by_customer")
    request = ChargeRequest(
        customer_id="C0001", amount=Decimal("40.00"), invoice_id="1004", charge_key="k-void"
    )
    first = await attempt(1).run(acts.charge_customer, request)
    await client.void(first.transaction_id)  # someone voided it before the retry
    again = await attempt(2).run(acts.charge_customer, request)
    assert again.transaction_id == first.transaction_id and not again.approved
    assert again.message == "voided"


async def test_read_back_reaches_back_to_the_first_attempt(tmp_path):
    """A retry days after the first attempt still finds it (the window follows scheduled_time)."""
    real_now = datetime.now(UTC)
    clock = {"now": real_now - timedelta(days=3)}
    app = create_app(
        SimulatorConfig(db_path=str(tmp_path / "sim.db"), auto_settle=False),
        clock=lambda: clock["now"],
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        PaytraceClient("http://sim", "demo", "demo", transport=transport) as client,
        httpx.AsyncClient(transport=transport, base_url="http://sim") as admin,
    ):
        await client.create_customer(
            CustomerRequest(
                customer_id="C0001",
                credit_card=CreditCard(
                    number=SecretStr("4012000098765439"),
                    expiration_month="12",
                    expiration_year="2030",
                ),
            )
        )
        await fault(admin, "/v1/transactions/sale/by_customer")
        acts = PaytraceMoneyActivities(client, TZ)
        request = ChargeRequest(
            customer_id="C0001", amount=Decimal("40.00"), invoice_id="1004", charge_key="old"
        )
        first = await env_at(1, clock["now"]).run(acts.charge_customer, request)
        clock["now"] = real_now
        again = await env_at(2, real_now - timedelta(days=3)).run(acts.charge_customer, request)
        assert again.transaction_id == first.transaction_id and again.found_by_read_back


async def test_another_sales_refund_on_the_same_invoice_is_not_taken_for_ours(sim):
    client, admin, acts = sim
    first = await settled_sale(client, "50.00")
    second = await settled_sale(client, "30.00")  # same invoice 1001, e.g. a split payment
    await client.refund_transaction(second)
    await fault(admin, "/v1/transactions/refund/for_transaction", kind="reset")
    request = RefundRequest(transaction_id=first, requested_at=datetime.now(UTC))
    with pytest.raises(ApplicationError):  # not sent, and nothing of ours found
        await attempt(1).run(acts.refund_transaction, request)
    refund = await attempt(2).run(acts.refund_transaction, request)
    assert refund.amount == Decimal("50.00") and not refund.found_by_read_back
    exported = await client.export_by_id(refund.refund_transaction_id)
    assert exported is not None and exported.amount == Decimal("50.00")


async def test_two_refunds_that_could_be_ours_stop_for_a_human(sim):
    client, admin, acts = sim
    sale_id = await settled_sale(client, "100.00")
    requested = datetime.now(UTC)
    await client.refund_transaction(sale_id, Decimal("10.00"))  # made by hand meanwhile
    await fault(admin, "/v1/transactions/refund/for_transaction")
    request = RefundRequest(transaction_id=sale_id, amount=Decimal("10.00"), requested_at=requested)
    with pytest.raises(ApplicationError) as unclear:
        await attempt(1).run(acts.refund_transaction, request)
    assert unclear.value.type == "paytrace_refund_unclear" and unclear.value.non_retryable


async def test_what_is_left_is_computed_before_sending(sim):
    client, _admin, acts = sim
    sale_id = await settled_sale(client, "100.00")
    part = await attempt(1).run(
        acts.refund_transaction,
        RefundRequest(
            transaction_id=sale_id, amount=Decimal("40.00"), requested_at=datetime.now(UTC)
        ),
    )
    rest = await attempt(1).run(
        acts.refund_transaction,
        RefundRequest(
            transaction_id=sale_id,
            already_refunded=Decimal("40.00"),
            known_refund_ids=(part.refund_transaction_id,),
            requested_at=datetime.now(UTC),
        ),
    )
    assert rest.amount == Decimal("60.00")
    with pytest.raises(ApplicationError) as nothing:
        await attempt(1).run(
            acts.refund_transaction,
            RefundRequest(
                transaction_id=sale_id,
                already_refunded=Decimal("100.00"),
                requested_at=datetime.now(UTC),
            ),
        )
    assert nothing.value.type == "paytrace_nothing_to_refund"


def test_money_to_move_is_never_rounded():
    with pytest.raises(ValueError):
        ChargeRequest(customer_id="C1", amount="40.005", invoice_id="1", charge_key="k")
    with pytest.raises(ValueError):
        ChargeRequest(customer_id="C1", amount="0.00", invoice_id="1", charge_key="k")
    with pytest.raises(ValueError):
        RefundRequest(transaction_id=1, amount="1.001", requested_at=datetime.now(UTC))


@pytest.mark.parametrize("generation", ["v1", "v3"])
async def test_the_same_exactly_once_charge_through_either_api_generation(tmp_path, generation):
    from connectors.paytrace.client_v3 import PaytraceV3Client

    app = create_app(SimulatorConfig(db_path=str(tmp_path / "sim.db")))
    transport = httpx.ASGITransport(app=app)
    v1 = PaytraceClient("http://sim", "demo", "demo", transport=transport)
    await v1.create_customer(
        CustomerRequest(
            customer_id="C 0001/x",  # needs escaping in the v3 path
            credit_card=CreditCard(
                number=SecretStr("4012000098765439"), expiration_month="12", expiration_year="2030"
            ),
        )
    )
    v3 = PaytraceV3Client(
        "http://sim",
        "demo",
        "demo",
        merchant_id=1,
        integrator_id="tracepost",
        merchant_timezone=TZ,
        transport=transport,
    )
    client = v1 if generation == "v1" else v3
    path = "/v1/transactions/sale/by_customer" if generation == "v1" else "/v3/card/sale/customer"
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as admin:
        await fault(admin, path)
    acts = PaytraceMoneyActivities(client, TZ)
    request = ChargeRequest(
        customer_id="C 0001/x", amount=Decimal("40.00"), invoice_id="1004", charge_key="both"
    )
    first = await attempt(1).run(acts.charge_customer, request)
    again = await attempt(2).run(acts.charge_customer, request)
    assert first.approved and first.found_by_read_back
    assert again.transaction_id == first.transaction_id
    assert len(await sales_with(v1, "both")) == 1
    declined = await attempt(1).run(
        acts.charge_customer,
        request.model_copy(update={"amount": Decimal("40.02"), "charge_key": "d"}),
    )
    assert not declined.approved and declined.response_code == 102
    await v1.aclose()
    await v3.aclose()
