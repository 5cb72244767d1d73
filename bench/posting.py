"""Posting throughput and latency, end to end, against a skeleton workflow on the same server.

Everything runs as real processes (bench/harness.py): the Temporal dev server, the PayTrace
simulator, ``tracepost worker`` and ``tracepost api``, a Sage 500 stand-in and the store on
PostgreSQL, payloads encrypted.

Throughput: N card sales, each naming its invoice, are posted by PaymentPosting workflows started
as the sweep starts them, and timed from the first start to the last result. The skeleton
(bench/skeleton.py) then runs N workflows with the same number of no-op activities, each on the
same task queue as in a PaymentPosting history, on a worker process built the same way. The
ratio tracepost/skeleton is what tracepost's own work costs (the aim is >= 0.8). The ERP queue's
rate limit is lifted for both, as in bench/worker_scale.py.

Latency: at a steady offered load (one request every 1/R s, not waiting for answers), a signed
``payment.completed`` event is sent to the api for each of M new sales; the time is from just
before the request to the Temporal server's record of the completed activity that commits the
receipt in the ERP (``post_receipt``). The skeleton's workflows are started by a client at the
same rate, timed to the completion of their activity at the same position. Prints p50/p95/p99.

Prints figures; asserts nothing.

    .venv/bin/python -m bench.posting [--payments 200] [--latency-events 120] [--rate 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from activities.starter import start_payment_posting
from bench.harness import (
    BIN,
    UNCAPPED_ERP_RATE,
    BenchStack,
    bench_stack,
    free_port,
    start_process,
    stop_processes,
    wait_http,
    wait_pollers,
)
from bench.skeleton import BenchSkeleton
from domain.activity_io import PostingOutcome
from domain.events import sign
from workers.settings import Settings
from workflows.payment_posting import PaymentPosting

EVENT_SECRET = "bench-event-secret-0123456789abcdef"
COMMIT_ACTIVITY = "erp.post_receipt"
UNCAPPED = {"TRACEPOST_ERP_MAX_ACTIVITIES_PER_SECOND": str(UNCAPPED_ERP_RATE)}
SKELETON_WORKER = [str(BIN / "python"), "-m", "bench.skeleton_worker"]


@dataclass
class Steps:
    """The activities of one PaymentPosting run, in order.

    Attributes:
        names: activity type of each.
        on_erp_queue: whether each ran on the ERP task queue.
    """

    names: list[str]
    on_erp_queue: list[bool]

    def queues(self, settings: Settings) -> list[str]:
        """The task queue of each step for a worker with these settings."""
        return [settings.erp_task_queue if e else settings.task_queue for e in self.on_erp_queue]

    @property
    def commit_index(self) -> int:
        """The position of the activity that commits the receipt."""
        return self.names.index(COMMIT_ACTIVITY)


async def activity_completions(client: Client, workflow_id: str) -> list[tuple[str, str, float]]:
    """(activity type, task queue, completion time) of each activity of a run, in order."""
    scheduled: dict[int, tuple[str, str]] = {}
    done: list[tuple[str, str, float]] = []
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            scheduled[event.event_id] = (attrs.activity_type.name, attrs.task_queue.name)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            name, queue = scheduled[
                event.activity_task_completed_event_attributes.scheduled_event_id
            ]
            done.append((name, queue, event.event_time.ToDatetime().timestamp()))
    return done


async def steps_of(client: Client, workflow_id: str, erp_queue: str) -> Steps:
    """The activity steps of a finished PaymentPosting run."""
    done = await activity_completions(client, workflow_id)
    return Steps([n for n, _, _ in done], [q == erp_queue for _, q, _ in done])


def queue_settings(prefix: str) -> Settings:
    """Settings naming a fresh task queue (so rounds do not share pollers)."""
    return Settings(task_queue=f"{prefix}-{uuid.uuid4().hex[:6]}")


async def posting_round(stack: BenchStack, txns: list[int]) -> tuple[float, int, Steps]:
    """Post the sales with one worker; (seconds, posted, the first run's steps)."""
    settings = queue_settings("bench-posting")
    procs = stack.start_workers(1, settings.task_queue, UNCAPPED)
    try:
        await wait_pollers(stack.client, settings.task_queue, 1)
        gate = asyncio.Semaphore(64)

        async def start(txn: int) -> None:
            async with gate:
                await start_payment_posting(stack.client, settings.task_queue, txn, "bench")

        started = time.perf_counter()
        await asyncio.gather(*(start(t) for t in txns))
        results = await asyncio.gather(
            *(
                stack.client.get_workflow_handle_for(PaymentPosting.run, f"payment-{t}").result()
                for t in txns
            )
        )
        seconds = time.perf_counter() - started
    finally:
        stop_processes(procs)
    posted = sum(1 for r in results if r.outcome is PostingOutcome.POSTED)
    steps = await steps_of(stack.client, f"payment-{txns[0]}", settings.erp_task_queue)
    return seconds, posted, steps


async def skeleton_round(stack: BenchStack, count: int, steps: Steps) -> float:
    """Run ``count`` skeleton workflows with one skeleton worker; seconds first start to last."""
    settings = queue_settings("bench-skeleton")
    procs = stack.start_workers(1, settings.task_queue, UNCAPPED, SKELETON_WORKER, "skeleton")
    queues = steps.queues(settings)
    try:
        await wait_pollers(stack.client, settings.task_queue, 1)
        gate = asyncio.Semaphore(64)
        run = uuid.uuid4().hex[:6]

        async def start(n: int) -> WorkflowHandle[Any, Any]:
            async with gate:
                return await stack.client.start_workflow(
                    BenchSkeleton.run,
                    queues,
                    id=f"skeleton-{run}-{n}",
                    task_queue=settings.task_queue,
                )

        started = time.perf_counter()
        handles = await asyncio.gather(*(start(n) for n in range(count)))
        await asyncio.gather(*(h.result() for h in handles))
        return time.perf_counter() - started
    finally:
        stop_processes(procs)


def event_request(txn: int) -> tuple[bytes, dict[str, str]]:
    """A signed ``payment.completed`` event for a transaction."""
    body = json.dumps(
        {"id": f"bench-{txn}", "type": "payment.completed", "data": {"transaction_id": txn}}
    ).encode()
    stamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "x-tracepost-timestamp": str(stamp),
        "x-tracepost-signature": sign(EVENT_SECRET.encode(), stamp, body),
    }
    return body, headers


