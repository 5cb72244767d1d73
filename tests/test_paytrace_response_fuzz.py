"""Generated PayTrace answers: the client parses them or raises a PayTrace error, nothing else.

Each client operation is answered (through an httpx MockTransport) with generated bodies: the
documented ones with fields dropped, retyped and added, truncated JSON, huge and non-finite
number literals, unknown codes and statuses, HTML pages, empty bodies, other content types
(tests/fuzz_helpers.py). The only acceptable outcomes are a parsed result with no float in it,
or one of connectors/paytrace/errors.py's classes; a rate limit's ``retry_after`` is finite and
at most a day. ``bench/fuzz.py`` runs the same with many more examples. The ``@example`` cases
are the crashes the fuzzing found (fixed in the connector).
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from hypothesis import HealthCheck, example, given, settings

from tests import paytrace_fixtures as fx
from tests.fuzz_helpers import OPERATIONS, SETTLE, FuzzResponse, responses, run_case

EXAMPLES_PER_OPERATION = 200


def _json(body: object) -> FuzzResponse:
    return FuzzResponse(200, "application/json", json.dumps(body).encode())


def _raw(text: str, status: int = 200, retry_after: str | None = None) -> FuzzResponse:
    return FuzzResponse(status, "application/json", text.encode(), retry_after)


# Regressions: each crashed the client before the fix (see the module docstring).
MISSING_ID = _json({"success": True, "response_code": 101})  # pydantic ValidationError leaked
WRONG_TYPE = _json({**fx.APPROVED_SALE, "approval_code": 123})  # ValidationError
WRONG_ID = _json({**fx.REFUNDED, "transaction_id": "abc"})  # ValidationError
LIST_STATUS = _json({**fx.EXPORT_ONE, "transactions": [{**fx.EXPORT_ONE["transactions"][0], "status_code": [1]}]})  # fmt: skip  # TypeError from int()
NOT_A_LIST = _json({"success": True, "response_code": 1, "customers": 5})  # TypeError: not iterable
DICT_RECORDS = _json(
    {"success": True, "response_code": 1, "transactions": {"a": 1}}
)  # ValidationError
EMPTY_BATCH = _json({"success": True, "response_code": 1, "batch": {}})  # ValidationError
HUGE_CODE = _raw('{"success": false, "response_code": 1E+99999999}')  # int() ran for minutes
NAN_RETRY = FuzzResponse(429, "application/json", b"{}", "nan")  # timedelta(seconds=nan) later
HUGE_RETRY = FuzzResponse(429, "application/json", b"{}", "1e308")  # timedelta overflow later
BAD_TOKEN = _json({"access_token": "tok\u00b4", "expires_in": 7200})  # UnicodeEncodeError
BAD_LIFETIME = _json({"access_token": "tok-1", "expires_in": "soon"})  # ValueError from float()


def _check(name: str, answer: FuzzResponse) -> str:
    started = time.monotonic()
    outcome, violation = asyncio.run(run_case(name, answer))
    assert violation is None, (name, answer, violation)
    assert time.monotonic() - started < 5, "an answer must not take the CPU for seconds"
    return outcome


def _fuzz(name: str):
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(answer=responses(OPERATIONS[name].template))
    @example(answer=MISSING_ID)
    @example(answer=WRONG_TYPE)
    @example(answer=WRONG_ID)
    @example(answer=LIST_STATUS)
    @example(answer=NOT_A_LIST)
    @example(answer=DICT_RECORDS)
    @example(answer=EMPTY_BATCH)
    @example(answer=HUGE_CODE)
    @example(answer=NAN_RETRY)
    @example(answer=HUGE_RETRY)
    @example(answer=BAD_TOKEN)
    @example(answer=BAD_LIFETIME)
    def run(answer: FuzzResponse) -> None:
        _check(name, answer)

    return run


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_generated_answers_parse_or_raise_paytrace_errors(name: str) -> None:
    _fuzz(name)()


@pytest.mark.parametrize(
    ("name", "answer", "expected"),
    [
        ("sale_keyed", MISSING_ID, "PaytraceAmbiguousError"),  # money may have moved: read back
        ("refund", WRONG_ID, "PaytraceAmbiguousError"),
        ("sale_keyed", WRONG_TYPE, "PaytraceAmbiguousError"),
        ("export_by_id", LIST_STATUS, "PaytraceTransientError"),
        ("export_customers", NOT_A_LIST, "PaytraceTransientError"),
        ("export_by_date_range", DICT_RECORDS, "PaytraceTransientError"),
        ("export_batch", EMPTY_BATCH, "PaytraceTransientError"),
        ("void", HUGE_CODE, "PaytraceAmbiguousError"),
        ("export_by_id", NAN_RETRY, "PaytraceRateLimited"),
        ("token", BAD_TOKEN, "PaytraceTransientError"),
        ("token", BAD_LIFETIME, "ok"),
        ("settle", _json({**SETTLE, "batch_number": "1.5"}), "PaytraceTransientError"),
        ("settle", _json({**SETTLE, "batch_number": [7]}), "PaytraceTransientError"),
        ("settle", _json({**SETTLE, "batch_number": None}), "ok"),
    ],
)
def test_found_crashes_now_join_the_taxonomy(
    name: str, answer: FuzzResponse, expected: str
) -> None:
    assert _check(name, answer) == expected
