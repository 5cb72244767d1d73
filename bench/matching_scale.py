"""Matching at scale: per-payment cost of PaymentPosting's ERP lookups + the matching engine.

Seeds two stand-ins of one ERP in the same run (``seed_demo``, ten invoices a customer in both),
a baseline of ``--small-invoices`` and a large one of ``--large-invoices``, then resolves the
same ``--payments`` payments against each: each names an invoice that exists in both databases
(numbers 1001 up) and carries that invoice's customer and open balance, as a PayTrace sale
would. A payment costs exactly what PaymentPosting does before it decides: the
``load_match_input`` activity (``ErpActivities``, called directly, without Temporal: customer by
id, invoice by number, the customer's open invoices) and ``domain.matching.decide``. Indexes
should keep the ratio large/baseline near 1. The queries of one payment are then run through
``EXPLAIN QUERY PLAN`` (SQLite) / ``EXPLAIN`` (PostgreSQL, after ``ANALYZE``) on the large
database and every table scan is printed. Prints figures; asserts nothing about time.

    .venv/bin/python -m bench.matching_scale [--erp sage500|dynamics_sl] [--db sqlite|pg]
        [--payments 10000] [--small-invoices 10000] [--large-invoices 1000000]

PostgreSQL: ``postgresql+psycopg://postgres@127.0.0.1:5432/test`` (``TRACEPOST_BENCH_PG_URL``
overrides), a throwaway schema per stand-in, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from activities.erp import ErpActivities
from connectors.erp.protocol import ErpConnector
from connectors.erp.standin import ERP_NAMES, ConnectorOptions, stand_in
from domain.activity_io import MatchRequest
from domain.mapping import Mapping
from domain.matching import decide
from tests.dbs import throwaway_schema

PG_URL = os.environ.get(
    "TRACEPOST_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DB_KINDS = ("sqlite", "pg")
FIRST_INVOICE_NO = 1001
INVOICES_PER_CUSTOMER = 10
TIMEZONE = "America/New_York"
TRIVIAL_ROWS = 100
"""A scan of a table this small (empty, setup rows) is the planner's right choice."""


@contextmanager
def bench_database(kind: str, tmp: Path, name: str) -> Iterator[str]:
    """Yield the URL of a fresh database: a SQLite file, or a throwaway PostgreSQL schema.

    Args:
        kind: ``sqlite`` or ``pg``.
        tmp: the directory for SQLite files.
        name: the database's name (the file, or the schema's prefix).
    """
    if kind == "sqlite":
        yield f"sqlite:///{tmp / name}.db"
        return
    with throwaway_schema(PG_URL, prefix=f"bench_{name}") as url:
        yield url


