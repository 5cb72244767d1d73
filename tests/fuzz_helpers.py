"""Fuzzing helpers shared by tests and ``bench/fuzz.py``: the api served for fuzzing, and
generated PayTrace answers fed to the v1 client.

:func:`served_api` runs the api under uvicorn in a thread of its own (its own event loop and
Temporal client) against a given Temporal server, with the event and Silent Post secrets below.

An httpx ``MockTransport`` answers the client's requests: the token endpoint with a valid token
(except for the ``token`` operation, whose token answer is the generated one), the operation's
endpoint with a generated answer: documented bodies with fields dropped, retyped or added,
truncated JSON, huge or non-finite number literals, unknown codes and HTTP statuses, HTML error
pages, empty bodies and other content types. :func:`run_case` says what the client made of it:
a parsed result, a PayTrace error class, or a violation (any other exception, a float anywhere
in a parsed result, a non-finite Retry-After).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import httpx
import sqlalchemy as sa
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.errors import PaytraceError, PaytraceRateLimited
from connectors.paytrace.models import CreditCard, KeyedSaleRequest
from connectors.store import Store
from tests import paytrace_fixtures as fx
from workers.api import TemporalGateway, create_api
from workers.http import embedded_server
from workers.settings import Settings

BASE = "https://api.paytrace.test"
TEST_CARD = "4012000098765439"  # Visa's published test number
SECRET = "fuzz-secret-0123456789"
"""The api's event signing secret while fuzzed."""
SILENT = "fuzz-silent-post-token"
"""The api's Silent Post token while fuzzed."""


@contextlib.contextmanager
def served_api(tmp: Path, temporal_address: str) -> Iterator[tuple[str, Store]]:
    """The api served on a free loopback port, starting workflows on a queue nobody polls.

    Args:
        tmp: where its store database goes.
        temporal_address: ``host:port`` of the Temporal frontend it starts workflows on.

    Yields:
        ``(base URL, its store)``.
    """
    config = Settings(
        var_dir=tmp,
        codec="off",
        temporal_address=temporal_address,
        event_secrets=SECRET,
        silent_post_secret=SILENT,
        task_queue=f"fuzz-{random.randrange(10**9)}",  # nothing polls it: starts only
    )
    store = Store(sa.create_engine(f"sqlite:///{tmp}/store.db"))
    store.create_schema()
    server = embedded_server(create_api(config, store, TemporalGateway(config)), "127.0.0.1", 0)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    try:
        for _ in range(1000):
            if server.started:
                break
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}", store
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass(frozen=True)
class RawNumber:
    """A number literal written into the JSON text as it is (``1e308``, ``-0``, ``NaN``)."""

    text: str


def encode(value: Any) -> str:
    """Write a JSON text, with :class:`RawNumber` literals as they are.

    Args:
        value: dicts, lists, strings, numbers, booleans, None and raw literals.

    Returns:
        The text.
    """
    if isinstance(value, RawNumber):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(value)


@dataclass(frozen=True)
class FuzzResponse:
    """One generated HTTP answer."""

    status: int
    content_type: str | None
    body: bytes
    retry_after: str | None = None

    def to_httpx(self, request: httpx.Request) -> httpx.Response:
        """The answer as httpx gives it to the client.

        Args:
            request: the request answered.

        Returns:
            The response.
        """
        headers = {}
        if self.content_type is not None:
            headers["content-type"] = self.content_type
        if self.retry_after is not None:
            headers["retry-after"] = self.retry_after
        return httpx.Response(self.status, headers=headers, content=self.body, request=request)


NUMBER_LITERALS = [
    "1e308",
    "-1e308",
    "1e309",
    "1e400",
    "1e-400",
    "-0",
    "-0.0",
    "0.1",
    "125.005",
    "NaN",
    "Infinity",
    "-Infinity",
    "1" + "0" * 30,
    "1" + "0" * 5000,  # beyond CPython's int-from-text digit limit
    "99999999999999999999.99",
    "1E+999999",
]
_STRANGE_TEXT = ["", " ", "125.00", "abc", "1e308", "NaN", "-0", "null", "true", "<b>x</b>", "\x00"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from(NUMBER_LITERALS).map(RawNumber),
    st.sampled_from(_STRANGE_TEXT),
    st.text(max_size=12),
)
wild_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
"""Any JSON value, with odd number literals."""


