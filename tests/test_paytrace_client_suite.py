"""One client test suite, run twice: against recorded PayTrace bodies (respx) and the simulator.

In ``recorded`` mode every answer comes from ``tests/paytrace_fixtures.py`` (shapes from
PayTrace's documentation and public transcripts); in ``simulator`` mode the same calls go to the
bundled simulator, which must answer in the same shapes. The assertions are identical, so the
client, the recordings and the simulator cannot drift apart.
"""

import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.errors import PaytraceDeclined, PaytraceValidationError
from connectors.paytrace.models import (
    BankAccount,
    BillingAddress,
    CheckSaleRequest,
    CreditCard,
    CustomerRequest,
    CustomerSaleRequest,
    KeyedSaleRequest,
    LevelThreeRequest,
    LineItem,
    RecurrenceRequest,
)
from connectors.paytrace.simulator import SimulatorConfig, create_app
from tests import paytrace_fixtures as fx

BASE = "http://paytrace.test"
VISA = "4012000098765439"
ACCOUNT = "123456789012"
ROUTING = "325070760"


class RecordingTransport(httpx.AsyncBaseTransport):
    """Remembers every JSON body sent, then passes the request on."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: list[tuple[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        is_json = request.headers.get("content-type", "").startswith("application/json")
        self.sent.append((request.url.path, json.loads(body) if is_json and body else None))
        return await self.inner.handle_async_request(request)


class Backend:
    """Either PayTrace as recorded, or the simulator; tests only say what PayTrace answers."""

    def __init__(self, mode: str, inner: httpx.AsyncBaseTransport, router: Any = None) -> None:
        self.mode = mode
        self.router = router
        self.queues: dict[str, list[httpx.Response]] = {}
        self.transport = RecordingTransport(inner)
        self.client = PaytraceClient(BASE, "demo", "demo", transport=self.transport)

    def answer(self, path: str, body: dict[str, Any], status: int | None = None) -> None:
        """In recorded mode, queue PayTrace's answer to the next call of ``path``."""
        if self.mode != "recorded":
            return
        if status is None:
            status = 200 if body.get("success", True) else 400
        if path not in self.queues:
            self.queues[path] = []
            queue = self.queues[path]
            self.router.post(path).mock(side_effect=lambda _request: queue.pop(0))
        self.queues[path].append(httpx.Response(status, json=body))

    async def expire_token(self, next_path: str) -> None:
        """Make PayTrace reject the current token on the next call of ``next_path``."""
        if self.mode == "recorded":
            self.answer(next_path, fx.INVALID_TOKEN, status=401)
            return
        await self.transport.inner.handle_async_request(
            httpx.Request("POST", f"{BASE}/_sim/tokens/expire")
        )

    def sent_to(self, path: str) -> Any:
        """The JSON body of the last call to ``path``."""
        return [body for p, body in self.transport.sent if p == path][-1]


@pytest.fixture(params=["recorded", "simulator"])
async def backend(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Backend]:
    if request.param == "recorded":
        with respx.mock(base_url=BASE, assert_all_called=False) as router:
            router.post("/oauth/token").respond(200, json=fx.TOKEN)
            b = Backend("recorded", httpx.MockTransport(router.handler), router)
            yield b
            await b.client.aclose()
    else:
        config = SimulatorConfig(db_path=str(tmp_path / "sim.db"), auto_settle=False)
        b = Backend("simulator", httpx.ASGITransport(app=create_app(config)))
        yield b
        await b.client.aclose()


def card() -> CreditCard:
    return CreditCard(number=SecretStr(VISA), expiration_month="12", expiration_year="2030")


def keyed(amount: str, invoice: str = "1001") -> KeyedSaleRequest:
    return KeyedSaleRequest(amount=Decimal(amount), credit_card=card(), invoice_id=invoice)


def customer(customer_id: str = "C0001") -> CustomerRequest:
    return CustomerRequest(
        customer_id=customer_id,
        credit_card=card(),
        billing_address=BillingAddress(name="Acme Supply", zip="98101"),
        email="ap@acme.example",
    )


