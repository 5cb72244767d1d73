"""The load generators of bench/webhook_ingest.py and the pre-signed requests they send.

``wrk`` runs bench/ingest.lua when it is on PATH; otherwise ``python -m bench.ingest_load`` keeps
the same number of keep-alive connections busy with asyncio and raw sockets. Either one writes
what it measured as JSON, read back with :meth:`Load.from_file`.

    .venv/bin/python -m bench.ingest_load POOL RESULT --port N --concurrency C --seconds S
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from activities.starter import payment_workflow_id
from domain.events import sign

ROOT = Path(__file__).resolve().parents[1]
PATH = "/webhooks/events"
WRK_SCRIPT = Path(__file__).with_name("ingest.lua")


def write_pool(path: Path, secret: bytes, first_txn: int, count: int) -> None:
    """Write ``count`` signed ``payment.completed`` events, one line each, for the generator.

    Args:
        path: the file (lines of workflow id, timestamp, signature, body, tab separated).
        secret: the event secret.
        first_txn: the first transaction id (the others follow it).
        count: how many requests.
    """
    ts = int(time.time())
    occurred = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with path.open("w") as out:
        for txn in range(first_txn, first_txn + count):
            body = json.dumps(
                {
                    "id": f"evt-{txn}",
                    "type": "payment.completed",
                    "occurred_at": occurred,
                    "data": {"transaction_id": txn, "method": "card"},
                },
                separators=(",", ":"),
            ).encode()
            signature = sign(secret, ts, body)
            out.write(f"{payment_workflow_id(txn)}\t{ts}\t{signature}\t{body.decode()}\n")


@dataclass
class Load:
    """What a load generator measured in one run.

    Attributes:
        requests: responses received.
        seconds: how long the run took.
        p50_ms: median latency.
        p95_ms: 95th percentile latency.
        p99_ms: 99th percentile latency.
        max_ms: slowest response.
        statuses: responses by HTTP status.
        errors: socket errors and timeouts by kind (wrk's counters; the Python generator's own).
        wrapped: the pool ran out and requests were sent again.
        sent_ids: workflow ids of the requests sent.
        answered_ids: workflow ids of the 202 answers.
    """

    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[int, int]
    errors: dict[str, int]
    wrapped: bool
    sent_ids: list[str] = field(repr=False)
    answered_ids: list[str] = field(repr=False)

    @property
    def rate(self) -> float:
        """Responses a second."""
        return self.requests / self.seconds if self.seconds else 0.0

    @classmethod
    def from_file(cls, path: Path) -> Load:
        """Read a generator's JSON result."""
        raw = json.loads(path.read_text())
        return cls(
            requests=int(raw["requests"]),
            seconds=float(raw["seconds"]),
            p50_ms=float(raw["p50_ms"]),
            p95_ms=float(raw["p95_ms"]),
            p99_ms=float(raw["p99_ms"]),
            max_ms=float(raw["max_ms"]),
            statuses={int(k): int(v) for k, v in raw["statuses"].items()},
            errors={str(k): int(v) for k, v in raw["errors"].items()},
            wrapped=bool(raw["wrapped"]),
            sent_ids=list(raw["sent_ids"]),
            answered_ids=list(raw["answered_ids"]),
        )


def _percentile(sorted_ms: Sequence[float], pct: float) -> float:
    if not sorted_ms:
        return 0.0
    rank = max(0, math.ceil(pct / 100 * len(sorted_ms)) - 1)
    return sorted_ms[rank]