def mutated(template: Any) -> st.SearchStrategy[Any]:
    """A documented body with some fields dropped, retyped, mutated inside, or added.

    Args:
        template: the documented body (a JSON value).

    Returns:
        A strategy of bodies; most fields are kept as documented.
    """
    if isinstance(template, dict):
        return st.tuples(
            *(_field(key, value) for key, value in template.items()),
            st.dictionaries(st.text(max_size=10), wild_values, max_size=2),
        ).map(_assemble)
    if isinstance(template, list):
        return st.lists(mutated(template[0]), max_size=3) if template else st.just([])
    return st.one_of(st.just(template), wild_values)


def _field(key: str, value: Any) -> st.SearchStrategy[tuple[str, Any, bool]]:
    def pick(choice: int) -> st.SearchStrategy[tuple[str, Any, bool]]:
        if choice <= 5:
            return st.just((key, value, True))
        if choice == 6:
            return st.just((key, None, False))  # dropped
        if choice == 7:
            return wild_values.map(lambda v: (key, v, True))
        return mutated(value).map(lambda v: (key, v, True))

    return st.integers(0, 9).flatmap(pick)


def _assemble(parts: tuple[Any, ...]) -> dict[str, Any]:
    *fields, extra = parts
    body = {key: value for key, value, kept in fields if kept}
    for key, value in extra.items():
        body.setdefault(key, value)
    return body


HTML_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
STATUSES = st.one_of(
    st.sampled_from([200, 200, 200, 200, 201, 204, 400, 401, 403, 404, 408, 409, 422, 429]),
    st.sampled_from([500, 502, 503, 504]),
    st.integers(min_value=100, max_value=599),
)
CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/html", "text/plain", None]
)
RETRY_AFTER = st.one_of(
    st.none(),
    st.sampled_from(["5", "0", "-3", "nan", "inf", "-inf", "1e308", "abc", "", "1.5"]),
    st.sampled_from(["Wed, 21 Oct 2026 07:28:00 GMT"]),
)


