"""The stack the end-to-end benchmarks and the chaos harness run against, as real processes.

One Temporal dev server (persistent SQLite file, so it can be restarted), one PayTrace simulator
process, a Sage 500 stand-in and the store on throwaway PostgreSQL schemas, and as many
``tracepost worker`` (or other) processes as a round needs. Payloads are encrypted as in
production. Every process logs to the run's folder, printed at the start.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import sqlalchemy as sa
from pydantic import SecretStr
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.errors import PaytraceDeclined
from connectors.paytrace.models import CreditCard, KeyedSaleRequest
from tests.dbs import throwaway_schema
from workers.composition import build_erp
from workers.erp_admin import DemoSize, init_erp
from workers.settings import Settings
from workers.temporal_client import connect
from workers.temporal_server import TemporalDevServer, find_temporal_cli

PG_URL = os.environ.get(
    "TRACEPOST_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TEST_CARD = "4012000098765439"  # Visa's published test number
BIN = Path(sys.executable).parent
UNCAPPED_ERP_RATE = 10_000.0


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_http(url: str, seconds: float = 30) -> None:
    """Wait until ``url`` answers anything over HTTP."""
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                await http.get(url)
                return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


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


def start_process(
    args: Sequence[str], env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """Start a process whose output goes to ``log_path`` (appended)."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(args), env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def stop_processes(procs: Sequence[subprocess.Popen[bytes]], grace: float = 30) -> None:
    """SIGTERM each process, then SIGKILL the ones still there after ``grace`` seconds."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def connect_when_up(server: TemporalDevServer, seconds: float = 30) -> Client:
    """Connect to the dev server once it accepts connections (with ``Settings()`` from env)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await connect(Settings())
        except RuntimeError:
            server.check_alive()
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@dataclass
class BenchStack:
    """The running stack of one benchmark or chaos run.

    Attributes:
        tmp: the run's folder (logs, Temporal's database).
        env: the environment every tracepost process gets (``TRACEPOST_*`` settings).
        erp_url: the Sage 500 stand-in's URL.
        store_url: the store's URL.
        sim_url: the PayTrace simulator's base URL.
        server: the Temporal dev server.
        client: a Temporal client connected to it (codec on).
    """

    tmp: Path
    env: dict[str, str]
    erp_url: str
    store_url: str
    sim_url: str
    server: TemporalDevServer
    client: Client
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_workers(
        self,
        count: int,
        queue: str,
        extra_env: dict[str, str] | None = None,
        command: Sequence[str] | None = None,
        name: str = "worker",
    ) -> list[subprocess.Popen[bytes]]:
        """Start ``count`` worker processes on ``queue`` (``tracepost worker`` unless told).

        Args:
            count: how many processes.
            queue: their workflow task queue (the ERP queue is derived from it).
            extra_env: more settings for these processes.
            command: the command to run instead of ``tracepost worker``.
            name: the start of their log files' names.

        Returns:
            The processes (also stopped when the stack closes).
        """
        env = {**self.env, "TRACEPOST_TASK_QUEUE": queue, **(extra_env or {})}
        args = list(command or [str(BIN / "tracepost"), "worker"])
        procs = [
            start_process(args, env, self.tmp / f"{name}-{queue}-{n}.log") for n in range(count)
        ]
        self.processes.extend(procs)
        return procs

    async def restart_temporal(self) -> float:
        """Stop the dev server and start it again on the same database; seconds it was away."""
        started = time.perf_counter()
        await self.server.stop()
        self.server.start()
        self.client = await connect_when_up(self.server, seconds=60)
        return time.perf_counter() - started

    async def sales(self, count: int, skip: int = 0) -> list[tuple[int, str, Decimal]]:
        """One card sale per open demo invoice, for its balance, naming it.

        Invoices of customers that would park (on hold, inactive) and amounts the simulator
        declines are passed over.

        Args:
            count: how many sales.
            skip: invoice numbers to pass over first (to leave them for another round).

        Returns:
            (transaction id, invoice number, amount) of each sale.
        """
        erp = build_erp(
            Settings(erp="sage500", erp_url=self.erp_url), sa.create_engine(self.erp_url)
        )
        done: list[tuple[int, str, Decimal]] = []
        card = CreditCard(
            number=SecretStr(TEST_CARD), expiration_month="12", expiration_year="2030"
        )
        async with PaytraceClient(self.sim_url, "demo", "demo") as paytrace:
            number = 1000 + skip
            while len(done) < count:
                number += 1
                invoice = erp.invoice_by_number(str(number))
                if invoice is None:
                    if number > 1000 + skip + count * 4:
                        raise RuntimeError(f"the demo ERP has fewer than {count} open invoices")
                    continue
                if invoice.balance <= Decimal("0.00"):
                    continue
                customer = erp.get_customer(invoice.customer_id)
                if customer is None or customer.on_hold or not customer.active:
                    continue
                request = KeyedSaleRequest(
                    amount=invoice.balance, credit_card=card, invoice_id=str(number)
                )
                try:
                    sale = await paytrace.sale_keyed(request)
                except PaytraceDeclined:  # the simulator declines some cents, as test cards do
                    continue
                done.append((sale.transaction_id, str(number), invoice.balance))
        return done


