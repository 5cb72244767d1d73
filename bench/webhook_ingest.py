"""Webhook ingest: requests/s and latency of ``POST /webhooks/events`` with and without Temporal.

The api runs as a real uvicorn server in its own process. The first round is the production
command, ``tracepost api``, against a Temporal dev server the bench starts (SQLite persistence, no
worker: the starts only have to be accepted). The second round is the same command with Temporal
stubbed out at its narrowest point: the gateway ``create_api`` is given hands out a real
``temporalio`` client (same data converter with the AES-GCM codec, same interceptors, same request
building and protobuf encoding) whose service client answers ``start_workflow_execution`` at once
instead of sending it (bench/stub_temporal.py). Everything else (signature check, card-number
screening, validation, the event-log write to the store, logging) runs in both rounds.

Each request is a signed ``payment.completed`` event with its own transaction id, so each one
starts a new PaymentPosting workflow; the requests are generated and signed before a round
(HMAC over ``<ts>.<body>``, inside the 5-minute window) and cycled through by the load generator:
``wrk`` when it is on PATH (bench/ingest.lua feeds it the pre-signed requests), else a Python
process with asyncio and raw sockets at the same fixed concurrency (bench/ingest_load.py). Both rounds have the same concurrency,
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
import math
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from temporalio.client import Client
from temporalio.service import RPCError

from bench.harness import free_port, start_process, stop_processes, wait_http
from bench.ingest_load import PATH, Load, run_load, write_pool, wrk_version
from workers.settings import Settings
from workers.temporal_client import connect
from workers.temporal_server import TemporalDevServer, find_temporal_cli

BIN = Path(sys.executable).parent
EVENT_SECRET = "bench-event-secret-" + "0" * 16  # a throwaway secret of the run
PREFIX_REAL_WARMUP = 6_000_000_000
PREFIX_REAL = 7_000_000_000
PREFIX_STUB_WARMUP = 8_000_000_000
PREFIX_STUB = 9_000_000_000
MEASURED_QUERY = 'WorkflowId STARTS_WITH "payment-7"'
WARMUP_POOL_RATE = 4000  # requests/s the warm-up pool is sized for (it has no rate to go by yet)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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
        [sys.executable, "-m", "bench.stub_temporal"],
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
    """Parse the command line and run the bench."""
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
    args = parser.parse_args()
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