async def offered(rate: float, count: int, send: Callable[[int], Awaitable[object]]) -> list[float]:
    """Call ``send(n)`` every 1/rate seconds without waiting for answers; each one's start time."""
    began = time.monotonic()
    sent: list[float] = [0.0] * count

    async def one(n: int) -> None:
        await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
        sent[n] = time.time()
        await send(n)

    await asyncio.gather(*(one(n) for n in range(count)))
    return sent


async def latency_round(
    stack: BenchStack, txns: list[int], rate: float, steps: Steps
) -> tuple[list[float], int]:
    """Event -> receipt committed, in seconds, for each sale; (latencies, events answered 202)."""
    settings = queue_settings("bench-latency")
    port = free_port()
    api_env = {**UNCAPPED, "TRACEPOST_API_PORT": str(port), "TRACEPOST_EVENT_SECRETS": EVENT_SECRET}
    procs = stack.start_workers(1, settings.task_queue, api_env)
    env = {**stack.env, "TRACEPOST_TASK_QUEUE": settings.task_queue, **api_env}
    api = start_process([str(BIN / "tracepost"), "api"], env, stack.tmp / "api.log")
    procs.append(api)
    accepted = 0
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz")
        await wait_pollers(stack.client, settings.task_queue, 1)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:

            async def send(n: int) -> None:
                nonlocal accepted
                body, headers = event_request(txns[n])
                answer = await http.post("/webhooks/events", content=body, headers=headers)
                accepted += answer.status_code == 202

            sent = await offered(rate, len(txns), send)
        await asyncio.gather(
            *(
                stack.client.get_workflow_handle_for(PaymentPosting.run, f"payment-{t}").result()
                for t in txns
            )
        )
    finally:
        stop_processes(procs)
    latencies = []
    for txn, at in zip(txns, sent, strict=True):
        done = await activity_completions(stack.client, f"payment-{txn}")
        committed = [t for name, _, t in done if name == COMMIT_ACTIVITY]
        if committed:
            latencies.append(committed[0] - at)
    return latencies, accepted