async def test_keyed_sale_sends_amount_as_decimal_string_and_gets_masked_card(backend):
    backend.answer("/v1/transactions/sale/keyed", fx.APPROVED_SALE)
    resp = await backend.client.sale_keyed(keyed("125.00"))
    assert resp.success and resp.response_code == 101 and resp.transaction_id > 0
    assert resp.masked_card_number.endswith("5439") and VISA not in resp.model_dump_json()
    sent = backend.sent_to("/v1/transactions/sale/keyed")
    assert sent["amount"] == "125.00" and sent["credit_card"]["number"] == VISA


async def test_decline_carries_transaction_id_and_reason(backend):
    backend.answer("/v1/transactions/sale/keyed", fx.DECLINED_SALE)
    with pytest.raises(PaytraceDeclined) as declined:
        await backend.client.sale_keyed(keyed("10.02"))
    assert declined.value.response_code == 102 and declined.value.transaction_id
    assert "Do not honor" in declined.value.approval_message


async def test_several_validation_codes_are_kept(backend):
    backend.answer("/v1/transactions/sale/keyed", fx.VALIDATION_ERRORS)
    bad = KeyedSaleRequest(
        amount=Decimal("5.00"),
        credit_card=CreditCard(
            number=SecretStr("4012000098765430"), expiration_month="13", expiration_year="2030"
        ),
    )
    with pytest.raises(PaytraceValidationError) as invalid:
        await backend.client.sale_keyed(bad)
    assert {35, 43} <= set(invalid.value.codes)
    assert "4012000098765430" not in str(invalid.value)


async def test_expired_token_is_refreshed_once(backend):
    backend.answer("/v1/transactions/sale/keyed", fx.APPROVED_SALE)
    await backend.client.sale_keyed(keyed("1.00"))
    await backend.expire_token("/v1/transactions/sale/keyed")
    backend.answer("/v1/transactions/sale/keyed", fx.APPROVED_SALE)
    resp = await backend.client.sale_keyed(keyed("2.00"))
    assert resp.response_code == 101 and backend.client.token_fetches == 2


async def test_authorization_then_partial_capture(backend):
    backend.answer("/v1/transactions/authorization/keyed", fx.AUTHORIZED)
    auth = await backend.client.authorize_keyed(keyed("50.00"))
    backend.answer("/v1/transactions/authorization/capture", fx.CAPTURED)
    captured = await backend.client.capture(auth.transaction_id, Decimal("30.00"))
    assert captured.response_code == 112 and captured.transaction_id == auth.transaction_id
    assert backend.sent_to("/v1/transactions/authorization/capture") == {
        "transaction_id": auth.transaction_id,
        "amount": "30.00",
    }


async def test_void_unsettled_sale(backend):
    backend.answer("/v1/transactions/sale/keyed", fx.APPROVED_SALE)
    sale = await backend.client.sale_keyed(keyed("20.00"))
    backend.answer("/v1/transactions/void", fx.VOIDED)
    voided = await backend.client.void(sale.transaction_id)
    assert voided.response_code == 109 and voided.transaction_id == sale.transaction_id


async def test_refund_needs_settlement_then_partial_refund(backend):
    backend.answer("/v1/transactions/sale/keyed", fx.APPROVED_SALE)
    sale = await backend.client.sale_keyed(keyed("125.00"))
    backend.answer("/v1/transactions/refund/for_transaction", fx.REFUND_UNSETTLED)
    with pytest.raises(PaytraceValidationError) as early:
        await backend.client.refund_transaction(sale.transaction_id, Decimal("25.00"))
    assert early.value.codes == [817]
    backend.answer("/v1/transactions/settle", fx.SETTLED)
    assert await backend.client.settle()
    backend.answer("/v1/transactions/refund/for_transaction", fx.REFUNDED)
    refund = await backend.client.refund_transaction(sale.transaction_id, Decimal("25.00"))
    assert refund.response_code == 106 and refund.transaction_id != sale.transaction_id


