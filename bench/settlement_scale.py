"""Settlement at scale: reconciling a settled batch of 10,000 transactions against the ERP.

Builds, without Temporal, what ``SettlementSync`` finds when it reconciles: a settled PayTrace
batch of ``--transactions`` sales (``BatchSummary`` and ``ExportedTransaction`` models, as the
PayTrace client returns them, served by an in-memory client) and their receipts in an ERP
stand-in, written through the connector's own ``write_receipt`` (left pending, as the ``manual``
posting strategy leaves them). Planted discrepancies: sales with no receipt, receipts whose
amount differs, and receipts dated in the batch's days whose sale PayTrace shows voided or does
not know (posted but not settled); decoys that are not discrepancies: receipts of approved sales
of the same days that settle in the next batch. It then times the ``reconcile_batch`` activity
(``SettlementActivities``, called directly: the ERP read-backs, ``domain.settlement.reconcile``,
the deposit plan, the report saved in tracepost's store) and checks it found exactly the planted
discrepancies. The floor: PayTrace's transactions loaded into a table of the ERP database and one
plain SQL query joining them to the cross-reference (``tptPaytraceXref``) that returns the same
mismatches. Prints both times and the ratio reconcile/join; asserts nothing about time.

    .venv/bin/python -m bench.settlement_scale [--erp sage500|dynamics_sl] [--db sqlite|pg]
        [--transactions 10000] [--repeats 3]

PostgreSQL: ``postgresql+psycopg://postgres@127.0.0.1:5432/test`` (``TRACEPOST_BENCH_PG_URL``
overrides), throwaway schemas for the ERP and the store, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa

from activities.settlement import SettlementActivities
from bench.matching_scale import DB_KINDS, bench_database, fast_seed_engine, machine_line
from connectors.erp.protocol import ErpConnector
from connectors.erp.standin import ERP_NAMES, ConnectorOptions, stand_in
from connectors.erp.xref import XREF_TABLE
from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.models import BatchSummary, ExportedTransaction
from connectors.store import Store
from domain.erp_documents import DocumentKind
from domain.mapping import Mapping
from domain.models import CashReceipt
from domain.settlement_io import ReconcilePlan
from domain.store_io import SettlementLineStatus

TIMEZONE = "America/New_York"
BATCH_NUMBER = 4_207
FIRST_TXN = 70_000_001
CUSTOMERS = ("C0001", "C0002")  # the demo's well-known, active customers
PLANTED = 3  # of each kind
PAYTRACE_TIME = "%m/%d/%Y %I:%M:%S %p"
SALE_TYPES = ("SALE", "CAPTURE", "FORCESALE")


@dataclass
class Scenario:
    """What PayTrace reports and which discrepancies were planted in the ERP."""

    day: date
    summary: BatchSummary
    settled: list[ExportedTransaction]
    exported: list[ExportedTransaction]
    receipts: list[CashReceipt] = field(default_factory=list)
    missing: set[int] = field(default_factory=set)
    amount_differs: set[int] = field(default_factory=set)
    not_settled: set[int] = field(default_factory=set)
    decoys: set[int] = field(default_factory=set)


def _record(
    txn_id: int, kind: str, amount: Decimal, status: int, when: str, batch: int | None
) -> ExportedTransaction:
    """An export record as PayTrace's JSON carries it (ids, amounts, statuses; no card data)."""
    return ExportedTransaction.model_validate(
        {
            "transaction_id": txn_id,
            "transaction_type": kind,
            "amount": str(amount),
            "status_code": status,
            "status_message": "Your transaction was successfully approved.",
            "approval_code": "TAS" + str(txn_id)[-3:],
            "invoice_id": "",
            "customer_reference_id": CUSTOMERS[txn_id % 2],
            "settled": when if batch else "",
            "batch_number": batch or "",
        }
    )


