"""Scale-out: PaymentPosting throughput as worker processes are added, and the ERP rate limit.

One Temporal dev server (SQLite persistence), one PayTrace simulator process, a Sage 500
stand-in and the store on PostgreSQL. For each worker count it starts that many
``tracepost worker`` processes on a fresh task queue, waits until all of them poll, starts N
PaymentPosting workflows (card sales that name their invoice) and times them from the first
start to the last result. The one-worker round is the baseline; each row prints its ratio to it.
These rounds lift the ERP task queue's rate limit out of the way (the default, 20 ERP activities
a second, allows about four postings a second), so the workers and the server are measured.
A last round runs the most workers with ``TRACEPOST_ERP_MAX_ACTIVITIES_PER_SECOND`` set low and
reads the ERP activities' start times from the workflow histories: the rate they ran at against
the ceiling. Payloads are encrypted as in production. Prints figures; asserts nothing.

    .venv/bin/python -m bench.worker_scale [--payments 200] [--workers 1,2,4] [--erp-rate 4]
        [--erp-payments 60]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import sqlalchemy as sa
from pydantic import SecretStr
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from activities.starter import start_payment_posting
from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.errors import PaytraceDeclined
from connectors.paytrace.models import CreditCard, KeyedSaleRequest
from domain.activity_io import PostingOutcome
from tests.dbs import throwaway_schema
from workers.composition import build_erp
from workers.erp_admin import DemoSize, init_erp
from workers.settings import Settings
from workers.temporal_client import connect
from workers.temporal_server import TemporalDevServer, find_temporal_cli
from workflows.payment_posting import PaymentPosting

PG_URL = os.environ.get(
    "TRACEPOST_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TEST_CARD = "4012000098765439"  # Visa's published test number
BIN = Path(sys.executable).parent
UNCAPPED_ERP_RATE = 10_000.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Round:
    workers: int
    payments: int
    seconds: float
    posted: int
    erp_rate: float | None = None
    erp_ceiling: float | None = None


async def wait_pollers(client: Client, queue: str, count: int, seconds: float = 60) -> None:
    """Wait until ``count`` worker processes poll the queue for workflow tasks."""
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = await client.workflow_service.describe_task_queue(request)
        if len({p.identity for p in answer.pollers}) >= count:
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"{count} workers did not poll {queue} within {seconds:.0f} s")


def start_workers(count: int, env: dict[str, str], log_dir: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for n in range(count):
        log = (log_dir / f"worker-{env['TRACEPOST_TASK_QUEUE']}-{n}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [str(BIN / "tracepost"), "worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        )
        log.close()
    return procs


def start_simulator(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [str(BIN / "tracepost"), "simulator", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def erp_start_rate(client: Client, workflow_ids: list[str], erp_queue: str) -> float:
    """ERP activities started per second across the workflows (first start to last)."""
    starts: list[float] = []
    for workflow_id in workflow_ids:
        scheduled: set[int] = set()
        async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                attrs = event.activity_task_scheduled_event_attributes
                if attrs.task_queue.name == erp_queue:
                    scheduled.add(event.event_id)
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                attrs_started = event.activity_task_started_event_attributes
                if attrs_started.scheduled_event_id in scheduled:
                    starts.append(event.event_time.ToDatetime().timestamp())
    starts.sort()
    if len(starts) < 2:
        return 0.0
    return (len(starts) - 1) / (starts[-1] - starts[0])


async def one_round(
    client: Client,
    env: dict[str, str],
    txns: list[int],
    workers: int,
    log_dir: Path,
    erp_rate: float | None = None,
    seconds_allowed: float = 600,
) -> Round:
    queue = f"scale-{workers}w-{uuid.uuid4().hex[:6]}"
    # Throughput rounds lift the ERP queue's ceiling (default 20/s, about 4 postings/s) so the
    # workers and the server are what is measured; the last round sets it low on purpose.
    ceiling = UNCAPPED_ERP_RATE if erp_rate is None else erp_rate
    round_env = {
        **env,
        "TRACEPOST_TASK_QUEUE": queue,
        "TRACEPOST_ERP_MAX_ACTIVITIES_PER_SECOND": str(ceiling),
    }
    procs = start_workers(workers, round_env, log_dir)
    try:
        await wait_pollers(client, queue, workers)
        gate = asyncio.Semaphore(64)

        async def start(txn: int) -> None:
            async with gate:
                await start_payment_posting(client, queue, txn, "bench")

        started = time.perf_counter()
        await asyncio.gather(*(start(t) for t in txns))
        async with asyncio.timeout(seconds_allowed):
            results = await asyncio.gather(
                *(
                    client.get_workflow_handle_for(PaymentPosting.run, f"payment-{t}").result()
                    for t in txns
                )
            )
        seconds = time.perf_counter() - started
    finally:
        stop_workers(procs)
    posted = sum(1 for r in results if r.outcome is PostingOutcome.POSTED)
    measured = None
    if erp_rate is not None:
        ids = [f"payment-{t}" for t in txns]
        measured = await erp_start_rate(client, ids, Settings(task_queue=queue).erp_task_queue)
    return Round(workers, len(txns), seconds, posted, measured, erp_rate)


async def sales(sim_url: str, erp_url: str, count: int) -> list[int]:
    """One card sale per open demo invoice, for its balance, naming it."""
    erp = build_erp(Settings(erp="sage500", erp_url=erp_url), sa.create_engine(erp_url))
    txns: list[int] = []
    card = CreditCard(number=SecretStr(TEST_CARD), expiration_month="12", expiration_year="2030")
    async with PaytraceClient(sim_url, "demo", "demo") as paytrace:
        number = 1000
        while len(txns) < count:
            number += 1
            invoice = erp.invoice_by_number(str(number))
            if invoice is None:
                if number > 1000 + count * 4:
                    raise RuntimeError(f"the demo ERP has fewer than {count} open invoices")
                continue
            if invoice.balance <= Decimal("0.00"):
                continue
            customer = erp.get_customer(invoice.customer_id)
            if customer is None or customer.on_hold or not customer.active:  # it would park
                continue
            request = KeyedSaleRequest(
                amount=invoice.balance, credit_card=card, invoice_id=str(number)
            )
            try:
                txns.append((await paytrace.sale_keyed(request)).transaction_id)
            except PaytraceDeclined:  # the simulator declines some cents values, as test cards do
                continue
    return txns


async def wait_http(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                await http.get(url)
                return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


async def run(args: argparse.Namespace) -> list[Round]:
    counts = [int(c) for c in args.workers.split(",")]
    capped = args.erp_payments if args.erp_rate else 0
    total = args.payments * len(counts) + capped
    tmp = Path(tempfile.mkdtemp(prefix="tracepost-scale-"))
    print(f"logs of the server, simulator and workers: {tmp}", file=sys.stderr)
    address, ui_port, sim_port = f"127.0.0.1:{free_port()}", free_port(), free_port()
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    with (
        throwaway_schema(PG_URL, "bench_erp") as erp_url,
        throwaway_schema(PG_URL, "bench_store") as store_url,
    ):
        env = {
            **os.environ,
            "TRACEPOST_VAR_DIR": str(tmp),
            "TRACEPOST_TEMPORAL_ADDRESS": address,
            "TRACEPOST_ERP": "sage500",
            "TRACEPOST_ERP_URL": erp_url,
            "TRACEPOST_STORE_URL": store_url,
            "TRACEPOST_PAYTRACE_BASE_URL": f"http://127.0.0.1:{sim_port}",
            "TRACEPOST_PAYTRACE_USERNAME": "demo",
            "TRACEPOST_PAYTRACE_PASSWORD": "demo",
            "TRACEPOST_CODEC": "on",
            "TRACEPOST_CODEC_KEYS": f"bench:{key}",
            "TRACEPOST_LOG_LEVEL": "WARNING",
        }
        init_erp(
            sa.create_engine(erp_url),
            erp="sage500",
            company_id="",
            demo=True,
            size=DemoSize(customers=200, invoices=total * 2 + 200),
        )
        server = TemporalDevServer(
            find_temporal_cli(), address, ui_port, tmp / "temporal.db", tmp / "temporal.log"
        )
        server.start()
        simulator = start_simulator(env, sim_port, tmp / "simulator.log")
        try:
            await wait_http(f"http://127.0.0.1:{sim_port}/healthz")
            os.environ.update({k: v for k, v in env.items() if k.startswith("TRACEPOST_")})
            client = None
            for _ in range(100):
                try:
                    client = await connect(Settings())
                    break
                except RuntimeError:
                    server.check_alive()
                    await asyncio.sleep(0.2)
            assert client is not None, "Temporal did not start"
            txns = await sales(f"http://127.0.0.1:{sim_port}", erp_url, total)
            rounds = []
            for n, count in enumerate(counts):
                batch = txns[n * args.payments : (n + 1) * args.payments]
                rounds.append(await one_round(client, env, batch, count, tmp))
                print(f"  {count} worker(s): {args.payments / rounds[-1].seconds:.1f} payments/s")
            if args.erp_rate:
                batch = txns[len(counts) * args.payments :]
                rounds.append(
                    await one_round(client, env, batch, max(counts), tmp, erp_rate=args.erp_rate)
                )
        finally:
            stop_workers([simulator])
            await server.stop()
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=200, help="payments a round")
    parser.add_argument("--workers", default="1,2,4", help="worker processes of each round")
    parser.add_argument(
        "--erp-payments", type=int, default=60, help="payments of the rate-limited round"
    )
    parser.add_argument(
        "--erp-rate",
        type=float,
        default=4.0,
        help="ERP activities/s ceiling of the last round (0: no such round)",
    )
    args = parser.parse_args()
    cores = os.cpu_count()
    print(f"machine: {cores} cores, {platform.machine()}, CPython {platform.python_version()}")
    print(f"{args.payments} PaymentPosting workflows a round; Sage 500 stand-in on PostgreSQL")
    rounds = asyncio.run(run(args))
    base = rounds[0].payments / rounds[0].seconds
    print()
    print("| worker processes | payments/s | ratio to 1 worker | posted |")
    print("|---|---|---|---|")
    for r in rounds:
        if r.erp_ceiling is not None:
            continue
        rate = r.payments / r.seconds
        print(f"| {r.workers} | {rate:.1f} | {rate / base:.2f} | {r.posted}/{r.payments} |")
    for r in rounds:
        if r.erp_ceiling is None:
            continue
        print()
        print(
            f"ERP rate limit: {r.workers} workers, ceiling {r.erp_ceiling:g} ERP activities/s,"
            f" measured {r.erp_rate:.2f}/s ({(r.erp_rate or 0) / r.erp_ceiling:.2f} of the"
            f" ceiling); {r.payments / r.seconds:.1f} payments/s; posted {r.posted}/{r.payments}"
        )
    sys.stdout.flush()
    os._exit(0)  # the SDK's native threads can crash at interpreter exit (sdk-python#300)


if __name__ == "__main__":
    main()
