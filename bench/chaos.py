"""The chaos harness: payments, voids and refunds through the real stack while things break.

The stack is bench/harness.py's (Temporal dev server on a persistent database, PayTrace
simulator, two ``tracepost worker`` processes, Sage 500 stand-in and store on PostgreSQL). While
the workflows run, it injects:

- worker processes killed with SIGKILL at random moments, each restarted a second later;
- the Temporal dev server stopped and started once on the same database;
- the workers' ERP connections dropped (``pg_terminate_backend``) every few seconds;
- deadlock victims: a trigger on the ERP's receipt-application tables raises SQLSTATE 40P01
  (what PostgreSQL sends a deadlock victim) in a share of the posting transactions;
- PayTrace simulator faults on every API path: 429s, 5xx, connection resets and lost responses
  (the request was handled, the answer never arrived).

The operations: card sales posted by PaymentPosting; then some of them voided in PayTrace
(VoidReversal), some refunded in PayTrace (RefundToCreditMemo) and some refunded from the ERP:
a clerk's credit memo flagged ``REFUND PT <transaction>`` (the ERP sweep starts CreditMemoRefund,
which refunds in PayTrace). The harness makes its own PayTrace calls (sales, voids, refunds,
settlement) with the faults paused, so it never doubles anything itself.

When everything has finished and the faults are off, it checks and prints:

- every sale has exactly one receipt (none missing, none twice); every void one reversal;
- every PayTrace refund exactly one credit memo; every flagged memo exactly one PayTrace refund,
  for the memo's amount (at most once, and not lost);
- the ERP balances: each posted GL batch sums to zero, each receipt's amount equals what it
  applied plus what is left unapplied;
- every invoice's balance equals the independent expectation (paid: 0.00, voided: as before,
  every other invoice: untouched);
- every needs-attention item has a reason;
- a secret scan (bench/secret_scan.py) of the store and ERP databases, the processes' logs
  (the simulator's excluded: it plays PayTrace) and the Temporal histories finds nothing.

It exits 1 on any violation. The short version runs in CI (tests/test_chaos.py).

    .venv/bin/python -m bench.chaos [--payments 200] [--voids 20] [--refunds 20]
        [--memo-refunds 20] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from activities.starter import start_workflow
from bench import secret_scan
from bench.harness import UNCAPPED_ERP_RATE, BenchStack, bench_stack, wait_pollers
from connectors.erp.sage500.standin import Sage500StandIn
from connectors.paytrace.client import PaytraceClient
from connectors.store import Store
from domain.erp_documents import DocumentKind
from domain.start_io import StartKind, WorkflowStart
from workers.composition import build_erp
from workers.mapping_file import starter_path
from workers.settings import Settings
from workflows.erp_refund_sweep import ErpRefundSweepInput
from workflows.registry import ErpRefundSweep

T = TypeVar("T")

ERP_APP = "tracepost-chaos-erp"
FLAG = "REFUND PT"
MEMO_AMOUNT = Decimal("1.00")
SIM_FAULTS = [
    {"kind": "rate_limit", "path": "/v1/", "rate": 0.04, "retry_after": 1},
    {"kind": "http_error", "path": "/v1/", "rate": 0.04, "status": 503},
    {"kind": "http_error", "path": "/v1/", "rate": 0.02, "status": 500},
    {"kind": "reset", "path": "/v1/", "rate": 0.03},
    {"kind": "lost_response", "path": "/v1/", "rate": 0.03},
]
DEADLOCK_TABLES = ("tarPendCustPmtAppl", "tarCustPmtAppl")


@dataclass
class Faults:
    """What was injected, counted."""

    worker_kills: int = 0
    temporal_restarts: int = 0
    temporal_away_seconds: float = 0.0
    erp_connections_dropped: int = 0
    deadlocks: int = 0
    paytrace_faults: dict[str, int] = field(default_factory=dict)


# --- fault injection ---------------------------------------------------------------------------


def install_deadlocks(erp_url: str, rate: float) -> None:
    """Make a share of the receipt-application inserts fail as deadlock victims do (40P01)."""
    engine = sa.create_engine(erp_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE SEQUENCE IF NOT EXISTS chaos_deadlocks"))
        conn.execute(
            sa.text(
                f"""
                CREATE OR REPLACE FUNCTION chaos_deadlock() RETURNS trigger AS $$
                BEGIN
                  IF random() < {rate:f} THEN
                    PERFORM nextval('chaos_deadlocks');
                    RAISE EXCEPTION 'deadlock detected (chaos)' USING ERRCODE = '40P01';
                  END IF;
                  RETURN NEW;
                END $$ LANGUAGE plpgsql
                """
            )
        )
        for table in DEADLOCK_TABLES:
            conn.execute(
                sa.text(
                    f'CREATE TRIGGER chaos_deadlock BEFORE INSERT ON "{table}" '
                    "FOR EACH ROW EXECUTE FUNCTION chaos_deadlock()"
                )
            )
    engine.dispose()


def remove_deadlocks(erp_url: str) -> int:
    """Drop the triggers; how many deadlocks they raised."""
    engine = sa.create_engine(erp_url)
    with engine.begin() as conn:
        for table in DEADLOCK_TABLES:
            conn.execute(sa.text(f'DROP TRIGGER IF EXISTS chaos_deadlock ON "{table}"'))
        count = conn.execute(sa.text("SELECT last_value, is_called FROM chaos_deadlocks")).one()
    engine.dispose()
    return int(count[0]) if count[1] else 0


def drop_erp_connections(server_engine: sa.Engine) -> int:
    """Terminate every backend the workers opened to the ERP; how many."""
    with server_engine.begin() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :app AND pid <> pg_backend_pid()"
            ),
            {"app": ERP_APP},
        ).all()
    return len(rows)


async def set_sim_faults(sim_url: str, rules: list[dict[str, Any]]) -> None:
    """Replace the simulator's fault rules (an empty list clears them)."""
    async with httpx.AsyncClient(base_url=sim_url, timeout=10) as http:
        (await http.delete("/_sim/faults")).raise_for_status()
        for rule in rules:
            (await http.post("/_sim/faults", json=rule)).raise_for_status()


