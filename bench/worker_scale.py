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
import os
import platform
import sys
import time
import uuid
from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from activities.starter import start_payment_posting
from bench.harness import (
    UNCAPPED_ERP_RATE,
    BenchStack,
    bench_stack,
    stop_processes,
    wait_pollers,
)
from domain.activity_io import PostingOutcome
from workers.settings import Settings
from workflows.payment_posting import PaymentPosting


@dataclass
class Round:
    workers: int
    payments: int
    seconds: float
    posted: int
    erp_rate: float | None = None
    erp_ceiling: float | None = None


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
    stack: BenchStack,
    txns: list[int],
    workers: int,
    erp_rate: float | None = None,
    seconds_allowed: float = 600,
) -> Round:
    client = stack.client
    queue = f"scale-{workers}w-{uuid.uuid4().hex[:6]}"
    # Throughput rounds lift the ERP queue's ceiling (default 20/s, about 4 postings/s) so the
    # workers and the server are what is measured; the last round sets it low on purpose.
    ceiling = UNCAPPED_ERP_RATE if erp_rate is None else erp_rate
    procs = stack.start_workers(
        workers, queue, {"TRACEPOST_ERP_MAX_ACTIVITIES_PER_SECOND": str(ceiling)}
    )
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
        stop_processes(procs)
    posted = sum(1 for r in results if r.outcome is PostingOutcome.POSTED)
    measured = None
    if erp_rate is not None:
        ids = [f"payment-{t}" for t in txns]
        measured = await erp_start_rate(client, ids, Settings(task_queue=queue).erp_task_queue)
    return Round(workers, len(txns), seconds, posted, measured, erp_rate)


async def run(args: argparse.Namespace) -> list[Round]:
    counts = [int(c) for c in args.workers.split(",")]
    capped = args.erp_payments if args.erp_rate else 0
    total = args.payments * len(counts) + capped
    async with bench_stack("bench", invoices=total * 2 + 200) as stack:
        txns = [t for t, _, _ in await stack.sales(total)]
        rounds = []
        for n, count in enumerate(counts):
            batch = txns[n * args.payments : (n + 1) * args.payments]
            rounds.append(await one_round(stack, batch, count))
            print(f"  {count} worker(s): {args.payments / rounds[-1].seconds:.1f} payments/s")
        if args.erp_rate:
            batch = txns[len(counts) * args.payments :]
            rounds.append(await one_round(stack, batch, max(counts), erp_rate=args.erp_rate))
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
