"""tracepost's PayTrace client against the bundled simulator: the two must not drift."""

from datetime import date
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.errors import PaytraceAuthError, PaytraceDeclined, PaytraceValidationError
from connectors.paytrace.models import CreditCard, KeyedSaleRequest
from connectors.paytrace.simulator import SimulatorConfig, create_app

CARDS = ["4012000098765439", "5499740000000057", "6011000993026909", "371449635392376"]


def sale(amount, card=CARDS[0], month="12", invoice="1001"):
    return KeyedSaleRequest(
        amount=Decimal(amount),
        credit_card=CreditCard(
            number=SecretStr(card), expiration_month=month, expiration_year="2030"
        ),
        invoice_id=invoice,
    )


@pytest.fixture
def app(tmp_path):
    return create_app(SimulatorConfig(db_path=str(tmp_path / "sim.db")))


@pytest.fixture
async def client(app):
    c = PaytraceClient("http://sim", "demo", "demo", transport=httpx.ASGITransport(app=app))
    yield c
    await c.aclose()


@pytest.mark.parametrize("card", CARDS)
async def test_published_test_cards_approve_and_export(client, card):
    resp = await client.sale_keyed(sale("125.00", card))
    assert resp.response_code == 101
    found = await client.export_by_id(resp.transaction_id)
    txn = found.to_domain()
    assert txn.approved and txn.amount == Decimal("125.00") and txn.invoice_id == "1001"
    assert txn.masked_card_number.endswith(card[-4:]) and card not in txn.model_dump_json()


async def test_decline_vs_validation_error(client):
    with pytest.raises(PaytraceDeclined) as declined:
        await client.sale_keyed(sale("10.02"))
    assert declined.value.transaction_id is not None
    exported = await client.export_by_id(declined.value.transaction_id)
    assert exported.to_domain().approved is False

    with pytest.raises(PaytraceValidationError) as invalid:
        await client.sale_keyed(sale("10.00", card="4012000098765430", month="13"))
    assert 35 in invalid.value.codes and 43 in invalid.value.codes


async def test_expired_token_is_refreshed_transparently(app, client):
    await client.sale_keyed(sale("1.00"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim"
    ) as admin:
        assert (await admin.post("/_sim/tokens/expire")).status_code == 200
    resp = await client.sale_keyed(sale("2.00"))
    assert resp.response_code == 101
    assert client.token_fetches == 2


async def test_wrong_password_is_auth_error(app):
    c = PaytraceClient("http://sim", "demo", "nope", transport=httpx.ASGITransport(app=app))
    with pytest.raises(PaytraceAuthError):
        await c.export_by_id(1)
    await c.aclose()


async def test_unknown_id_and_date_range(client):
    assert await client.export_by_id(999) is None
    first = await client.sale_keyed(sale("3.00", invoice="A-1"))
    await client.sale_keyed(sale("4.00", invoice="B-2"))
    today = date.today()
    everything = await client.export_by_date_range(
        date(today.year - 1, 1, 1), date(today.year + 1, 1, 1)
    )
    assert len(everything) == 2
    back = await client.find_transactions(
        (await client.export_by_id(first.transaction_id)).to_domain().created_at.date(),
        amount=Decimal("3.00"),
        invoice_id="A-1",
    )
    assert [t.transaction_id for t in back] == [first.transaction_id]
