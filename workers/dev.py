"""``tracepost dev``: the whole embedded stack in one terminal, stopped cleanly by Ctrl-C.

Temporal dev server (child process, SQLite persistence, Web UI) · PayTrace simulator · Sage 500
or Dynamics SL stand-in (``TRACEPOST_ERP``) · worker · api · the sweep schedule.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

from temporalio.client import Client

from connectors.paytrace.simulator import SimulatorConfig, create_app
from workers.api import TemporalGateway, create_api, transaction_reader
from workers.codec import ensure_key_file
from workers.composition import Components, display_url
from workers.dev_users import ensure_dev_admin
from workers.erp_admin import init_erp
from workers.http import embedded_server
from workers.logging_setup import secure_handlers
from workers.observability import Observability, run_observed_workers
from workers.schedules import ensure_schedules
from workers.settings import ERP_LABELS, Settings
from workers.temporal_client import connect
from workers.temporal_connection import tls_configured
from workers.temporal_server import TemporalDevServer, TemporalServerError, find_temporal_cli
from workers.worker import verify_mapping


class PortInUseError(RuntimeError):
    """A port the dev stack needs is taken."""


class DevConfigError(RuntimeError):
    """A setting the embedded stack cannot honour (it says which)."""


def _check_port_free(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUseError(f"{what} port {host}:{port} is in use ({exc.strerror})") from None


async def _wait_for_temporal(
    server: TemporalDevServer, settings: Settings, deadline_s: float = 90
) -> Client:
    start = time.monotonic()
    while True:
        server.check_alive()
        try:
            return await asyncio.wait_for(connect(settings), timeout=5)
        except (RuntimeError, OSError, TimeoutError):
            if time.monotonic() - start > deadline_s:
                raise TemporalServerError(
                    f"temporal dev server did not answer on {settings.temporal_address}"
                ) from None
            await asyncio.sleep(0.5)


def _command_name() -> str:
    """How the user can call ``tracepost`` from here (``.venv/bin/tracepost`` under make dev)."""
    exe = Path(sys.argv[0])
    if exe.name != "tracepost" or shutil.which("tracepost") == str(exe.resolve()):
        return "tracepost"
    try:
        return str(exe.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(exe)


def banner(settings: Settings, admin: tuple[str, str] | None = None) -> str:
    """What ``tracepost dev`` prints once everything runs."""
    host = settings.api_host
    ops = (
        f"(user {admin[0]}, password {admin[1]})"
        if admin
        else "(users: tracepost ops-user add NAME --role operator)"
    )
    sim = settings.paytrace_base_url
    cmd = _command_name()
    return f"""
tracepost dev stack is running (Ctrl-C stops everything)
  Temporal Web UI     http://{host}:{settings.ui_port}
  Temporal frontend   {settings.temporal_address}
  api                 {settings.api_url}  (/healthz, /readyz, /webhooks, /codec)
  ops pages           {settings.api_url}/ops  {ops}
  PayTrace simulator  {sim}  (API user demo / demo; hosted checkout at {sim}/checkout)
  {(ERP_LABELS[settings.erp] + " stand-in").ljust(19)} {display_url(settings.erp_url)}
  store               {display_url(settings.store_url)}

Pay demo invoice 1001 (customer C0001, balance 125.00) through the hosted checkout, which sends
PayTrace's Silent Post to the api:
  curl -s -H 'Accept: application/json' -d ORDERID=1001 -d AMOUNT=125.00 {sim}/checkout/pay
or as any PayTrace API client would (the sweep finds it within {settings.sweep_interval_seconds} s):
  {cmd} sale --invoice 1002 --amount 80.50
Then watch the PaymentPosting workflow in the Web UI and the invoice balance with
  {cmd} erp invoice 1001
"""


async def run_dev(
    settings: Settings,
    stop: asyncio.Event | None = None,
    *,
    observability: Observability | None = None,
) -> None:
    """Run the embedded stack until ``stop`` is set or SIGINT/SIGTERM arrives.

    Args:
        settings: tracepost settings.
        stop: an event to stop it from code (tests); signals set it too.
        observability: the process's tracing and metrics (``start_observability``); None: off.
    """
    stop = stop or asyncio.Event()
    observability = observability or Observability()
    if tls_configured(settings):
        raise DevConfigError(
            "tracepost dev runs its own plaintext Temporal dev server: unset TRACEPOST_TEMPORAL_TLS*"
            " and TRACEPOST_TEMPORAL_API_KEY (they are for `tracepost worker` and `api`)"
        )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    t_host, _, t_port = settings.temporal_address.rpartition(":")
    _check_port_free(t_host, int(t_port), "Temporal frontend")
    _check_port_free(t_host, settings.ui_port, "Temporal Web UI")
    _check_port_free(settings.api_host, settings.api_port, "api")
    _check_port_free(settings.api_host, settings.simulator_port, "PayTrace simulator")

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    ensure_key_file(settings)  # payload encryption: one fresh key, before anything connects
    components = Components.build(settings)
    seeded = init_erp(
        components.erp_engine, erp=settings.erp, company_id=settings.mapping.company, demo=True
    ).created
    components.store.create_schema()
    verify_mapping(components)
    admin = ensure_dev_admin(settings)

    server = TemporalDevServer(
        find_temporal_cli(settings.temporal_cli),
        settings.temporal_address,
        settings.ui_port,
        settings.var_dir / "temporal.db",
        settings.var_dir / "temporal.log",
        ui_codec_endpoint=f"{settings.api_url}/codec" if settings.codec == "on" else "",
    )
    server.start()
    tasks: list[asyncio.Task[None]] = []
    http_servers = []
    try:
        client = await _wait_for_temporal(server, settings)
        simulator = embedded_server(
            create_app(
                SimulatorConfig(
                    db_path=settings.simulator_db,
                    merchants={
                        settings.paytrace_username: settings.paytrace_password.get_secret_value()
                    },
                    silent_post_url=settings.silent_post_url,
                    timezone=settings.paytrace_timezone,
                    settlement_cutoff=settings.simulator_settlement_cutoff,
                    auto_settle=settings.simulator_auto_settle,
                    faults=settings.simulator_faults,
                    fault_seed=settings.simulator_fault_seed,
                )
            ),
            settings.api_host,
            settings.simulator_port,
        )
        api = embedded_server(
            observability.instrument_api(
                create_api(
                    settings,
                    components.store,
                    TemporalGateway(settings, client),
                    transaction_reader(components.paytrace),
                )
            ),
            settings.api_host,
            settings.api_port,
        )
        secure_handlers(settings.log_format)  # uvicorn's own handlers, added as it was built
        http_servers = [simulator, api]
        tasks = [asyncio.create_task(s.serve()) for s in http_servers]
        tasks.append(
            asyncio.create_task(run_observed_workers(client, components, stop, observability))
        )
        await ensure_schedules(client, settings)
        if seeded:
            print(
                f"seeded {ERP_LABELS[settings.erp]} demo data into {display_url(settings.erp_url)}"
            )
        print(banner(settings, admin), flush=True)
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        for task in done:
            if task is not stopper and not task.cancelled() and task.exception() is not None:
                print(f"tracepost dev: a component stopped: {task.exception()!r}", flush=True)
    finally:
        stop.set()
        for http in http_servers:
            http.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        await components.aclose()
        await server.stop()
        print("tracepost dev stopped", flush=True)
