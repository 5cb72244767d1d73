"""Webhook ingest: requests/s and latency of ``POST /webhooks/events`` with and without Temporal.

The api runs as a real uvicorn server in its own process. The first round is the production
command, ``tracepost api``, against a Temporal dev server the bench starts (SQLite persistence, no
worker: the starts only have to be accepted). The second round is the same command with Temporal
stubbed out at its narrowest point: the gateway ``create_api`` is given hands out a real
``temporalio`` client (same data converter with the AES-GCM codec, same interceptors, same request
building and protobuf encoding) whose service client answers ``start_workflow_execution`` at once
instead of sending it (:class:`StubServiceClient`). Everything else (signature check, card-number
screening, validation, the event-log write to the store, logging) runs in both rounds.

Each request is a signed ``payment.completed`` event with its own transaction id, so each one
starts a new PaymentPosting workflow; the requests are generated and signed before a round
(HMAC over ``<ts>.<body>``, inside the 5-minute window) and cycled through by the load generator:
``wrk`` when it is on PATH (a Lua script feeds it the pre-signed requests), else a Python process
with asyncio and raw sockets at the same fixed concurrency. Both rounds have the same concurrency,
warm-up and duration. Afterwards the workflows on the Temporal server are counted against the
202s of the real round. The store is SQLite in a temp folder, the codec is on as in production.
Prints figures; asserts nothing about time.

    .venv/bin/python -m bench.webhook_ingest [--concurrency 32] [--seconds 20] [--warmup 3]
        [--generator auto|wrk|python] [--wrk-threads 1] [--log-level INFO]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib.util
import json
import math
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import google.protobuf.message
from pydantic import SecretStr
from temporalio.api.workflowservice.v1 import StartWorkflowExecutionResponse
from temporalio.bridge.proto.health.v1 import HealthCheckResponse
from temporalio.client import Client
from temporalio.service import (
    ConnectConfig,
    RPCError,
    RPCStatusCode,
    ServiceClient,
    ServiceResponse,
)

from activities.starter import payment_workflow_id
from bench.harness import free_port, start_process, stop_processes, wait_http
from domain.events import sign
from workers.gateway import TemporalGateway
from workers.settings import Settings
from workers.telemetry import client_interceptors
from workers.temporal_client import connect, data_converter
from workers.temporal_server import TemporalDevServer, find_temporal_cli

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PATH = "/webhooks/events"
EVENT_SECRET = "bench-event-secret-" + "0" * 16  # a throwaway secret of the run
PREFIX_REAL_WARMUP = 6_000_000_000
PREFIX_REAL = 7_000_000_000
PREFIX_STUB_WARMUP = 8_000_000_000
PREFIX_STUB = 9_000_000_000
MEASURED_QUERY = 'WorkflowId STARTS_WITH "payment-7"'
WARMUP_POOL_RATE = 4000  # requests/s the warm-up pool is sized for (it has no rate to go by yet)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# wrk's Lua: every thread loads its share of the pre-signed requests (one per line: workflow id,
# timestamp, signature, body) and cycles through it; response() counts statuses and keeps the
# workflow ids answered; done() writes what the bench reads as JSON.
WRK_SCRIPT = r"""
local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_index", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

reqs, wfids, n, i, sent = {}, {}, 0, 0, 0
statuses, answered, wrapped = {}, {}, false

function init(args)
  pool_path, out_path = args[1], args[2]
  local nthreads, host = tonumber(args[3]), args[4]
  local k = 0
  for line in io.lines(pool_path) do
    if k % nthreads == thread_index then
      local wf, ts, sig, body = line:match("^([^\t]+)\t(%d+)\t([^\t]+)\t(.*)$")
      n = n + 1
      wfids[n] = wf
      reqs[n] = wrk.format("POST", "/webhooks/events", {
        ["Host"] = host,
        ["Content-Type"] = "application/json",
        ["X-Tracepost-Timestamp"] = ts,
        ["X-Tracepost-Signature"] = sig,
      }, body)
    end
    k = k + 1
  end
end