async def test_vault_customer_lifecycle(backend):
    backend.answer("/v1/customer/create", fx.CUSTOMER_CREATED)
    created = await backend.client.create_customer(customer())
    assert created.response_code == 160 and created.customer_id == "C0001"
    assert created.masked_card_number.endswith("5439")
    backend.answer("/v1/customer/create", fx.CUSTOMER_DUPLICATE)
    with pytest.raises(PaytraceValidationError) as dup:
        await backend.client.create_customer(customer())
    assert dup.value.codes == [171]
    backend.answer("/v1/customer/update", fx.CUSTOMER_UPDATED)
    updated = await backend.client.update_customer(
        CustomerRequest(customer_id="C0001", email="ap@acme.example")
    )
    assert updated.response_code == 161
    backend.answer("/v1/customer/export", fx.CUSTOMER_EXPORT)
    (exported,) = await backend.client.export_customers("C0001")
    assert exported.credit_card is not None
    assert exported.credit_card.masked_number.endswith("5439")
    assert VISA not in exported.model_dump_json() and exported.email == "ap@acme.example"
    backend.answer("/v1/transactions/sale/by_customer", fx.SALE_BY_CUSTOMER)
    sale = await backend.client.sale_by_customer(
        CustomerSaleRequest(amount=Decimal("40.00"), customer_id="C0001", invoice_id="1004")
    )
    assert sale.response_code == 101 and sale.masked_card_number == ""  # vault sales omit it
    backend.answer("/v1/customer/delete", fx.CUSTOMER_DELETED)
    assert (await backend.client.delete_customer("C0001")).response_code == 162
    backend.answer("/v1/customer/delete", fx.CUSTOMER_UNKNOWN)
    with pytest.raises(PaytraceValidationError) as gone:
        await backend.client.delete_customer("C0001")
    assert gone.value.codes == [30]


async def test_vault_profile_from_a_sale(backend):
    backend.answer("/v1/transactions/sale/keyed", fx.APPROVED_SALE)
    sale = await backend.client.sale_keyed(keyed("125.00"))
    backend.answer("/v1/customer/create_from_transaction", fx.CUSTOMER_CREATED)
    created = await backend.client.create_customer_from_transaction(sale.transaction_id, "C0001")
    assert created.response_code == 160 and created.masked_card_number.endswith("5439")
    assert backend.sent_to("/v1/customer/create_from_transaction") == {
        "transaction_id": sale.transaction_id,
        "customer_id": "C0001",
    }


async def test_recurrence_create_and_delete(backend):
    backend.answer("/v1/customer/create", fx.CUSTOMER_CREATED)
    await backend.client.create_customer(customer())
    backend.answer("/v1/recurrence/create", fx.RECURRENCE_CREATED)
    spec = RecurrenceRequest(amount=Decimal("40.00"), start_date="12/01/2026", frequency=3)
    recurrence = await backend.client.create_recurrence("C0001", spec)
    assert recurrence.id > 0 and recurrence.amount == Decimal("40.00")
    backend.answer("/v1/recurrence/delete", fx.RECURRENCE_DELETED)
    assert (await backend.client.delete_recurrence(recurrence.id)).success


async def test_ach_sale_decline_and_void(backend):
    request = CheckSaleRequest(
        amount=Decimal("75.00"),
        check=BankAccount(account_number=SecretStr(ACCOUNT), routing_number=ROUTING),
        invoice_id="1002",
    )
    backend.answer("/v1/checks/sale/by_account", fx.CHECK_PROCESSED)
    check = await backend.client.check_sale(request)
    assert check.response_code == 120 and check.check_transaction_id > 0
    assert ACCOUNT not in repr(request) and ACCOUNT not in check.model_dump_json()
    backend.answer("/v1/checks/sale/by_account", fx.CHECK_NOT_PROCESSED)
    with pytest.raises(PaytraceDeclined) as refused:
        await backend.client.check_sale(request.model_copy(update={"amount": Decimal("75.51")}))
    assert refused.value.response_code == 125 and refused.value.transaction_id
    backend.answer("/v1/checks/manage/void", fx.CHECK_VOIDED)
    assert (await backend.client.check_void(check.check_transaction_id)).response_code == 124
    backend.answer("/v1/checks/manage/void", fx.CHECK_NOT_FOUND)
    with pytest.raises(PaytraceValidationError) as again:
        await backend.client.check_void(check.check_transaction_id)
    assert again.value.codes == [80]