def build_scenario(count: int, approved: int, rng: random.Random) -> Scenario:
    """A settled batch of ``count`` sales, the receipts to write, and the planted differences."""
    day = date.today() - timedelta(days=1)
    settled_at = datetime.combine(day, datetime.min.time()) + timedelta(hours=18, minutes=5)
    when = settled_at.strftime(PAYTRACE_TIME)
    ids = list(range(FIRST_TXN, FIRST_TXN + count))
    amounts = {i: Decimal(rng.randint(500, 250_000)) / 100 for i in ids}
    settled = [_record(i, "SALE", amounts[i], approved, when, BATCH_NUMBER) for i in ids]
    picks = rng.sample(ids, 2 * PLANTED)
    missing, differs = set(picks[:PLANTED]), set(picks[PLANTED:])
    receipts = [
        CashReceipt(
            paytrace_transaction_id=i,
            customer_id=CUSTOMERS[i % 2],
            amount=amounts[i] + (Decimal("1.00") if i in differs else Decimal("0.00")),
            receipt_date=day,
            reference=f"PT {i}",
            payment_method="card",
            on_account=amounts[i] + (Decimal("1.00") if i in differs else Decimal("0.00")),
        )
        for i in ids
        if i not in missing
    ]
    # After the batch's ids: voided sales and one PayTrace does not know, all with receipts.
    extra = FIRST_TXN + count + 10
    voided = list(range(extra, extra + PLANTED - 1))
    unknown = extra + PLANTED - 1
    decoys = [extra + PLANTED, extra + PLANTED + 1]  # approved, in the next batch: no discrepancy
    exported = list(settled)
    exported += [_record(i, "VOID", Decimal("48.00"), approved, when, None) for i in voided]
    exported += [_record(i, "SALE", Decimal("52.00"), approved, when, None) for i in decoys]
    for i, amount in (
        [(i, Decimal("48.00")) for i in voided]
        + [(unknown, Decimal("61.00"))]
        + [(i, Decimal("52.00")) for i in decoys]
    ):
        receipts.append(
            CashReceipt(
                paytrace_transaction_id=i,
                customer_id=CUSTOMERS[i % 2],
                amount=amount,
                receipt_date=day,
                reference=f"PT {i}",
                payment_method="card",
                on_account=amount,
            )
        )
    total = sum(amounts.values(), Decimal("0.00"))
    summary = BatchSummary(
        number=BATCH_NUMBER,
        settled=when,
        transaction_count=count,
        net_amount=total,
        sales_count=count,
        sales_amount=total,
    )
    return Scenario(
        day=day,
        summary=summary,
        settled=settled,
        exported=exported,
        receipts=receipts,
        missing=missing,
        amount_differs=differs,
        not_settled={*voided, unknown},
        decoys=set(decoys),
    )


class MemoryPaytrace:
    """The three reads ``SettlementActivities`` makes of PayTrace, served from memory."""

    def __init__(self, scenario: Scenario) -> None:
        self._s = scenario

    async def export_batch(self, batch_number: int | None = None) -> BatchSummary | None:
        """The batch's summary."""
        return self._s.summary if batch_number == self._s.summary.number else None

    async def batch_transactions(self, batch_number: int) -> list[ExportedTransaction]:
        """The batch's settled transactions."""
        return list(self._s.settled) if batch_number == self._s.summary.number else []

    async def export_by_date_range(
        self, start: date, end: date, **_filters: Any
    ) -> list[ExportedTransaction]:
        """Every transaction of the days (the batch's, voids, the next batch's)."""
        return list(self._s.exported)


class Timed:
    """Delegates to ``target``, adding the seconds spent in the named methods to ``spent``."""

    def __init__(self, target: object, names: Sequence[str], spent: dict[str, float]) -> None:
        self._target = target
        self._names = set(names)
        self._spent = spent

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name not in self._names:
            return value

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                self._spent[name] = self._spent.get(name, 0.0) + time.perf_counter() - started

        return timed


def seed_receipts(erp: str, url: str, receipts: list[CashReceipt]) -> float:
    """Seed the demo company and write every receipt through the connector; seconds taken."""
    standin = stand_in(erp)
    engine = fast_seed_engine(url)
    started = time.perf_counter()
    standin.create_schema(engine)
    standin.seed_demo(engine, customers=300, invoices=1200)
    connector = standin.build_connector(engine, ConnectorOptions())
    for receipt in receipts:
        connector.write_receipt(receipt)
    seconds = time.perf_counter() - started
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    return seconds