@contextlib.asynccontextmanager
async def bench_stack(
    prefix: str, invoices: int, customers: int = 200, extra_env: dict[str, str] | None = None
) -> AsyncIterator[BenchStack]:
    """Start the stack, yield it, and stop every process and drop the schemas afterwards.

    Args:
        prefix: the start of the run folder's and the schemas' names.
        invoices: open demo invoices to seed.
        customers: demo customers.
        extra_env: more settings for every process.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f"tracepost-{prefix}-"))
    print(f"logs of the server, simulator and workers: {tmp}", file=sys.stderr)
    address, ui_port, sim_port = f"127.0.0.1:{free_port()}", free_port(), free_port()
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    with (
        throwaway_schema(PG_URL, f"{prefix}_erp") as erp_url,
        throwaway_schema(PG_URL, f"{prefix}_store") as store_url,
    ):
        sim_url = f"http://127.0.0.1:{sim_port}"
        env = {
            **os.environ,
            "TRACEPOST_VAR_DIR": str(tmp),
            "TRACEPOST_TEMPORAL_ADDRESS": address,
            "TRACEPOST_ERP": "sage500",
            "TRACEPOST_ERP_URL": erp_url,
            "TRACEPOST_STORE_URL": store_url,
            "TRACEPOST_PAYTRACE_BASE_URL": sim_url,
            "TRACEPOST_PAYTRACE_USERNAME": "demo",
            "TRACEPOST_PAYTRACE_PASSWORD": "demo",
            "TRACEPOST_CODEC": "on",
            "TRACEPOST_CODEC_KEYS": f"bench:{key}",
            "TRACEPOST_LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        init_erp(
            sa.create_engine(erp_url),
            erp="sage500",
            company_id="",
            demo=True,
            size=DemoSize(customers=customers, invoices=invoices),
        )
        server = TemporalDevServer(
            find_temporal_cli(), address, ui_port, tmp / "temporal.db", tmp / "temporal.log"
        )
        server.start()
        simulator = start_process(
            [str(BIN / "tracepost"), "simulator", "--port", str(sim_port)],
            env,
            tmp / "simulator.log",
        )
        saved = dict(os.environ)
        stack: BenchStack | None = None
        try:
            await wait_http(f"{sim_url}/healthz")
            os.environ.update({k: v for k, v in env.items() if k.startswith("TRACEPOST_")})
            client = await connect_when_up(server)
            stack = BenchStack(tmp, env, erp_url, store_url, sim_url, server, client)
            stack.processes.append(simulator)
            yield stack
        finally:
            stop_processes(stack.processes if stack else [simulator])
            await server.stop()
            os.environ.clear()
            os.environ.update(saved)