function request()
  if i == n then
    i = 0
    wrapped = true
  end
  i = i + 1
  sent = sent + 1
  return reqs[i]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local wf = body:match('"workflow_id":"([^"]+)"')
  if wf then
    answered[#answered + 1] = wf
  end
end

local function quoted(list, upto)
  local out = {}
  for j = 1, upto do
    out[#out + 1] = '"' .. list[j] .. '"'
  end
  return table.concat(out, ",")
end

function done(summary, latency, requests)
  local path = threads[1]:get("out_path")
  local status_parts, sent_parts, answered_parts = {}, {}, {}
  local any_wrapped = false
  local merged = {}
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      merged[code] = (merged[code] or 0) + count
    end
    local ids, count = thread:get("wfids"), thread:get("sent")
    sent_parts[#sent_parts + 1] = quoted(ids, math.min(count, #ids))
    local got = thread:get("answered")
    answered_parts[#answered_parts + 1] = quoted(got, #got)
    any_wrapped = any_wrapped or thread:get("wrapped")
  end
  for code, count in pairs(merged) do
    status_parts[#status_parts + 1] = string.format('"%d":%d', code, count)
  end
  local function nonempty(parts)
    local kept = {}
    for _, p in ipairs(parts) do
      if p ~= "" then kept[#kept + 1] = p end
    end
    return table.concat(kept, ",")
  end
  local e = summary.errors
  local f = io.open(path, "w")
  f:write(string.format(
    '{"requests":%d,"seconds":%.6f,"p50_ms":%.3f,"p95_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"wrapped":%s,"statuses":{%s},"sent_ids":[%s],"answered_ids":[%s]}',
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3,
    e.connect, e.read, e.write, e.status, e.timeout,
    tostring(any_wrapped), table.concat(status_parts, ","),
    nonempty(sent_parts), nonempty(answered_parts)))
  f:close()
end
"""


# --- Temporal stubbed out at the RPC ----------------------------------------------------------


class StubServiceClient(ServiceClient):
    """A Temporal service client that accepts every workflow start at once, without a server.

    It replaces only the bridge call: the request the SDK built is serialized as the bridge
    serializes it, and the answer is parsed from bytes as the bridge parses it, so the stubbed
    round pays for everything the real path does except the RPC to the server.
    """

    @property
    def worker_service_client(self) -> Any:
        """There is no bridge client: a stubbed client cannot run workers."""
        raise NotImplementedError("the stubbed Temporal client cannot run workers")

    def update_rpc_metadata(self, metadata: Mapping[str, str | bytes]) -> None:
        """Nothing to update: no connection."""

    def update_api_key(self, api_key: str | None) -> None:
        """Nothing to update: no connection."""

    async def _rpc_call(
        self,
        rpc: str,
        req: google.protobuf.message.Message,
        resp_type: type[ServiceResponse],
        *,
        service: str,
        retry: bool,
        metadata: Mapping[str, str | bytes],
        timeout: timedelta | None,  # noqa: ASYNC109 - the SDK's signature
    ) -> ServiceResponse:
        req.SerializeToString()  # what the bridge does with the request before sending it
        answer: google.protobuf.message.Message
        if service == "workflow" and rpc == "start_workflow_execution":
            answer = StartWorkflowExecutionResponse(run_id=str(uuid.uuid4()), started=True)
        elif service == "health" and rpc == "check":
            answer = HealthCheckResponse(status=HealthCheckResponse.ServingStatus.SERVING)
        else:
            raise RPCError(
                f"stubbed Temporal has no {service}.{rpc}", RPCStatusCode.UNIMPLEMENTED, b""
            )
        resp = resp_type()
        resp.ParseFromString(answer.SerializeToString())
        return resp


class StubGateway(TemporalGateway):
    """The api's Temporal gateway with the stubbed service client under a real ``Client``.

    The client is built on first use with what ``workers.temporal_client.connect`` gives a real
    one (namespace, data converter with the codec, interceptors), as the real gateway does.

    Args:
        settings: tracepost settings.
        client: ignored (the stubbed client is always built here).
    """

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        super().__init__(settings, None)

    async def client(self) -> Client:
        """The client on the stubbed service client."""
        if self._client is None:
            service = StubServiceClient(ConnectConfig(target_host=self._settings.temporal_address))
            self._client = Client(
                service,
                namespace=self._settings.temporal_namespace,
                data_converter=data_converter(self._settings),
                interceptors=client_interceptors(),
            )
        return self._client


def serve_stubbed() -> None:
    """Run ``tracepost api`` exactly as in production, with the stub as its Temporal gateway.

    ``cmd_api`` passes ``workers.api.TemporalGateway(settings)`` to ``create_api``; that name is
    the only thing replaced, so settings, store, logging, observability and the uvicorn server
    are those of the real command. Ends the process (``workers.cli.main`` calls ``os._exit``).
    """
    import workers.api
    import workers.cli

    workers.api.TemporalGateway = StubGateway  # type: ignore[misc]
    workers.cli.main(["api"])


# --- the pre-signed requests ------------------------------------------------------------------


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


# --- the load generators ----------------------------------------------------------------------


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


def python_generator_main(args: argparse.Namespace) -> None:
    """The Python generator's own process: load, then write the result as JSON."""
    pool, out = (Path(p) for p in args.load_generator)
    result = asyncio.run(
        _python_load(
            "127.0.0.1", args.port, pool.read_text().splitlines(), args.concurrency, args.seconds
        )
    )
    out.write_text(json.dumps(result))


def server_stack() -> str:
    """What uvicorn's ``auto`` picks here: httptools or h11, uvloop or the asyncio loop."""
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio loop"
    return f"{http}, {loop}"


def temporal_version() -> str:
    """``temporal version ... (Server ..., UI ...)`` of the CLI the dev server comes from."""
    done = subprocess.run(
        [find_temporal_cli(), "--version"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "temporal (version unknown)"


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
        work: where the script and the result go.

    Returns:
        The measurement.
    """
    out = work / f"{pool.stem}.result.json"
    if generator == "wrk":
        script = work / "ingest.lua"
        script.write_text(WRK_SCRIPT)
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
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
            "bench.webhook_ingest",
            "--load-generator",
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


# --- rounds -----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Round:
    """One round: warm-up and measurement against one api process."""

    name: str
    warmup: Load
    measured: Load
    api_cpu_seconds: float
    temporal_cpu_seconds: float | None = None


@dataclass
class Bench:
    """The run's settings and folders."""

    args: argparse.Namespace
    generator: str
    tmp: Path
    env: dict[str, str]


def base_env(tmp: Path, key: str, log_level: str) -> dict[str, str]:
    """The environment of the api processes: production settings, nothing inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEPOST_")}
    env.update(
        {
            "TRACEPOST_CODEC": "on",
            "TRACEPOST_CODEC_KEYS": f"bench:{key}",
            "TRACEPOST_EVENT_SECRETS": EVENT_SECRET,
            "TRACEPOST_LOG_LEVEL": log_level,
            "TRACEPOST_API_HOST": "127.0.0.1",
        }
    )
    return env


async def wait_api(api: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Wait until the api answers ``/healthz``; raise with its log's tail if it exits first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if api.poll() is not None:
            tail = (await asyncio.to_thread(log.read_text, errors="replace"))[-3000:]
            raise RuntimeError(f"the api exited with code {api.returncode}:\n{tail}")
        with contextlib.suppress(RuntimeError):
            await wait_http(f"http://127.0.0.1:{port}/healthz", seconds=1)
            return
    raise RuntimeError(f"the api did not answer on port {port} within 60 s")


async def one_round(
    bench: Bench,
    name: str,
    command: list[str],
    env: dict[str, str],
    prefixes: tuple[int, int],
    temporal_pid: int | None = None,
) -> Round:
    """Start an api process, warm it up, measure it, stop it.

    Args:
        bench: the run.
        name: ``real`` or ``stubbed``.
        command: the api process's command.
        env: its environment.
        prefixes: first transaction ids of the warm-up and the measured requests.
        temporal_pid: the Temporal server's pid, to read its CPU time.

    Returns:
        The round.
    """
    args = bench.args
    work = bench.tmp / name
    work.mkdir()
    port = free_port()
    env = {**env, "TRACEPOST_VAR_DIR": str(work / "var"), "TRACEPOST_API_PORT": str(port)}
    (work / "var").mkdir()  # tracepost api expects its var folder (the store's SQLite file)
    api = start_process(command, env, work / "api.log")
    try:
        await wait_api(api, port, work / "api.log")
        secret = EVENT_SECRET.encode()
        warm_pool = work / "warmup.pool"
        write_pool(warm_pool, secret, prefixes[0] + 1, args.warmup * WARMUP_POOL_RATE + 2000)
        warmup = await asyncio.to_thread(
            run_load,
            bench.generator,
            port,
            warm_pool,
            args.concurrency,
            args.warmup,
            args.wrk_threads,
            work,
        )
        # Sized from the warm-up's rate, with room to spare: a request sent twice would join.
        size = max(5000, math.ceil(warmup.rate * args.seconds * 3) + 2000)
        pool = work / "measured.pool"
        write_pool(pool, secret, prefixes[1] + 1, size)
        api_cpu = cpu_seconds(api.pid)
        temporal_cpu = cpu_seconds(temporal_pid) if temporal_pid else None
        measured = await asyncio.to_thread(
            run_load,
            bench.generator,
            port,
            pool,
            args.concurrency,
            args.seconds,
            args.wrk_threads,
            work,
        )
        api_cpu = cpu_seconds(api.pid) - api_cpu
        if temporal_pid and temporal_cpu is not None:
            temporal_cpu = cpu_seconds(temporal_pid) - temporal_cpu
    finally:
        stop_processes([api])
    return Round(name, warmup, measured, api_cpu, temporal_cpu)


async def start_temporal(tmp: Path, settings: Settings) -> tuple[TemporalDevServer, Client]:
    """Start the dev server and connect to it once it answers."""
    server = TemporalDevServer(
        find_temporal_cli(),
        settings.temporal_address,
        free_port(),
        tmp / "temporal.db",
        tmp / "temporal.log",
    )
    server.start()
    deadline = time.monotonic() + 60
    while True:
        try:
            return server, await connect(settings)
        except RuntimeError:
            server.check_alive()
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


@dataclass
class Check:
    """The real round's 202s against the workflows on the Temporal server."""

    workflows: int
    accepted: int
    in_flight: int
    in_flight_started: int
    total_on_server: int

    @property
    def ok(self) -> bool:
        """Every workflow is a 202, or a request the generator stopped waiting for."""
        return self.workflows == self.accepted + self.in_flight_started


async def count_settled(client: Client, query: str | None) -> int:
    """Count workflows until two reads half a second apart agree (visibility lags a little)."""
    last = -1
    for _ in range(60):
        now = (await client.count_workflows(query)).count
        if now == last:
            return now
        last = now
        await asyncio.sleep(0.5)
    return last


async def verify(client: Client, measured: Load) -> Check:
    """Count the measured round's workflows and check them against its 202s."""
    answered = set(measured.answered_ids)
    unanswered = [wf for wf in dict.fromkeys(measured.sent_ids) if wf not in answered]
    started = 0
    for workflow_id in unanswered:
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(workflow_id).describe()
            started += 1
    return Check(
        workflows=await count_settled(client, MEASURED_QUERY),
        accepted=measured.statuses.get(202, 0),
        in_flight=len(unanswered),
        in_flight_started=started,
        total_on_server=await count_settled(client, None),
    )


async def run(bench: Bench) -> tuple[Round, Round, Check]:
    """The real round, the check, then the stubbed round (with the dev server stopped)."""
    address = f"127.0.0.1:{free_port()}"
    env = {**bench.env, "TRACEPOST_TEMPORAL_ADDRESS": address}
    settings = Settings(
        temporal_address=address,
        codec="on",
        codec_keys=SecretStr(env["TRACEPOST_CODEC_KEYS"]),
        var_dir=bench.tmp,
    )
    server, client = await start_temporal(bench.tmp, settings)
    try:
        assert server.process is not None
        real = await one_round(
            bench,
            "real",
            [str(BIN / "tracepost"), "api"],
            env,
            (PREFIX_REAL_WARMUP, PREFIX_REAL),
            temporal_pid=server.process.pid,
        )
        check = await verify(client, real.measured)
    finally:
        await server.stop()
    # The stubbed api never connects; the address points at a port nobody listens on.
    stub_env = {**bench.env, "TRACEPOST_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}"}
    stubbed = await one_round(
        bench,
        "stubbed",
        [sys.executable, "-m", "bench.webhook_ingest", "--serve-stubbed"],
        stub_env,
        (PREFIX_STUB_WARMUP, PREFIX_STUB),
    )
    return real, stubbed, check


# --- report -----------------------------------------------------------------------------------


def statuses_text(load: Load) -> str:
    """``202: n`` and whatever else came back (socket errors included)."""
    parts = [f"{code}: {count}" for code, count in sorted(load.statuses.items())]
    parts += [f"{kind} errors: {count}" for kind, count in load.errors.items() if count]
    if load.wrapped:
        parts.append("POOL EXHAUSTED (requests repeated)")
    return ", ".join(parts) or "none"


def only_202(load: Load) -> bool:
    """Every response was a 202 and there was no socket error."""
    return set(load.statuses) <= {202} and not any(load.errors.values()) and not load.wrapped


def report(bench: Bench, real: Round, stubbed: Round, check: Check) -> None:
    """Print the figures."""
    print()
    for r in (real, stubbed):
        w = r.warmup
        print(f"{r.name}: warm-up {w.requests} requests in {w.seconds:.1f} s ({statuses_text(w)})")
    print()
    print(
        "| round | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | api CPU ms/req | statuses |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    labels = {"real": "Temporal dev server", "stubbed": "Temporal stubbed"}
    for r in (real, stubbed):
        m = r.measured
        cpu = 1000 * r.api_cpu_seconds / m.requests if m.requests else 0.0
        print(
            f"| {labels[r.name]} | {m.requests} | {m.rate:.1f} | {m.p50_ms:.1f} | {m.p95_ms:.1f}"
            f" | {m.p99_ms:.1f} | {m.max_ms:.1f} | {cpu:.2f} | {statuses_text(m)} |"
        )
    rm, sm = real.measured, stubbed.measured
    print()
    rate_ratio = rm.rate / sm.rate if sm.rate else float("nan")
    p99_ratio = rm.p99_ms / sm.p99_ms if sm.p99_ms else float("nan")
    print(f"ratio real/stubbed: req/s {rate_ratio:.2f}, p99 {p99_ratio:.2f}")
    if real.temporal_cpu_seconds is not None and rm.requests:
        print(
            f"Temporal dev server CPU during the real round:"
            f" {1000 * real.temporal_cpu_seconds / rm.requests:.2f} ms/req"
            f" ({real.temporal_cpu_seconds / rm.seconds:.2f} cores)"
        )
    for r in (real, stubbed):
        if not only_202(r.measured):
            print(
                f"WARNING: the {r.name} round answered other than 202: {statuses_text(r.measured)}"
            )
    print()
    dropped = (
        f"; {check.in_flight} request(s) were in flight when {bench.generator} stopped"
        f" (not counted as answered), of which Temporal started {check.in_flight_started}"
    )
    verdict = "OK" if check.ok else "MISMATCH"
    print(
        f"Temporal check: {check.workflows} workflows of the measured round on the server"
        f" ({MEASURED_QUERY}), {check.accepted} answered 202"
        f"{dropped if check.in_flight else ''}:"
        f" {check.accepted} + {check.in_flight_started} = {check.accepted + check.in_flight_started}"
        f" -> {verdict}"
    )
    print(
        f"  ({check.total_on_server} workflows on the server in all, the real warm-up's included:"
        f" {real.warmup.statuses.get(202, 0)} answered 202)"
    )


def main() -> None:
    """Parse the command line and run the bench (or one of its child processes)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32, help="connections, 1 request each")
    parser.add_argument("--seconds", type=int, default=20, help="measured seconds a round")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds a round")
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator (auto: wrk when on PATH, else the Python one)",
    )
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (-t)")
    parser.add_argument(
        "--log-level", default="INFO", help="TRACEPOST_LOG_LEVEL of the api (production: INFO)"
    )
    # the child processes: the stubbed api, and the Python load generator
    parser.add_argument("--serve-stubbed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--load-generator", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_stubbed:
        serve_stubbed()
        return
    if args.load_generator:
        python_generator_main(args)
        sys.stdout.flush()
        os._exit(0)
    wrk = wrk_version()
    if args.generator == "wrk" and wrk is None:
        parser.error("--generator wrk: wrk is not on PATH (apt-get install wrk)")
    generator = "wrk" if args.generator != "python" and wrk is not None else "python"
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()},"
        f" CPython {platform.python_version()}"
    )
    if generator == "wrk":
        print(f"load generator: {wrk} ({args.wrk_threads} thread(s)), pre-signed requests via Lua")
    else:
        why = "" if args.generator == "python" else " (wrk is not on PATH)"
        print(f"load generator: Python, asyncio + raw sockets, separate process{why}")
    print(
        f"POST {PATH}: payment.completed, a new transaction id each; concurrency"
        f" {args.concurrency}, warm-up {args.warmup} s, measured {args.seconds} s a round;"
        f" api: one uvicorn process ({server_stack()}); codec on; store SQLite;"
        f" log level {args.log_level}"
    )
    print(
        f"real round: Temporal dev server with SQLite persistence, no worker ({temporal_version()})"
    )
    tmp = Path(tempfile.mkdtemp(prefix="tracepost-webhook-"))
    print(f"logs and databases: {tmp}", file=sys.stderr)
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    bench = Bench(args, generator, tmp, base_env(tmp, key, args.log_level))
    real, stubbed, check = asyncio.run(run(bench))
    report(bench, real, stubbed, check)
    sys.stdout.flush()
    os._exit(0)  # the SDK's native threads can crash at interpreter exit (sdk-python#300)


if __name__ == "__main__":
    main()