PAYTRACE_TABLE = "bench_paytrace_txn"


def load_paytrace_table(engine: sa.Engine, scenario: Scenario) -> float:
    """PayTrace's transactions of the days into a plain table of the ERP database; seconds."""
    metadata = sa.MetaData()
    table = sa.Table(
        PAYTRACE_TABLE,
        metadata,
        sa.Column("transaction_id", sa.BigInteger, primary_key=True),
        sa.Column("transaction_type", sa.String(20), nullable=False),
        sa.Column("amount", sa.Numeric(15, 2), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("batch_number", sa.Integer, nullable=True),
    )
    started = time.perf_counter()
    metadata.create_all(engine)
    rows = [
        {
            "transaction_id": r.transaction_id,
            "transaction_type": r.transaction_type.upper(),
            "amount": r.amount,
            "status_code": r.status_code,
            "batch_number": r.batch_number,
        }
        for r in scenario.exported
    ]
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"ANALYZE {PAYTRACE_TABLE}"))
    return time.perf_counter() - started


def floor_query(company: str) -> tuple[sa.TextClause, dict[str, Any]]:
    """One SQL statement: the batch's sales without a receipt or with another amount, and the
    receipts of the days that are neither in the batch nor approved sales, nor reversed."""
    sql = f"""
        SELECT p.transaction_id, CASE WHEN x."SourceKey" IS NULL THEN 'missing_in_erp'
               ELSE 'amount_differs' END AS problem
          FROM {PAYTRACE_TABLE} p
          LEFT JOIN "{XREF_TABLE}" x
            ON x."DocKind" = :receipt AND x."PaytraceTranID" = p.transaction_id
         WHERE p.batch_number = :batch AND p.transaction_type IN ('SALE', 'CAPTURE', 'FORCESALE')
           AND (x."SourceKey" IS NULL OR x."Amount" <> p.amount)
        UNION ALL
        SELECT x."PaytraceTranID", 'in_erp_not_in_paytrace'
          FROM "{XREF_TABLE}" x
          LEFT JOIN {PAYTRACE_TABLE} p ON p.transaction_id = x."PaytraceTranID"
         WHERE x."DocKind" = :receipt AND x."DocDate" BETWEEN :start AND :end
           AND x."CompanyID" = :company
           AND (p.transaction_id IS NULL OR (p.batch_number IS NULL AND NOT (
                p.transaction_type IN ('SALE', 'CAPTURE', 'FORCESALE') AND p.status_code = :ok)))
           AND NOT EXISTS (SELECT 1 FROM "{XREF_TABLE}" r
                            WHERE r."DocKind" = :reversal AND r."SourceKey" = x."SourceKey")
    """
    return sa.text(sql), {
        "receipt": DocumentKind.RECEIPT.value,
        "reversal": DocumentKind.REVERSAL.value,
        "batch": BATCH_NUMBER,
        "company": company,
    }


