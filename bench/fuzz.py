"""Fuzzing: generated PayTrace answers against the client, generated requests against the api.

1. PayTrace answers (tests/fuzz_helpers.py): each client operation (keyed sale, refund, void,
   transaction exports, batch reads, vault customer export, token fetch) is answered through an
   httpx MockTransport with generated bodies. The only acceptable outcomes are a parsed result
   with no float in it, or a PayTrace error class (connectors/paytrace/errors.py). Prints per
   operation: examples, parsed ok, PayTrace errors by class, violations.
2. The api: a real uvicorn api (its own thread and event loop) connected to a Temporal dev
   server this command starts itself. schemathesis drives every operation of the api's
   OpenAPI document (events signed with the configured secret or not, as tests/test_api_fuzz.py
   does), and a hypothesis strategy posts Silent Post forms shaped like PayTrace Secure
   Checkout's (right and wrong token, odd TRANSACTIONIDs, card numbers in fields, odd content
   types). Nothing polls the task queue: workflows are only started. Afterwards every workflow
   on the server must belong to a request answered 202 (its ``workflow_id``). Prints requests
   sent, responses by status class, the 5xx count, and workflows started from invalid input.

Exits 1 on any violation: a client crash or float, a 5xx (``GET /readyz`` may answer 503), or a
workflow no accepted request started.

    .venv/bin/python -m bench.fuzz [--examples 2000] [--api-examples 500] [--skip-paytrace]
        [--skip-api]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from temporalio.client import Client

from bench.harness import free_port
from tests.fuzz_helpers import OPERATIONS as PAYTRACE_OPERATIONS
from tests.fuzz_helpers import SILENT, FuzzResponse, responses, run_case, served_api
from tests.test_api_fuzz import published_schema, send
from workers.temporal_server import TemporalDevServer, find_temporal_cli

TEST_CARD = "4111111111111111"  # Visa's published test number


# -- 1. PayTrace answers --------------------------------------------------------------------


@dataclass
class OperationTally:
    """What one client operation made of the generated answers."""

    examples: int = 0
    parsed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    violations: Counter[str] = field(default_factory=Counter)


def fuzz_paytrace(examples: int, seed: int) -> dict[str, OperationTally]:
    """Run every client operation against ``examples`` generated answers.

    Args:
        examples: hypothesis examples per operation.
        seed: the random seed (printed, so a run can be repeated).

    Returns:
        The tally of each operation.
    """
    tallies = {name: OperationTally() for name in PAYTRACE_OPERATIONS}
    for index, name in enumerate(PAYTRACE_OPERATIONS):
        _fuzz_operation(name, tallies[name], examples, seed + index)
    return tallies


def _fuzz_operation(name: str, tally: OperationTally, examples: int, seed: int) -> None:
    operation = PAYTRACE_OPERATIONS[name]

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis_seed(seed)
    @given(answer=responses(operation.template))
    def one(answer: FuzzResponse) -> None:
        started = time.monotonic()
        outcome, violation = asyncio.run(run_case(name, answer))
        if violation is None and time.monotonic() - started > 5:
            violation = "an answer took the CPU for over 5 s"
        tally.examples += 1
        if outcome == "ok":
            tally.parsed += 1
        elif outcome != "crash":
            tally.errors[outcome] += 1
        if violation is not None:
            tally.violations[violation[:160]] += 1

    one()


def print_paytrace(tallies: dict[str, OperationTally]) -> int:
    """Print the PayTrace tallies as a table.

    Args:
        tallies: from :func:`fuzz_paytrace`.

    Returns:
        The number of violations.
    """
    print("| operation | examples | parsed ok | PayTrace errors by class | violations |")
    print("|---|---|---|---|---|")
    total = 0
    for name, t in tallies.items():
        errors = ", ".join(f"{k.removeprefix('Paytrace')} {v}" for k, v in sorted(t.errors.items()))
        bad = sum(t.violations.values())
        total += bad
        print(f"| {name} | {t.examples} | {t.parsed} | {errors} | {bad} |")
    for name, t in tallies.items():
        for violation, count in t.violations.most_common(10):
            print(f"  {name}: {count} x {violation}")
    return total


# -- 2. the api -----------------------------------------------------------------------------


@dataclass
class ApiTally:
    """Requests sent to the api and what they were answered."""

    sent: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    accepted_ids: set[str] = field(default_factory=set)
    per_operation: dict[str, Counter[int]] = field(default_factory=dict)

    def record(self, operation: str, response: httpx.Response) -> None:
        """Count one answer; keep the workflow id of a 202.

        Args:
            operation: ``METHOD /path``.
            response: the answer.
        """
        self.sent += 1
        status = response.status_code
        self.by_status[status] += 1
        self.per_operation.setdefault(operation, Counter())[status] += 1
        if status == 202:
            with contextlib.suppress(ValueError, AttributeError):
                workflow_id = response.json().get("workflow_id")
                if isinstance(workflow_id, str):
                    self.accepted_ids.add(workflow_id)
        allowed_503 = operation == "GET /readyz" and status == 503
        if status >= 500 and not allowed_503:
            self.server_errors.append(f"{operation} -> {status}")


_ID_TEXT = st.one_of(
    st.integers(min_value=1, max_value=10**6).map(str),
    st.sampled_from(["0", "-1", "", " 42 ", "1e3", "0x10", "abc", "9" * 20, "12 34", TEST_CARD]),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.text(max_size=12),
)
_FIELD_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "INV-1001", "4111 1111 1111 1111", "xxxxxxxxxxxx1111", "Y", "Match"]),
)
_wild_forms = st.fixed_dictionaries(
    {},
    optional={
        "TRANSACTIONID": st.lists(_ID_TEXT, min_size=1, max_size=2),
        "ORDERID": st.lists(_FIELD_TEXT, min_size=1, max_size=1),
        "APPCODE": st.lists(_FIELD_TEXT, min_size=1, max_size=1),
        "APPMSG": st.lists(_FIELD_TEXT, min_size=1, max_size=1),
        "AVSRESPONSE": st.lists(_FIELD_TEXT, min_size=1, max_size=1),
        "CSCRESPONSE": st.lists(_FIELD_TEXT, min_size=1, max_size=1),
        "EMAIL": st.lists(_FIELD_TEXT, min_size=1, max_size=1),
        "CC": st.lists(st.sampled_from([TEST_CARD, "4012000098765439"]), min_size=1, max_size=1),
    },
)
_plain = st.text(st.characters(codec="ascii", categories=["L", "N", "Zs"]), max_size=20).map(
    lambda t: [t]
)
_checkout_forms = st.fixed_dictionaries(
    {
        "TRANSACTIONID": st.integers(min_value=1, max_value=10**9).map(lambda n: [str(n)]),
        "ORDERID": st.from_regex(r"[A-Z]{0,3}-?[0-9]{1,6}", fullmatch=True).map(lambda t: [t]),
    },
    optional={
        "APPCODE": _plain,
        "APPMSG": _plain,
        "AVSRESPONSE": _plain,
        "CSCRESPONSE": _plain,
        "EMAIL": st.emails().map(lambda t: [t]),
    },
)
silent_post_forms = st.one_of(_checkout_forms, _wild_forms)
"""The Silent Post form PayTrace Secure Checkout posts (connectors/paytrace/simulator/checkout.py),
with odd values, a repeated TRANSACTIONID and, sometimes, a card field it must refuse."""
_FORM_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",
        "application/json",
        "text/plain",
        "",
    ]
)


async def _connect(address: str, server: TemporalDevServer, seconds: float = 60) -> Client:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await Client.connect(address)
        except RuntimeError:
            server.check_alive()
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _listed(address: str) -> list[str]:
    client = await Client.connect(address)
    return [w.id async for w in client.list_workflows()]


@contextlib.contextmanager
def api_under_test(tmp: Path) -> Iterator[tuple[str, str]]:
    """A Temporal dev server and the api connected to it.

    Args:
        tmp: where the server's database and log go.

    Yields:
        ``(api base URL, Temporal address)``.
    """
    address = f"127.0.0.1:{free_port()}"
    temporal = TemporalDevServer(
        find_temporal_cli(), address, free_port(), tmp / "temporal.db", tmp / "temporal.log"
    )
    temporal.start()
    try:
        asyncio.run(_connect(address, temporal))
        with served_api(tmp, address) as (base, _store):
            yield base, address
    finally:
        asyncio.run(temporal.stop())


def _fuzz_openapi_operation(
    base: str, name: str, operation: Any, count: int, tally: ApiTally, seed: int
) -> None:
    @settings(
        max_examples=count, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @hypothesis_seed(seed)
    @given(case=operation.as_strategy(), signed=st.booleans(), right=st.booleans())
    def run(case: Any, signed: bool, right: bool) -> None:
        tally.record(name, send(base, case, signed, right))

    run()


def fuzz_api(base: str, examples: int, tally: ApiTally, seed: int) -> None:
    """Drive every OpenAPI operation with schemathesis, then Silent Post forms.

    Args:
        base: the api's base URL.
        examples: examples for each webhook operation (other operations get a tenth).
        tally: where answers are counted.
        seed: the random seed.
    """
    schema = published_schema()
    operations = {
        f"{op.method.upper()} {op.path}": op for op in (r.ok() for r in schema.get_all_operations())
    }
    for name in sorted(operations):
        count = examples if name.startswith("POST /webhooks/") else max(examples // 10, 5)
        _fuzz_openapi_operation(base, name, operations[name], count, tally, seed)

    silent = "POST /webhooks/paytrace/silent-post/{token} (form strategy)"

    @settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @hypothesis_seed(seed)
    @given(form=silent_post_forms, ctype=_FORM_TYPES, right=st.integers(0, 9))
    def post_form(form: dict[str, list[str]], ctype: str, right: int) -> None:
        token = SILENT if right else "not-the-token"
        body = urlencode([(k, v) for k, values in form.items() for v in values])
        response = httpx.post(
            f"{base}/webhooks/paytrace/silent-post/{token}",
            content=body.encode(),
            headers={"content-type": ctype} if ctype else {},
            timeout=30,
        )
        tally.record(silent, response)

    post_form()


def print_api(tally: ApiTally, listed: list[str]) -> int:
    """Print the api figures.

    Args:
        tally: the answers.
        listed: the workflow ids on the server after the run.

    Returns:
        The number of violations (5xx answers plus workflows no accepted request started).
    """
    classes = Counter(f"{status // 100}xx" for status in tally.by_status.elements())
    strays = sorted(set(listed) - tally.accepted_ids)
    print(f"requests sent: {tally.sent}")
    print("responses by status class: " + ", ".join(f"{k} {v}" for k, v in sorted(classes.items())))
    print(f"5xx (GET /readyz 503 excepted): {len(tally.server_errors)}")
    for name, statuses in sorted(tally.per_operation.items()):
        print(f"  {name}: {dict(sorted(statuses.items()))}")
    print(
        f"workflows on the server: {len(listed)}; accepted (202) workflow ids:"
        f" {len(tally.accepted_ids)}"
    )
    print(f"workflows started from invalid input: {len(strays)}")
    for error in tally.server_errors[:10]:
        print(f"  5xx: {error}")
    for stray in strays[:10]:
        print(f"  stray workflow: {stray}")
    return len(tally.server_errors) + len(strays)


def main() -> None:
    """Parse the command line, run both parts, print, exit 1 on any violation."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="examples per operation")
    parser.add_argument(
        "--api-examples", type=int, default=500, help="examples per webhook operation"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed")
    parser.add_argument("--skip-paytrace", action="store_true")
    parser.add_argument("--skip-api", action="store_true")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()},"
        f" CPython {platform.python_version()}; seed {seed}"
    )
    violations = 0
    if not args.skip_paytrace:
        started = time.perf_counter()
        print(f"\n## PayTrace answers -> client ({args.examples} examples per operation)\n")
        violations += print_paytrace(fuzz_paytrace(args.examples, seed))
        print(f"\n({time.perf_counter() - started:.0f} s)")
    if not args.skip_api:
        started = time.perf_counter()
        print(f"\n## api ({args.api_examples} examples per webhook operation)\n")
        random.seed(seed)
        tally = ApiTally()
        with tempfile.TemporaryDirectory(prefix="tracepost-fuzz-") as tmp:
            with api_under_test(Path(tmp)) as (base, address):
                fuzz_api(base, args.api_examples, tally, seed)
                listed = asyncio.run(_listed(address))
            violations += print_api(tally, listed)
        print(f"\n({time.perf_counter() - started:.0f} s)")
    print(f"\nviolations: {violations}")
    sys.stdout.flush()
    os._exit(1 if violations else 0)  # the SDK's native threads can crash at exit (sdk-python#300)


if __name__ == "__main__":
    main()
