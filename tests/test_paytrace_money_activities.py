"""Charge, refund and void activities read PayTrace back instead of moving money twice."""

import dataclasses
from datetime import UTC, datetime
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