def median_seconds(call: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """The median seconds of ``repeats`` calls after one warm-up, every pass, the last result."""
    result = call()
    passes = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = call()
        passes.append(time.perf_counter() - started)
    return statistics.median(passes), passes, result


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--erp", choices=ERP_NAMES, default="sage500")
    parser.add_argument("--db", choices=DB_KINDS, default="sqlite")
    parser.add_argument("--transactions", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the median is shown")
    args = parser.parse_args()
    mapping = Mapping(erp=args.erp)
    approved = mapping.statuses.approved[0]
    scenario = build_scenario(args.transactions, approved, random.Random(11))
    print(
        f"ERP stand-in: {args.erp}, database: {args.db}, batch of {args.transactions:,}"
        f" settled sales, {len(scenario.receipts):,} receipts in the ERP"
    )
    with tempfile.TemporaryDirectory() as tmp:
        with (
            bench_database(args.db, Path(tmp), "erp") as erp_url,
            bench_database(args.db, Path(tmp), "store") as store_url,
        ):
            seed = seed_receipts(args.erp, erp_url, scenario.receipts)
            print(f"seeded the ERP (demo company + receipts via write_receipt) in {seed:.1f} s")
            erp_engine = sa.create_engine(erp_url)
            store_engine = sa.create_engine(store_url)
            print(machine_line(erp_engine))
            store = Store(store_engine)
            store.create_schema()
            connector = stand_in(args.erp).build_connector(erp_engine, ConnectorOptions())
            spent: dict[str, float] = {}
            activities = SettlementActivities(
                cast(PaytraceClient, MemoryPaytrace(scenario)),
                cast(
                    ErpConnector, Timed(connector, ("documents_by_keys", "documents_dated"), spent)
                ),
                cast(Store, Timed(store, ("save_settlement_report",), spent)),
                mapping,
                TIMEZONE,
            )

            def reconcile() -> ReconcilePlan:
                return asyncio.run(activities.reconcile_batch(BATCH_NUMBER))

            spent.clear()
            recon, recon_passes, plan = median_seconds(reconcile, args.repeats)
            per_pass = {k: v / (args.repeats + 1) for k, v in spent.items()}
            loaded = load_paytrace_table(erp_engine, scenario)
            company = stand_in(args.erp).default_company
            statement, params = floor_query(company)
            params |= {
                "start": scenario.day - timedelta(days=1),
                "end": scenario.day,
                "ok": approved,
            }

            def join() -> list[tuple[int, str]]:
                with erp_engine.connect() as conn:
                    return [(int(r[0]), str(r[1])) for r in conn.execute(statement, params)]

            floor, floor_passes, rows = median_seconds(join, args.repeats)

            report = store.settlement_report(BATCH_NUMBER)
            assert report is not None
            found: dict[SettlementLineStatus, set[int]] = {}
            for line in report.lines:
                if line.status is not SettlementLineStatus.MATCHED:
                    found.setdefault(line.status, set()).add(line.transaction_id)
            planted = {
                SettlementLineStatus.MISSING_IN_ERP: scenario.missing,
                SettlementLineStatus.AMOUNT_DIFFERS: scenario.amount_differs,
                SettlementLineStatus.IN_ERP_NOT_IN_PAYTRACE: scenario.not_settled,
            }
            total = sum(len(v) for v in planted.values())
            hits = sum(len(found.get(k, set()) & v) for k, v in planted.items())
            extra = {
                k.value: sorted(v - planted.get(k, set()))
                for k, v in found.items()
                if v - planted.get(k, set())
            }
            floor_found: dict[str, set[int]] = {}
            for txn, problem in rows:
                floor_found.setdefault(problem, set()).add(txn)
            floor_hits = sum(len(floor_found.get(k.value, set()) & v) for k, v in planted.items())
            print(
                f"reconcile found {hits} of {total} planted discrepancies"
                f" (missing posting {len(found.get(SettlementLineStatus.MISSING_IN_ERP, set()))},"
                f" amount mismatch {len(found.get(SettlementLineStatus.AMOUNT_DIFFERS, set()))},"
                f" posted but not settled"
                f" {len(found.get(SettlementLineStatus.IN_ERP_NOT_IN_PAYTRACE, set()))});"
                f" unexpected: {extra or 'none'}; report lines {len(report.lines):,},"
                f" status {report.status!r}, plan discrepancies {plan.discrepancies},"
                f" deposit {plan.deposit.amount if plan.deposit else None}"
            )
            print(
                f"floor join found {floor_hits} of {total} planted discrepancies"
                f" ({len(rows)} rows returned)"
            )
            print(
                f"reconcile_batch: {recon * 1000:8.1f} ms  (passes: "
                + ", ".join(f"{p * 1000:.1f}" for p in recon_passes)
                + ")"
            )
            print(
                "  of which, per pass: "
                + ", ".join(
                    f"{name} {secs * 1000:.1f} ms" for name, secs in sorted(per_pass.items())
                )
            )
            print(
                f"plain SQL join: {floor * 1000:8.1f} ms  (passes: "
                + ", ".join(f"{p * 1000:.1f}" for p in floor_passes)
                + f"; table of {len(scenario.exported):,} PayTrace rows loaded in {loaded:.2f} s)"
            )
            print(f"ratio reconcile/join: {recon / floor:.1f}")
            erp_engine.dispose()
            store_engine.dispose()


if __name__ == "__main__":
    main()
