"""The PayTrace client against recorded example bodies (respx): taxonomy, re-auth, redaction."""

import logging
from datetime import date, datetime
from decimal import Decimal

import httpx
import pytest
import respx
from pydantic import SecretStr

from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.errors import (
    PaytraceAmbiguousError,
    PaytraceAuthError,
    PaytraceDeclined,
    PaytraceRateLimited,
    PaytraceTransientError,
    PaytraceValidationError,
)
from connectors.paytrace.models import CreditCard, KeyedSaleRequest
from domain.models import TransactionType
from tests import paytrace_fixtures as fx

BASE = "https://api.sandbox.paytrace.com"
CARD = "4012000098765439"


def sale(amount="125.00", invoice="1001"):
    return KeyedSaleRequest(
        amount=Decimal(amount),
        credit_card=CreditCard(
            number=SecretStr(CARD), expiration_month="12", expiration_year="2030"
        ),
        csc=SecretStr("999"),
        invoice_id=invoice,
    )


@pytest.fixture
def mock():
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.post("/oauth/token").respond(200, json=fx.TOKEN)
        yield router


@pytest.fixture
async def client():
    c = PaytraceClient(BASE, "demo", "secret-pw")
    yield c
    await c.aclose()


async def test_approved_sale_sends_documented_body(mock, client):
    route = mock.post("/v1/transactions/sale/keyed").respond(200, json=fx.APPROVED_SALE)
    resp = await client.sale_keyed(sale())
    assert resp.transaction_id == 1000123 and resp.response_code == 101
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == "Bearer tok-1"
    body = sent.read().decode()
    assert '"amount": "125.00"' in body and '"number": "4012000098765439"' in body
    token_form = mock.calls[0].request.read().decode()
    assert "grant_type=password" in token_form and "username=demo" in token_form


async def test_decline_is_a_business_outcome_with_transaction_id(mock, client):
    mock.post("/v1/transactions/sale/keyed").respond(400, json=fx.DECLINED_SALE)
    with pytest.raises(PaytraceDeclined) as info:
        await client.sale_keyed(sale("10.02"))
    assert info.value.transaction_id == 1000124
    assert info.value.approval_message == "DECLINE - Do not honor"
    assert info.value.retryable is False


async def test_validation_errors_keep_every_code(mock, client):
    mock.post("/v1/transactions/sale/keyed").respond(400, json=fx.VALIDATION_ERRORS)
    with pytest.raises(PaytraceValidationError) as info:
        await client.sale_keyed(sale())
    assert info.value.codes == [35, 43]
    assert "valid Credit Card Number" in str(info.value)
    assert info.value.retryable is False


async def test_bad_credentials_are_an_auth_error():
    with respx.mock(base_url=BASE) as router:
        router.post("/oauth/token").respond(400, json=fx.INVALID_GRANT)
        c = PaytraceClient(BASE, "demo", "wrong")
        with pytest.raises(PaytraceAuthError) as info:
            await c.export_by_id(1)
        await c.aclose()
    assert "wrong" not in str(info.value)


async def test_expired_token_reauthenticates_once(mock, client):
    tokens = iter([fx.TOKEN, {**fx.TOKEN, "access_token": "tok-2"}])
    mock.post("/oauth/token").mock(side_effect=lambda req: httpx.Response(200, json=next(tokens)))
    export = mock.post("/v1/transactions/export/by_id")
    export.side_effect = [
        httpx.Response(401, json=fx.INVALID_TOKEN),
        httpx.Response(200, json=fx.EXPORT_ONE),
    ]
    found = await client.export_by_id(1000123)
    assert found is not None and found.transaction_id == 1000123
    assert client.token_fetches == 2
    assert export.calls.last.request.headers["Authorization"] == "Bearer tok-2"


async def test_token_refreshed_before_expiry_without_a_401():
    now = [0.0]
    with respx.mock(base_url=BASE) as router:
        token_route = router.post("/oauth/token").respond(200, json=fx.TOKEN)
        router.post("/v1/transactions/export/by_id").respond(200, json=fx.EXPORT_ONE)
        c = PaytraceClient(BASE, "demo", "pw", clock=lambda: now[0])
        await c.export_by_id(1000123)
        now[0] = 7200 - 299  # inside the refresh margin
        await c.export_by_id(1000123)
        await c.aclose()
    assert token_route.call_count == 2