async def sim_fault_counts(sim_url: str) -> dict[str, int]:
    """How many faults of each kind the simulator injected (0 when it does not say)."""
    async with httpx.AsyncClient(base_url=sim_url, timeout=10) as http:
        answer = await http.get("/_sim/faults")
    if answer.status_code != 200:
        return {}
    counts: Counter[str] = Counter()
    for rule in answer.json()["faults"]:
        label = rule["kind"] + (f" {rule['status']}" if rule["kind"] == "http_error" else "")
        counts[label] += int(rule["fired"])
    return dict(counts)


class Chaos:
    """The background fault injectors of a run."""

    def __init__(
        self, stack: BenchStack, queue: str, worker_env: dict[str, str], seed: int, kills: int
    ) -> None:
        self.stack = stack
        self.queue = queue
        self.worker_env = worker_env
        self.rng = random.Random(seed)
        self.kills = kills
        self.faults = Faults()
        self.workers: list[subprocess.Popen[bytes]] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.server_engine = sa.create_engine(stack.erp_url.split("?")[0])

    def start_worker(self) -> subprocess.Popen[bytes]:
        """Start one worker process on the run's queue."""
        (proc,) = self.stack.start_workers(1, self.queue, self.worker_env, name="chaos-worker")
        return proc

    def start(self, workers: int) -> None:
        """Start the workers and the injectors."""
        self.workers = [self.start_worker() for _ in range(workers)]
        self.tasks = [
            asyncio.create_task(self._kill_workers()),
            asyncio.create_task(self._drop_connections()),
        ]

    async def _kill_workers(self) -> None:
        while True:
            await asyncio.sleep(self.rng.uniform(3, 9))
            self.revive()
            if self.faults.worker_kills >= self.kills:
                continue
            n = self.rng.randrange(len(self.workers))
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.workers[n].pid, signal.SIGKILL)
            self.workers[n].wait()
            self.faults.worker_kills += 1
            await asyncio.sleep(1)
            self.workers[n] = self.start_worker()

    async def _drop_connections(self) -> None:
        while True:
            await asyncio.sleep(self.rng.uniform(2, 6))
            self.faults.erp_connections_dropped += await asyncio.to_thread(
                drop_erp_connections, self.server_engine
            )

    def revive(self) -> None:
        """Restart any worker that exited by itself (e.g. while Temporal was away)."""
        for n, proc in enumerate(self.workers):
            if proc.poll() is not None:
                self.workers[n] = self.start_worker()

    async def set_sim_faults(self, rules: list[dict[str, Any]]) -> None:
        """Replace the simulator's fault rules, counting what the old ones fired first."""
        for kind, fired in (await sim_fault_counts(self.stack.sim_url)).items():
            self.faults.paytrace_faults[kind] = self.faults.paytrace_faults.get(kind, 0) + fired
        await set_sim_faults(self.stack.sim_url, rules)

    async def restart_temporal(self) -> None:
        """Stop and start the Temporal dev server once."""
        self.faults.temporal_away_seconds = await self.stack.restart_temporal()
        self.faults.temporal_restarts += 1

    async def stop(self) -> None:
        """Stop the injectors (the workers keep running, unharmed)."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.revive()
        self.server_engine.dispose()


# --- the run -----------------------------------------------------------------------------------


async def patiently(call: Callable[[], Awaitable[T]], what: str, seconds: float = 600) -> T:
    """Retry a Temporal call through the server's restart."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await call()
        except RPCError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: Temporal did not answer for {seconds:.0f} s") from None
            await asyncio.sleep(1)