def bodies(template: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """Answer bodies around a documented one.

    Args:
        template: the documented success body of the operation.

    Returns:
        A strategy of raw bodies: mutated documented bodies (success, error, decline), truncated
        JSON, any JSON value, HTML, empty and arbitrary bytes.
    """
    documented = st.sampled_from(
        [template, fx.VALIDATION_ERRORS, fx.DECLINED_SALE, fx.UNKNOWN_TRANSACTION, fx.INVALID_TOKEN]
    )
    text = st.one_of(
        st.sampled_from([template]).flatmap(mutated),
        st.sampled_from([template]).flatmap(mutated),
        documented.flatmap(mutated),
        wild_values,
    ).map(encode)
    truncated = st.tuples(text, st.floats(0, 1)).map(lambda t: t[0][: int(len(t[0]) * t[1])])
    return st.one_of(
        text.map(str.encode),
        text.map(str.encode),
        truncated.map(str.encode),
        st.sampled_from([b"", HTML_PAGE, b"OK", b"null", b"[]", b"\xff\xfe"]),
        st.binary(max_size=40),
    )


def responses(template: dict[str, Any]) -> st.SearchStrategy[FuzzResponse]:
    """Whole generated answers (status, content type, body, Retry-After).

    Args:
        template: the documented success body of the operation.

    Returns:
        The strategy.
    """
    return st.builds(FuzzResponse, STATUSES, CONTENT_TYPES, bodies(template), RETRY_AFTER)


def _sale() -> KeyedSaleRequest:
    return KeyedSaleRequest(
        amount=Decimal("125.00"),
        credit_card=CreditCard(
            number=SecretStr(TEST_CARD), expiration_month="12", expiration_year="2030"
        ),
        invoice_id="1001",
    )


BATCH = {  # the documented batch, with amounts as strings and floats both
    **fx.BATCH_ONE,
    "batch": {
        **cast(dict[str, Any], fx.BATCH_ONE["batch"]),
        "net_amount": "100.00",
        "refund_amount": 25.00,
    },
}
SETTLE: dict[str, Any] = {
    "success": True,
    "response_code": 1,
    "status_message": "Your request has been successfully completed.",
    "batch_number": 7,
    "transaction_count": 3,
}
"""The sandbox's answer to a manual settlement (the simulator's shape)."""
Call = Callable[[PaytraceClient], Awaitable[Any]]


@dataclass(frozen=True)
class Operation:
    """A client operation under fuzz: the endpoint answered with generated bodies."""

    path: str
    template: dict[str, Any]
    call: Call


OPERATIONS: dict[str, Operation] = {
    "sale_keyed": Operation(
        "/v1/transactions/sale/keyed", fx.APPROVED_SALE, lambda c: c.sale_keyed(_sale())
    ),
    "refund": Operation(
        "/v1/transactions/refund/for_transaction",
        fx.REFUNDED,
        lambda c: c.refund_transaction(1000123, Decimal("25.00")),
    ),
    "void": Operation("/v1/transactions/void", fx.VOIDED, lambda c: c.void(1000123)),
    "export_by_id": Operation(
        "/v1/transactions/export/by_id", fx.EXPORT_ONE, lambda c: c.export_by_id(1000123)
    ),
    "export_by_date_range": Operation(
        "/v1/transactions/export/by_date_range",
        fx.EXPORT_ONE,
        lambda c: c.export_by_date_range(date(2026, 11, 1), date(2026, 11, 30)),
    ),
    "export_batch": Operation("/v1/batches/export_one", BATCH, lambda c: c.export_batch(7)),
    "batch_transactions": Operation(
        "/v1/batches/transaction_list", fx.EXPORT_ONE, lambda c: c.batch_transactions(7)
    ),
    "export_customers": Operation(
        "/v1/customer/export", fx.CUSTOMER_EXPORT, lambda c: c.export_customers("C0001")
    ),
    "token": Operation("/oauth/token", fx.TOKEN, lambda c: c.export_by_id(1000123)),
    "settle": Operation("/v1/transactions/settle", SETTLE, lambda c: c.settle()),
}
"""Each operation, the endpoint whose answer is generated, and how it is called."""


def floats_in(value: Any, where: str = "result") -> list[str]:
    """Where a parsed result holds a float (money must be Decimal) or a non-finite Decimal.

    Args:
        value: a parsed result: models, lists, None.
        where: the path so far.

    Returns:
        The paths of the offending values.
    """
    if isinstance(value, float):
        return [where]
    if isinstance(value, Decimal):
        return [] if value.is_finite() else [where]
    if isinstance(value, BaseModel):
        return [p for k, v in value.__dict__.items() for p in floats_in(v, f"{where}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in floats_in(v, f"{where}[{i}]")]
    return []


async def run_case(name: str, answer: FuzzResponse) -> tuple[str, str | None]:
    """Call one operation against one generated answer.

    Args:
        name: the operation (a key of :data:`OPERATIONS`).
        answer: what the fuzzed endpoint answers.

    Returns:
        ``(outcome, violation)``: the outcome is ``ok`` or the PayTrace error class raised;
        the violation, when not None, says what went wrong (an exception class that is not a
        PayTrace error, a float in the result, a bad Retry-After).
    """
    operation = OPERATIONS[name]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == operation.path:
            return answer.to_httpx(request)
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json=fx.TOKEN, request=request)
        return httpx.Response(200, json=fx.EXPORT_ONE, request=request)  # the token case's read

    client = PaytraceClient(BASE, "demo", "fuzz-password", transport=httpx.MockTransport(handler))
    try:
        result = await operation.call(client)
    except PaytraceError as exc:
        if isinstance(exc, PaytraceRateLimited) and not (
            math.isfinite(exc.retry_after) and 0 <= exc.retry_after <= 86400
        ):
            return type(
                exc
            ).__name__, f"retry_after {exc.retry_after!r} from {answer.retry_after!r}"
        if TEST_CARD in str(exc):
            return type(exc).__name__, "the card number is in the error message"
        return type(exc).__name__, None
    except Exception as exc:  # noqa: BLE001 - any other exception is what we look for
        return "crash", f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        await client.aclose()
    bad = floats_in(result)
    if bad:
        return "ok", f"float or non-finite amount at {', '.join(bad)}"
    return "ok", None