async def test_concurrent_callers_share_one_token_fetch(mock, client):
    mock.post("/v1/transactions/export/by_id").respond(200, json=fx.EXPORT_ONE)
    import asyncio

    await asyncio.gather(*(client.export_by_id(1000123) for _ in range(10)))
    assert client.token_fetches == 1


async def test_unknown_transaction_is_none(mock, client):
    mock.post("/v1/transactions/export/by_id").respond(400, json=fx.UNKNOWN_TRANSACTION)
    assert await client.export_by_id(42) is None


async def test_export_record_becomes_domain_model_with_masked_card_only(mock, client):
    mock.post("/v1/transactions/export/by_id").respond(200, json=fx.EXPORT_ONE)
    found = await client.export_by_id(1000123)
    txn = found.to_domain()
    assert txn.transaction_type is TransactionType.SALE
    assert txn.approved is True
    assert txn.amount == Decimal("125.00") and isinstance(txn.amount, Decimal)
    assert txn.created_at == datetime(2026, 11, 23, 9, 5, 30)
    assert txn.masked_card_number == "xxxxxxxxxxxx5439"


async def test_rate_limit_carries_retry_after(mock, client):
    mock.post("/v1/transactions/export/by_id").respond(429, headers={"Retry-After": "7"})
    with pytest.raises(PaytraceRateLimited) as info:
        await client.export_by_id(1)
    assert info.value.retry_after == 7.0 and info.value.retryable


async def test_server_error_on_a_read_is_transient(mock, client):
    mock.post("/v1/transactions/export/by_id").respond(502, text="bad gateway")
    with pytest.raises(PaytraceTransientError):
        await client.export_by_id(1)


async def test_server_error_on_a_sale_is_ambiguous(mock, client):
    mock.post("/v1/transactions/sale/keyed").respond(503, text="unavailable")
    with pytest.raises(PaytraceAmbiguousError):
        await client.sale_keyed(sale())


async def test_lost_answer_after_a_sale_is_ambiguous_but_connect_failure_is_not(mock, client):
    route = mock.post("/v1/transactions/sale/keyed")
    route.side_effect = httpx.ReadTimeout("read timed out")
    with pytest.raises(PaytraceAmbiguousError):
        await client.sale_keyed(sale())
    route.side_effect = httpx.ConnectError("refused")
    with pytest.raises(PaytraceTransientError):
        await client.sale_keyed(sale())


async def test_read_back_finds_the_charge_by_invoice_and_amount(mock, client):
    route = mock.post("/v1/transactions/export/by_date_range").respond(200, json=fx.EXPORT_ONE)
    found = await client.find_transactions(
        date(2026, 11, 23), amount=Decimal("125.00"), invoice_id="1001"
    )
    assert [t.transaction_id for t in found] == [1000123]
    body = route.calls.last.request.read().decode()
    assert '"start_date": "11/23/2026"' in body
    assert (
        await client.find_transactions(
            date(2026, 11, 23), amount=Decimal("1.00"), invoice_id="1001"
        )
        == []
    )


async def test_nothing_sensitive_in_errors_or_logs(mock, client, caplog):
    caplog.set_level(logging.DEBUG)
    echo = {**fx.VALIDATION_ERRORS, "errors": {"35": [f"card {CARD} csc=999 password=secret-pw"]}}
    mock.post("/v1/transactions/sale/keyed").respond(400, json=echo)
    with pytest.raises(PaytraceValidationError) as info:
        await client.sale_keyed(sale())
    text = str(info.value) + repr(info.value.errors) + caplog.text
    assert CARD not in text and "secret-pw" not in text and "999" not in text
    assert "xxxxxxxxxxxx5439" in str(info.value)
    assert CARD not in repr(sale())