async def start_all(
    client_of: Callable[[], Client], queue: str, starts: list[WorkflowStart]
) -> None:
    """Start (or join) each workflow, through a restart of the server if need be."""
    gate = asyncio.Semaphore(32)

    async def one(start: WorkflowStart) -> None:
        async with gate:
            await patiently(lambda: start_workflow(client_of(), queue, start), "start")

    await asyncio.gather(*(one(s) for s in starts))


async def wait_closed(
    client_of: Callable[[], Client], workflow_ids: list[str], seconds: float
) -> dict[str, str]:
    """Wait until each workflow has closed; its status name (or RUNNING at the deadline)."""
    deadline = time.monotonic() + seconds
    status: dict[str, str] = {}
    pending = list(workflow_ids)
    while pending and time.monotonic() < deadline:
        still = []
        for workflow_id in pending:
            try:
                info = await client_of().get_workflow_handle(workflow_id).describe()
            except RPCError:
                still.append(workflow_id)
                continue
            if info.status in (None, WorkflowExecutionStatus.RUNNING):
                still.append(workflow_id)
            else:
                status[workflow_id] = info.status.name
        pending = still
        if pending:
            await asyncio.sleep(2)
    for workflow_id in pending:
        status[workflow_id] = "RUNNING"
    return status


def merchant_today(settings: Settings) -> date:
    """Today in the merchant's time zone."""
    return datetime.now(UTC).astimezone(ZoneInfo(settings.paytrace_timezone)).date()


def mapping_with_erp_refunds(tmp: Path) -> Path:
    """The starter Sage 500 mapping with ``refunds.from_erp`` on."""
    text = starter_path("sage500").read_text()
    assert "from_erp = false" in text, "the starter mapping changed: update the chaos harness"
    path = tmp / "chaos-mapping.toml"
    path.write_text(text.replace("from_erp = false", "from_erp = true", 1))
    return path