async def _python_load(
    host: str, port: int, lines: list[str], concurrency: int, seconds: float
) -> dict[str, Any]:
    """Keep ``concurrency`` keep-alive connections busy for ``seconds``; one request in flight each.

    No new request is sent after the deadline and those in flight are waited for, so every
    request sent is answered (unlike wrk, which drops the ones in flight when it stops).
    """
    queue: deque[tuple[str, bytes]] = deque()
    for line in lines:
        wf, ts, sig, body = line.split("\t", 3)
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body.encode())}\r\nX-Tracepost-Timestamp: {ts}\r\n"
            f"X-Tracepost-Signature: {sig}\r\n\r\n"
        )
        queue.append((wf, head.encode() + body.encode()))
    latencies: list[int] = []
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    sent: list[str] = []
    answered: list[str] = []
    wf_pattern = re.compile(rb'"workflow_id":"([^"]+)"')
    started = time.perf_counter()
    deadline = started + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while queue and time.perf_counter() < deadline:
                wf, raw = queue.popleft()
                sent.append(wf)
                t0 = time.perf_counter_ns()
                writer.write(raw)
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = 0
                    close = False
                    for header in head.split(b"\r\n")[1:]:
                        name, _, value = header.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                        elif name.strip().lower() == b"connection":
                            close = value.strip().lower() == b"close"
                    body = await reader.readexactly(length)
                except (asyncio.IncompleteReadError, ConnectionError):
                    errors["read"] += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                latencies.append(time.perf_counter_ns() - t0)
                status = int(head[9:12])
                statuses[status] += 1
                found = wf_pattern.search(body)
                if status == 202 and found:
                    answered.append(found.group(1).decode())
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ms = sorted(ns / 1e6 for ns in latencies)
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "p50_ms": _percentile(ms, 50),
        "p95_ms": _percentile(ms, 95),
        "p99_ms": _percentile(ms, 99),
        "max_ms": ms[-1] if ms else 0.0,
        "errors": {"connect": 0, "read": errors["read"], "write": 0, "status": 0, "timeout": 0},
        "wrapped": not queue and time.perf_counter() < deadline,
        "statuses": {str(k): v for k, v in statuses.items()},
        "sent_ids": sent,
        "answered_ids": answered,
    }


def wrk_version() -> str | None:
    """``wrk x.y.z`` when wrk is on PATH, else None."""
    path = shutil.which("wrk")
    if path is None:
        return None
    done = subprocess.run([path, "-v"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr).strip().splitlines()
    return " ".join(first[0].split()[:2]) if first else "wrk"


def run_load(
    generator: str,
    port: int,
    pool: Path,
    concurrency: int,
    seconds: int,
    threads: int,
    work: Path,
) -> Load:
    """Run one load generator process against the api and read what it measured.

    Args:
        generator: ``wrk`` or ``python``.
        port: the api's port on 127.0.0.1.
        pool: the pre-signed requests.
        concurrency: connections, each with one request in flight.
        seconds: how long.
        threads: wrk threads.
        work: where the result and the generator's log go.

    Returns:
        The measurement.
    """
    out = work / f"{pool.stem}.result.json"
    if generator == "wrk":
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(WRK_SCRIPT),
            f"http://127.0.0.1:{port}{PATH}",
            "--",
            str(pool),
            str(out),
            str(threads),
            f"127.0.0.1:{port}",
        ]
    else:
        command = [
            sys.executable,
            "-m",
            "bench.ingest_load",
            str(pool),
            str(out),
            "--port",
            str(port),
            "--concurrency",
            str(concurrency),
            "--seconds",
            str(seconds),
        ]
    log = work / f"{pool.stem}.generator.log"
    with log.open("wb") as sink:
        subprocess.run(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, check=True)
    return Load.from_file(out)


def main() -> None:
    """The Python generator's own process: load, then write the result as JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("pool", type=Path, help="the pre-signed requests")
    parser.add_argument("result", type=Path, help="where the JSON result goes")
    parser.add_argument("--port", type=int, required=True, help="the api's port on 127.0.0.1")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    lines = args.pool.read_text().splitlines()
    result = asyncio.run(
        _python_load("127.0.0.1", args.port, lines, args.concurrency, args.seconds)
    )
    args.result.write_text(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