async def skeleton_latency(stack: BenchStack, count: int, rate: float, steps: Steps) -> list[float]:
    """Start -> completion of the skeleton's activity at the commit position, in seconds."""
    settings = queue_settings("bench-skeleton-latency")
    procs = stack.start_workers(1, settings.task_queue, UNCAPPED, SKELETON_WORKER, "skeleton")
    queues = steps.queues(settings)
    run = uuid.uuid4().hex[:6]
    try:
        await wait_pollers(stack.client, settings.task_queue, 1)

        async def send(n: int) -> None:
            await stack.client.start_workflow(
                BenchSkeleton.run, queues, id=f"skeleton-{run}-{n}", task_queue=settings.task_queue
            )

        sent = await offered(rate, count, send)
        await asyncio.gather(
            *(
                stack.client.get_workflow_handle(f"skeleton-{run}-{n}").result()
                for n in range(count)
            )
        )
    finally:
        stop_processes(procs)
    latencies = []
    for n, at in enumerate(sent):
        done = await activity_completions(stack.client, f"skeleton-{run}-{n}")
        latencies.append(done[steps.commit_index][2] - at)
    return latencies


def percentiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p95 and p99 (inclusive method), in milliseconds."""
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[94] * 1000, cuts[98] * 1000


async def run(args: argparse.Namespace) -> None:
    total = args.payments + args.latency_events
    async with bench_stack("benchpost", invoices=total * 2 + 200) as stack:
        sales = [t for t, _, _ in await stack.sales(total)]
        throughput_txns, latency_txns = sales[: args.payments], sales[args.payments :]

        seconds, posted, steps = await posting_round(stack, throughput_txns)
        skeleton_seconds = await skeleton_round(stack, args.payments, steps)
        erp_steps = sum(steps.on_erp_queue)
        print(
            f"\nPaymentPosting's activities ({len(steps.names)}, {erp_steps} on the ERP queue):"
            f" {', '.join(steps.names)}"
        )
        real_rate = args.payments / seconds
        skeleton_rate = args.payments / skeleton_seconds
        print("\n| workflow | workflows | seconds | per second | ratio to skeleton |")
        print("|---|---|---|---|---|")
        print(
            f"| skeleton | {args.payments} | {skeleton_seconds:.1f} | {skeleton_rate:.2f} | 1.00 |"
        )
        print(
            f"| PaymentPosting ({posted} posted) | {args.payments} | {seconds:.1f} |"
            f" {real_rate:.2f} | {real_rate / skeleton_rate:.2f} |"
        )
        if not args.latency_events:
            return
        real, accepted = await latency_round(stack, latency_txns, args.rate, steps)
        skeleton = await skeleton_latency(stack, args.latency_events, args.rate, steps)
        r50, r95, r99 = percentiles(real)
        s50, s95, s99 = percentiles(skeleton)
        print(
            f"\nLatency at {args.rate:g} events/s offered, {args.latency_events} events"
            f" ({accepted} answered 202, {len(real)} receipts committed)"
        )
        print("\n| path | p50 ms | p95 ms | p99 ms |")
        print("|---|---|---|---|")
        print(
            f"| skeleton: start -> activity {steps.commit_index + 1} | {s50:.0f} | {s95:.0f} | {s99:.0f} |"
        )
        print(f"| event -> receipt committed | {r50:.0f} | {r95:.0f} | {r99:.0f} |")
        print(f"| ratio | {r50 / s50:.2f} | {r95 / s95:.2f} | {r99 / s99:.2f} |")


def main() -> None:
    """Parse the arguments, run the rounds, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=200, help="workflows a throughput round")
    parser.add_argument(
        "--latency-events", type=int, default=120, help="events of the latency round (0: none)"
    )
    parser.add_argument("--rate", type=float, default=2.0, help="offered events per second")
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, CPython {platform.python_version()}"
    )
    print("Sage 500 stand-in and store on PostgreSQL; one worker process; payloads encrypted")
    asyncio.run(run(args))
    sys.stdout.flush()
    os._exit(0)  # the SDK's native threads can crash at interpreter exit (sdk-python#300)


if __name__ == "__main__":
    main()