def invoice_balances(engine: sa.Engine) -> dict[str, Decimal]:
    """Balance of every invoice (TranType 501) by its number."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text('SELECT "TranNo", "Balance" FROM "tarInvoice" WHERE "TranType" = 501')
        ).all()
    return {str(no).lstrip("0"): Decimal(str(balance)) for no, balance in rows}


def ledger_violations(engine: sa.Engine) -> list[str]:
    """GL batches that do not sum to zero, receipts whose applications do not add up."""
    found = []
    with engine.connect() as conn:
        for table in ("tglTransaction", "tglPosting"):
            rows = conn.execute(
                sa.text(
                    f'SELECT "BatchKey", SUM("PostAmt") FROM "{table}" GROUP BY "BatchKey" '
                    'HAVING SUM("PostAmt") <> 0'
                )
            ).all()
            found += [f"{table} batch {key} sums to {total}, not 0" for key, total in rows]
        for pmt, appl in (
            ("tarCustPmt", "tarCustPmtAppl"),
            ("tarPendCustPmt", "tarPendCustPmtAppl"),
        ):
            rows = conn.execute(
                sa.text(
                    f'SELECT p."TranID", p."TranAmt", p."UnappliedAmt", '
                    f'COALESCE(SUM(a."PmtAmt"), 0) FROM "{pmt}" p '
                    f'LEFT JOIN "{appl}" a ON a."ApplyFromPmtKey" = p."CustPmtKey" '
                    'GROUP BY p."TranID", p."TranAmt", p."UnappliedAmt"'
                )
            ).all()
            found += [
                f"{pmt} {tran}: amount {amt} != applied {applied} + unapplied {unapplied}"
                for tran, amt, unapplied, applied in rows
                if Decimal(str(amt)) != Decimal(str(applied)) + Decimal(str(unapplied))
            ]
    return found


@dataclass
class Run:
    """The operations of a run and what became of them."""

    sales: list[tuple[int, str, Decimal]]
    balances_before: dict[str, Decimal] = field(default_factory=dict)
    voided: set[int] = field(default_factory=set)
    refunds: dict[int, int] = field(default_factory=dict)  # refund txn -> sale txn
    memo_sales: dict[int, str] = field(default_factory=dict)  # sale txn -> invoice
    statuses: dict[str, str] = field(default_factory=dict)


async def operate(args: argparse.Namespace, stack: BenchStack, chaos: Chaos, queue: str) -> Run:
    """Run the operations while the faults run; return what was done."""
    before = invoice_balances(sa.create_engine(stack.erp_url))
    run = Run(sales=await stack.sales(args.payments), balances_before=before)
    settings = Settings(erp="sage500", erp_url=stack.erp_url)
    rng = random.Random(args.seed)

    def client() -> Client:
        return stack.client

    await chaos.set_sim_faults(SIM_FAULTS)
    install_deadlocks(stack.erp_url, args.deadlock_rate)
    chaos.start(args.workers)
    await wait_pollers(stack.client, queue, 1)
    payments = [
        WorkflowStart(kind=StartKind.PAYMENT, transaction_id=t, source="chaos")
        for t, _, _ in run.sales
    ]
    starting = asyncio.create_task(start_all(client, queue, payments))
    await asyncio.sleep(args.restart_after)
    await chaos.restart_temporal()
    await starting
    ids = [f"payment-{t}" for t, _, _ in run.sales]
    run.statuses.update(await wait_closed(client, ids, args.timeout))

    # second act: the harness voids, settles and refunds with the PayTrace faults paused
    await chaos.set_sim_faults([])
    chosen = rng.sample(run.sales, args.voids + args.refunds + args.memo_refunds)
    to_void = chosen[: args.voids]
    to_refund = chosen[args.voids : args.voids + args.refunds]
    to_memo = chosen[args.voids + args.refunds :]
    erp = build_erp(settings, sa.create_engine(stack.erp_url))
    standin = Sage500StandIn()
    async with PaytraceClient(stack.sim_url, "demo", "demo") as paytrace:
        for txn, _, _ in to_void:
            await paytrace.void(txn)
            run.voided.add(txn)
        await paytrace.settle()
        for txn, _, _ in to_refund:
            run.refunds[(await paytrace.refund_transaction(txn)).transaction_id] = txn
    today = merchant_today(settings)
    for txn, invoice, _ in to_memo:
        found = erp.invoice_by_number(invoice)
        assert found is not None
        standin.add_credit_memo(
            sa.create_engine(stack.erp_url),
            company_id=str(standin.default_company),
            customer_id=found.customer_id,
            number=f"CM{txn % 10**7}",
            amount=MEMO_AMOUNT,
            memo_date=today,
            comment=f"{FLAG} {txn}",
        )
        run.memo_sales[txn] = invoice
    await chaos.set_sim_faults(SIM_FAULTS)
    follow = [
        *(
            WorkflowStart(kind=StartKind.REVERSAL, transaction_id=t, source="chaos")
            for t in run.voided
        ),
        *(
            WorkflowStart(kind=StartKind.REFUND, transaction_id=r, source="chaos")
            for r in run.refunds
        ),
    ]
    await start_all(client, queue, follow)
    sweep = await patiently(
        lambda: stack.client.execute_workflow(
            ErpRefundSweep.run,
            ErpRefundSweepInput(flag=FLAG, lookback_days=5),
            id=f"chaos-erp-sweep-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        ),
        "ERP refund sweep",
    )
    print(
        f"ERP refund sweep: found {sweep.found}, started {sweep.started},"
        f" {sweep.already} existed already (started by an earlier attempt)"
    )
    memo_ids = [
        e.id async for e in stack.client.list_workflows("WorkflowId STARTS_WITH 'memo-refund-'")
    ]
    follow_ids = [f"void-{t}" for t in run.voided] + [f"refund-{r}" for r in run.refunds]
    run.statuses.update(await wait_closed(client, follow_ids + memo_ids, args.timeout))
    return run


async def check(stack: BenchStack, run: Run) -> tuple[list[str], dict[str, int]]:
    """The invariants; (violations, counts)."""
    violations: list[str] = []
    counts: Counter[str] = Counter()
    engine = sa.create_engine(stack.erp_url)
    erp = build_erp(Settings(erp="sage500", erp_url=stack.erp_url), engine)
    for workflow_id, status in sorted(run.statuses.items()):
        counts[f"workflows {status.lower()}"] += 1
        if status != "COMPLETED":
            violations.append(f"{workflow_id} ended {status}")
    for txn, _, _ in run.sales:
        kinds = Counter(d.kind for d in erp.documents_for_transaction(txn))
        receipts = kinds[DocumentKind.RECEIPT]
        counts["receipts"] += receipts
        if receipts != 1:
            violations.append(f"sale {txn}: {receipts} receipts, not exactly 1")
        reversals = 1 if txn in run.voided else 0
        if kinds[DocumentKind.REVERSAL] != reversals:
            violations.append(
                f"sale {txn}: {kinds[DocumentKind.REVERSAL]} reversals, not {reversals}"
            )
        counts["reversals"] += kinds[DocumentKind.REVERSAL]
    for refund in run.refunds:
        memos = [
            d for d in erp.documents_for_transaction(refund) if d.kind is DocumentKind.CREDIT_MEMO
        ]
        counts["credit memos of PayTrace refunds"] += len(memos)
        if len(memos) != 1:
            violations.append(f"refund {refund}: {len(memos)} credit memos, not exactly 1")
    today = merchant_today(Settings())
    async with PaytraceClient(stack.sim_url, "demo", "demo") as paytrace:
        records = await paytrace.export_by_date_range(
            today - timedelta(days=1), today + timedelta(days=1), transaction_type="REFUND"
        )
    by_invoice: dict[str, list[Decimal]] = {}
    for record in records:
        if record.transaction_id not in run.refunds:
            by_invoice.setdefault(str(record.invoice_id), []).append(record.amount)
    for txn, invoice in run.memo_sales.items():
        issued = by_invoice.get(invoice, [])
        counts["PayTrace refunds of ERP memos"] += len(issued)
        if issued != [MEMO_AMOUNT]:
            violations.append(f"memo of sale {txn}: PayTrace refunds {issued}, not [{MEMO_AMOUNT}]")
    violations += ledger_violations(engine)
    balances = invoice_balances(engine)
    paid = {invoice: txn for txn, invoice, _ in run.sales if txn not in run.voided}
    for number, opening in run.balances_before.items():
        want = Decimal("0.00") if number in paid else opening
        if balances.get(number) != want:
            violations.append(f"invoice {number}: balance {balances.get(number)}, expected {want}")
    counts["invoices checked"] = len(run.balances_before)
    store = Store(sa.create_engine(stack.store_url))
    items = store.attention_items(open_only=False)
    counts["needs-attention items"] = len(items)
    for item in items:
        if not str(item.get("reason") or "").strip() or not str(item.get("reason_kind") or ""):
            violations.append(f"needs-attention item {item.get('id')} has no reason")
    engine.dispose()
    return violations, dict(counts)


async def scan_secrets(stack: BenchStack) -> list[Any]:
    """The secret scan of everything the run touched but the simulator."""
    logs = [p for p in stack.tmp.glob("*.log") if p.name != "simulator.log"]
    known = {
        "codec key": stack.env["TRACEPOST_CODEC_KEYS"].split(":", 1)[1],
        "Silent Post secret": stack.env["TRACEPOST_SILENT_POST_SECRET"],
    }
    stats = secret_scan.ScanStats()
    findings = await secret_scan.scan_async(
        [stack.store_url, stack.erp_url],
        logs,
        temporal_client=stack.client,
        secrets=known,
        codec_keys=stack.env["TRACEPOST_CODEC_KEYS"],
        stats=stats,
    )
    for source in stats.sources:
        print(f"  scanned {source}")
    return findings


async def main_async(args: argparse.Namespace) -> int:
    """Run, check, print; the exit code."""
    started = time.perf_counter()
    async with bench_stack("chaos", invoices=args.payments * 3 + 200) as stack:
        queue = f"chaos-{uuid.uuid4().hex[:6]}"
        stack.env["TRACEPOST_MAPPING_FILE"] = str(mapping_with_erp_refunds(stack.tmp))
        stack.env["TRACEPOST_SILENT_POST_SECRET"] = secrets.token_urlsafe(24)
        worker_env = {
            "TRACEPOST_ERP_URL": f"{stack.erp_url}&application_name={ERP_APP}",
            "TRACEPOST_ERP_MAX_ACTIVITIES_PER_SECOND": str(UNCAPPED_ERP_RATE),
        }
        chaos = Chaos(stack, queue, worker_env, args.seed, args.kills)
        try:
            run = await operate(args, stack, chaos, queue)
        finally:
            await chaos.stop()
            chaos.faults.deadlocks = remove_deadlocks(stack.erp_url)
            await chaos.set_sim_faults([])
        violations, counts = await check(stack, run)
        findings = await scan_secrets(stack)
    seconds = time.perf_counter() - started
    faults = chaos.faults
    print(f"\nchaos run: {seconds:.0f} s, seed {args.seed}")
    print(
        f"operations: {len(run.sales)} payments, {len(run.voided)} voids,"
        f" {len(run.refunds)} PayTrace refunds, {len(run.memo_sales)} ERP memo refunds"
    )
    print(
        f"faults: {faults.worker_kills} worker SIGKILLs, {faults.temporal_restarts} Temporal"
        f" restart ({faults.temporal_away_seconds:.1f} s away), {faults.erp_connections_dropped}"
        f" ERP connections dropped, {faults.deadlocks} deadlock victims,"
        f" PayTrace: {faults.paytrace_faults or 'counts not reported'}"
    )
    for name, value in sorted(counts.items()):
        print(f"  {name}: {value}")
    print(f"secret scan: {len(findings)} findings")
    for finding in findings:
        print(f"  FINDING {finding}")
    print(f"violations: {len(violations)}")
    for violation in violations:
        print(f"  VIOLATION {violation}")
    return 1 if violations or findings else 0


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=200)
    parser.add_argument("--voids", type=int, default=20)
    parser.add_argument("--refunds", type=int, default=20)
    parser.add_argument("--memo-refunds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--kills", type=int, default=1000, help="at most this many worker SIGKILLs (3-9 s apart)"
    )
    parser.add_argument("--deadlock-rate", type=float, default=0.1)
    parser.add_argument(
        "--restart-after", type=float, default=8.0, help="seconds before the Temporal restart"
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for a phase")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.voids + args.refunds + args.memo_refunds > args.payments:
        parser.error("voids + refunds + memo refunds must not exceed payments")
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, CPython {platform.python_version()}"
    )
    code = asyncio.run(main_async(args))
    sys.stdout.flush()
    os._exit(code)  # the SDK's native threads can crash at interpreter exit (sdk-python#300)


if __name__ == "__main__":
    main()