async def test_echoed_account_number_and_csc_are_scrubbed(mock, client, caplog):
    from connectors.paytrace.models import BankAccount, CheckSaleRequest

    caplog.set_level(logging.DEBUG)
    account = "000123456789"
    echo = {**fx.VALIDATION_ERRORS, "errors": {"45": [f"account {account} is closed (csc 4321)"]}}
    mock.post("/v1/checks/sale/by_account").respond(400, json=echo)
    request = CheckSaleRequest(
        amount=Decimal("10.00"),
        check=BankAccount(account_number=SecretStr(account), routing_number="325070760"),
    )
    with pytest.raises(PaytraceValidationError) as info:
        await client.check_sale(request)
    text = str(info.value) + repr(info.value.errors) + repr(info.value.args) + caplog.text
    assert account not in text and account not in repr(request)
    assert info.value.codes == [45]


def record(**overrides):
    base = dict(fx.EXPORT_ONE["transactions"][0])
    base.update(overrides)
    from connectors.paytrace.models import ExportedTransaction

    return ExportedTransaction.model_validate(base).to_domain()


@pytest.mark.parametrize(
    ("overrides", "approved", "declined", "received"),
    [
        ({}, True, False, True),  # SALE 101
        ({"status_code": 104}, False, False, False),  # a TEST approval is not money
        ({"status_code": None}, False, False, False),  # no status: unknown, never approved
        ({"status_code": 102}, False, True, False),
        ({"status_code": 103}, False, True, False),  # approved, then auto-voided
        ({"transaction_type": "DECLINED", "status_code": 101}, False, True, False),
        ({"transaction_type": "AUTHORIZATION"}, True, False, False),  # waits for capture
        ({"transaction_type": "AUTHORIZATION", "status_code": 112}, True, False, True),
        ({"transaction_type": "CAPTURE", "status_code": 112}, True, False, True),
        ({"transaction_type": "SOMETHING_NEW"}, True, False, False),
    ],
)
def test_status_mapping_fails_closed(overrides, approved, declined, received):
    txn = record(**overrides)
    assert (txn.approved, txn.declined, txn.money_received) == (approved, declined, received)


def test_unknown_type_is_kept_as_unknown():
    assert record(transaction_type="SOMETHING_NEW").transaction_type is TransactionType.UNKNOWN


def test_payloads_recorded_before_declined_existed_read_as_declines():
    from domain.models import PaytraceTransaction

    legacy = {"transaction_id": 1, "transaction_type": "SALE", "amount": "1.00", "approved": False}
    assert PaytraceTransaction.model_validate(legacy).declined is True
    current = {**legacy, "status_code": 104, "declined": False}
    assert PaytraceTransaction.model_validate(current).declined is False


@pytest.mark.parametrize("money_moving", [False, True])
async def test_a_firewall_refusal_is_not_retried_forever(mock, client, money_moving):
    from connectors.paytrace.errors import PaytraceError

    path = "/v1/transactions/sale/keyed" if money_moving else "/v1/transactions/export/by_id"
    mock.post(path).respond(403, text="<html>Forbidden</html>")
    with pytest.raises(PaytraceError) as refused:
        if money_moving:
            await client.sale_keyed(sale())
        else:
            await client.export_by_id(1)
    assert type(refused.value) is PaytraceError and not refused.value.retryable
    assert "403" in str(refused.value)


async def test_a_non_finite_number_is_not_an_amount(mock, client):
    mock.post("/v1/transactions/export/by_id").respond(
        200, content=b'{"success": true, "transactions": [{"amount": NaN}]}'
    )
    with pytest.raises(PaytraceTransientError):  # unreadable, never a float NaN in the books
        await client.export_by_id(1)


def test_a_malformed_answer_names_fields_not_the_keys_paytrace_sent() -> None:
    from pydantic import BaseModel, ValidationError

    from connectors.paytrace.transport import malformed_answer

    class Answer(BaseModel):
        counts: dict[str, int]
        items: list[int]

    with pytest.raises(ValidationError) as invalid:
        Answer.model_validate({"counts": {"4111111111111111": "x"}, "items": [1, "y"]})
    error = malformed_answer("/v1/x", invalid.value, money_moving=False)
    text = str(error)
    assert "4111111111111111" not in text
    assert "counts.?: int_parsing" in text and "items.1: int_parsing" in text