async def test_settled_batch_summary_and_transactions(backend):
    backend.answer("/v1/transactions/sale/keyed", fx.APPROVED_SALE)
    sale = await backend.client.sale_keyed(keyed("125.00"))
    backend.answer("/v1/transactions/settle", fx.SETTLED)
    number = await backend.client.settle()
    assert number is not None
    backend.answer("/v1/batches/export_one", fx.BATCH_ONE)
    batch = await backend.client.export_batch()
    assert batch is not None and batch.number == number
    assert batch.net_amount == Decimal("125.00") and batch.transaction_count == 1
    backend.answer("/v1/batches/transaction_list", fx.BATCH_TRANSACTIONS)
    (txn,) = await backend.client.batch_transactions(number)
    assert txn.transaction_id == sale.transaction_id and txn.to_domain().settled_at is not None
    assert backend.sent_to("/v1/batches/transaction_list") == {"batch_number": number}


async def test_level_three_on_an_unsettled_visa_sale(backend):
    backend.answer("/v1/transactions/sale/keyed", fx.APPROVED_SALE)
    sale = await backend.client.sale_keyed(keyed("125.00"))
    backend.answer("/v1/level_three/visa", fx.LEVEL_THREE_ADDED)
    added = await backend.client.add_level_three(
        "visa",
        LevelThreeRequest(
            transaction_id=sale.transaction_id,
            invoice_id="1001",
            line_items=[
                LineItem(product_id="SKU-1", quantity=Decimal("2"), amount=Decimal("125.00"))
            ],
        ),
    )
    assert added.response_code == 170


async def test_export_by_date_range_filters_by_type(backend):
    backend.answer("/v1/transactions/sale/keyed", fx.APPROVED_SALE)
    await backend.client.sale_keyed(keyed("125.00"))
    backend.answer("/v1/transactions/export/by_date_range", fx.EXPORT_ONE)
    today = date.today()
    found = await backend.client.export_by_date_range(
        today - timedelta(days=1), today + timedelta(days=1), transaction_type="SALE"
    )
    assert [t.amount for t in found] == [Decimal("125.00")]
    sent = backend.sent_to("/v1/transactions/export/by_date_range")
    assert sent["transaction_type"] == "SALE" and len(sent["start_date"]) == 10


async def test_ach_hold_fund_return_and_export(backend):
    request = CheckSaleRequest(
        amount=Decimal("60.00"),
        check=BankAccount(account_number=SecretStr(ACCOUNT), routing_number=ROUTING),
        invoice_id="1002",
    )
    backend.answer("/v1/checks/hold/by_account", fx.CHECK_HELD)
    held = await backend.client.check_hold(request)
    backend.answer("/v1/checks/manage/fund", fx.CHECK_FUNDED)
    funded = await backend.client.check_fund(held.check_transaction_id, Decimal("50.00"))
    assert held.response_code == 120 and funded.response_code == 124
    if backend.mode == "simulator":  # the bank sends the debit back (test surface)
        await backend.transport.inner.handle_async_request(
            httpx.Request(
                "POST",
                f"{BASE}/_sim/checks/{held.check_transaction_id}/return",
                json={"ach_code": 1, "ach_message": "R01 Insufficient Funds"},
            )
        )
    backend.answer("/v1/checks/export/by_date_range", fx.CHECK_EXPORT)
    today = date.today()
    (check,) = await backend.client.export_checks(
        today - timedelta(days=1), today + timedelta(days=1)
    )
    assert check.check_transaction_id == held.check_transaction_id
    assert check.amount == Decimal("50.00") and check.returned and "R01" in check.ach_message
    assert check.check is not None and check.check.masked_account_number.endswith("9012")
    assert ACCOUNT not in check.model_dump_json()
    backend.answer("/v1/checks/export/by_id", fx.CHECK_NOT_FOUND)
    assert await backend.client.export_check(999) is None