def fast_seed_engine(url: str) -> sa.Engine:
    """An engine for seeding only: commits without waiting for the disk (not for measuring)."""
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _no_sync(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA synchronous=OFF")
        else:
            cursor.execute("SET synchronous_commit TO off")
        cursor.close()

    return engine


def machine_line(engine: sa.Engine | None = None) -> str:
    """The machine, the interpreter, the load, and the database server's version."""
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    line = (
        f"machine: {platform.machine()}, {os.cpu_count()} cores,"
        f" {platform.python_implementation()} {platform.python_version()},"
        f" SQLite {sqlite3.sqlite_version},"
        f" load average {load} (shared machine)"
    )
    if engine is not None and engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            line += f", PostgreSQL {conn.execute(sa.text('show server_version')).scalar()}"
    return line


@dataclass
class Standin:
    """A seeded stand-in and the activities that read it."""

    engine: sa.Engine
    connector: ErpConnector
    activities: ErpActivities
    customers: int
    invoices: int
    seed_seconds: float


def build(erp: str, url: str, invoices: int) -> Standin:
    """Create and seed a stand-in (ten invoices a customer), analyzed on PostgreSQL."""
    customers = max(invoices // INVOICES_PER_CUSTOMER, 3)
    standin = stand_in(erp)
    seeding = fast_seed_engine(url)
    started = time.perf_counter()
    standin.create_schema(seeding)
    result = standin.seed_demo(seeding, customers=customers, invoices=invoices)
    seconds = time.perf_counter() - started
    assert result.created and result.invoices == invoices, result
    if seeding.dialect.name == "postgresql":
        with seeding.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    seeding.dispose()
    engine = sa.create_engine(url)
    connector = standin.build_connector(engine, ConnectorOptions())
    activities = ErpActivities(connector, Mapping(erp=erp), TIMEZONE)
    return Standin(engine, connector, activities, customers, invoices, seconds)


def payments_for(erp: ErpConnector, numbers: list[str]) -> list[MatchRequest]:
    """One payment per invoice number: its customer and open balance, as a sale carries them.

    A paid invoice (balance zero) gets a 25.00 payment, which the rules then place.
    """
    payments = []
    for number in numbers:
        invoice = erp.invoice_by_number(number)
        assert invoice is not None, f"invoice {number} is missing"
        amount = invoice.balance if invoice.balance > 0 else Decimal("25.00")
        payments.append(
            MatchRequest(amount=amount, invoice_id=number, customer_id=invoice.customer_id)
        )
    return payments


def run(standin: Standin, payments: list[MatchRequest]) -> tuple[float, Counter[str]]:
    """Microseconds per payment of load_match_input + decide, and the decisions by rule."""
    decisions: Counter[str] = Counter()
    load = standin.activities.load_match_input
    started = time.perf_counter()
    for payment in payments:
        context = load(payment)
        decision = decide(context.match_input, context.policy)
        decisions[f"{decision.outcome.value}/{decision.rule}"] += 1
    return (time.perf_counter() - started) / len(payments) * 1e6, decisions


def captured_statements(standin: Standin, payment: MatchRequest) -> list[tuple[str, Any]]:
    """The SQL statements (with parameters) one payment's lookups run."""
    seen: list[tuple[str, Any]] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool
    ) -> None:
        seen.append((statement, parameters))

    sa.event.listen(standin.engine, "before_cursor_execute", record)
    try:
        standin.activities.load_match_input(payment)
    finally:
        sa.event.remove(standin.engine, "before_cursor_execute", record)
    return seen


def plan_scans(engine: sa.Engine, statements: list[tuple[str, Any]]) -> list[tuple[str, list[str]]]:
    """Each statement's plan and the table scans in it (SQLite ``SCAN``, PostgreSQL Seq Scan).

    Returns:
        ``(first line of the statement, plan lines)`` per statement; scans marked ``<-- SCAN``.
    """
    out = []
    with engine.connect() as conn:
        for statement, parameters in statements:
            if engine.dialect.name == "sqlite":
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
                lines = [str(r[3]) for r in rows]
                marked = [
                    f"{line}  <-- SCAN" if line.lstrip().startswith("SCAN ") else line
                    for line in lines
                ]
            else:
                rows = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
                lines = [str(r[0]) for r in rows]
                marked = [f"{line}  <-- SCAN" if "Seq Scan" in line else line for line in lines]
            head = " ".join(statement.split())[:90]
            out.append((head, marked))
    return out


def scanned_tables(engine: sa.Engine, plans: list[tuple[str, list[str]]]) -> dict[str, int]:
    """The tables the plans scan, with their row counts."""
    names = set()
    for _, lines in plans:
        for line in lines:
            if not line.endswith("<-- SCAN"):
                continue
            words = line.replace('"', " ").split()
            after = "on" if "Seq Scan" in line else "SCAN"
            names.add(words[words.index(after) + 1])
    with engine.connect() as conn:
        return {
            name: int(conn.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one())
            for name in names
        }


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--erp", choices=ERP_NAMES, default="sage500")
    parser.add_argument("--db", choices=DB_KINDS, default="sqlite")
    parser.add_argument("--payments", type=int, default=10_000)
    parser.add_argument("--small-invoices", type=int, default=10_000)
    parser.add_argument("--large-invoices", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the median is shown")
    parser.add_argument("--warmup", type=int, default=500, help="payments run before timing")
    args = parser.parse_args()
    rng = random.Random(7)
    candidates = range(FIRST_INVOICE_NO, FIRST_INVOICE_NO + args.small_invoices)
    picked = (
        rng.sample(candidates, args.payments)
        if args.payments <= len(candidates)
        else rng.choices(candidates, k=args.payments)
    )
    numbers = [str(n) for n in picked]
    print(f"ERP stand-in: {args.erp}, database: {args.db}, payments: {args.payments:,}")
    with tempfile.TemporaryDirectory() as tmp:
        with (
            bench_database(args.db, Path(tmp), "small") as small_url,
            bench_database(args.db, Path(tmp), "large") as large_url,
        ):
            sizes = (
                ("baseline", small_url, args.small_invoices),
                ("large", large_url, args.large_invoices),
            )
            standins = {}
            for label, url, invoices in sizes:
                standin = build(args.erp, url, invoices)
                standins[label] = standin
                print(
                    f"seeded {label:<8}: {standin.customers:>9,} customers,"
                    f" {standin.invoices:>10,} invoices in {standin.seed_seconds:7.1f} s"
                    f" ({standin.seed_seconds / standin.invoices * 1000:.3f} s / 1k invoices)",
                    flush=True,
                )
            print(machine_line(standins["large"].engine))
            payments = {label: payments_for(s.connector, numbers) for label, s in standins.items()}
            figures: dict[str, list[float]] = {label: [] for label in standins}
            decisions: dict[str, Counter[str]] = {}
            for label, standin in standins.items():
                run(standin, payments[label][: min(args.warmup, len(numbers))])
            for _ in range(args.repeats):
                for label, standin in standins.items():  # interleaved: same machine load
                    us, decisions[label] = run(standin, payments[label])
                    figures[label].append(us)
            base = statistics.median(figures["baseline"])
            big = statistics.median(figures["large"])
            for label in standins:
                passes = ", ".join(f"{v:.1f}" for v in figures[label])
                print(
                    f"per payment, {label:<8} ({standins[label].invoices:>9,} invoices):"
                    f" {statistics.median(figures[label]):8.1f} us  (passes: {passes})"
                )
                print(f"  decisions: {dict(sorted(decisions[label].items()))}")
            print(f"ratio large/baseline: {big / base:.2f}  (1.00 = flat)")
            large = standins["large"]
            plans = plan_scans(large.engine, captured_statements(large, payments["large"][0]))
            scanned = scanned_tables(large.engine, plans)
            print(f"query plans of one payment on the large database ({len(plans)} statements):")
            for head, lines in plans:
                print(f"  {head}")
                for line in lines:
                    print(f"      {line}")
            big_scans = {t: n for t, n in scanned.items() if n > TRIVIAL_ROWS}
            if not scanned:
                verdict = "no table scan"
            elif not big_scans:
                verdict = "no scan of a populated table; the planner scans only " + ", ".join(
                    f"{t} ({n} rows)" for t, n in sorted(scanned.items())
                )
            else:
                verdict = "TABLE SCAN of " + ", ".join(
                    f"{t} ({n:,} rows)" for t, n in sorted(big_scans.items())
                )
            print(f"EXPLAIN check: {verdict}")
            for standin in standins.values():
                standin.engine.dispose()


if __name__ == "__main__":
    main()
