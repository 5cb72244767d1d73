"""The ``tracepost`` command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from pydantic import SecretStr

from domain.money import MoneyError, to_money
from workers.cli_alerts import add_alert_commands
from workers.cli_chargebacks import add_chargeback_commands
from workers.cli_codec import add_codec_commands
from workers.cli_common import settings_or_exit as _settings
from workers.cli_ops import add_ops_commands
from workers.cli_ops_users import add_ops_user_commands
from workers.cli_orders import add_order_commands
from workers.cli_temporal import add_temporal_commands
from workers.codec import CodecKeyError
from workers.erp_admin import DEMO_CUSTOMERS, DEMO_INVOICES
from workers.http import EmbeddedServer
from workers.logging_setup import LOG_FORMATS, configure_logging, secure_handlers
from workers.metrics import MetricsEndpointError
from workers.settings import SUPPORTED_ERPS
from workers.temporal_connection import TemporalConnectionError, connection_options

PUBLISHED_TEST_CARD = "4012000098765439"  # Visa test number published for PayTrace's sandbox


def _positive(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _non_negative(text: str) -> int:
    """An argparse type: an integer of at least 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {value}")
    return value


async def _until_signal(run: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run(stop)


async def _serve(server: EmbeddedServer, stop: asyncio.Event) -> None:
    """Serve until the server stops on its own or ``stop`` is set."""
    task = asyncio.create_task(server.serve())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    server.should_exit = True
    await task


def cmd_dev(args: argparse.Namespace) -> int:
    """Run the embedded stack."""
    from workers.dev import DevConfigError, PortInUseError, run_dev
    from workers.observability import start_observability
    from workers.temporal_server import TemporalServerError
    from workers.worker import MappingRefusedError

    settings = _settings(ui_port=args.ui_port)
    # before any client: the runtime serves the metrics (a bad endpoint: exit 2 in main)
    observability = start_observability(settings, "dev", settings.metrics_bind)
    try:
        asyncio.run(run_dev(settings, observability=observability))
    except (PortInUseError, DevConfigError, TemporalServerError, MappingRefusedError) as exc:
        print(f"tracepost dev: {exc}", file=sys.stderr)
        return 1
    finally:
        observability.close()
    return 0


def cmd_worker(_: argparse.Namespace) -> int:
    """Run a worker process (after checking the mapping against the ERP)."""
    from workers.composition import Components
    from workers.observability import run_observed_workers, start_observability
    from workers.temporal_client import connect
    from workers.worker import MappingRefusedError, verify_mapping

    settings = _settings()
    # before any client: the runtime serves the metrics (a bad endpoint: exit 2 in main)
    observability = start_observability(settings, "worker", settings.metrics_bind)
    settings.var_dir.mkdir(parents=True, exist_ok=True)  # the default store lives there
    components = Components.build(settings)
    components.store.create_schema()  # idempotent: new tables exist whichever process starts first
    try:
        verify_mapping(components)
    except MappingRefusedError as exc:
        print(f"tracepost worker: {exc}", file=sys.stderr)
        asyncio.run(components.aclose())
        return 2

    async def run(stop: asyncio.Event) -> None:
        try:
            client = await connect(settings)
            await run_observed_workers(client, components, stop, observability)
        finally:
            await components.aclose()

    try:
        asyncio.run(_until_signal(run))
    finally:
        observability.close()
    return 0


def cmd_api(_: argparse.Namespace) -> int:
    """Run the api process."""
    from connectors.store import Store
    from workers.api import TemporalGateway, create_api, transaction_reader
    from workers.composition import build_paytrace, make_engine
    from workers.http import embedded_server
    from workers.observability import start_observability

    settings = _settings()
    connection_options(settings)  # a bad Temporal TLS setting stops the api here (exit 2)
    # before any client: the runtime serves the metrics (a bad endpoint: exit 2 in main)
    observability = start_observability(settings, "api", settings.api_metrics_bind)
    settings.var_dir.mkdir(parents=True, exist_ok=True)  # the default store lives there
    store = Store(make_engine(settings.store_url))
    store.create_schema()
    paytrace = build_paytrace(settings)  # the ops pages re-read transactions (masked card only)
    app = create_api(settings, store, TemporalGateway(settings), transaction_reader(paytrace))
    server = embedded_server(
        observability.instrument_api(app), settings.api_host, settings.api_port
    )
    secure_handlers(settings.log_format)  # uvicorn's own handlers, added as the server was built
    try:
        asyncio.run(_until_signal(lambda stop: _serve(server, stop)))
    finally:
        observability.close()
    return 0


def cmd_simulator(args: argparse.Namespace) -> int:
    """Run the PayTrace simulator alone."""
    from connectors.paytrace.simulator import SimulatorConfig, create_app
    from workers.http import embedded_server

    settings = _settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    port = args.port or settings.simulator_port
    app = create_app(
        SimulatorConfig(
            db_path=settings.simulator_db,
            merchants={settings.paytrace_username: settings.paytrace_password.get_secret_value()},
            silent_post_url=args.silent_post_url or "",
            timezone=settings.paytrace_timezone,
            settlement_cutoff=settings.simulator_settlement_cutoff,
            auto_settle=settings.simulator_auto_settle,
            faults=settings.simulator_faults,
            fault_seed=settings.simulator_fault_seed,
        )
    )
    server = embedded_server(app, settings.api_host, port)
    secure_handlers(settings.log_format)  # uvicorn's own handlers, added as the server was built
    print(f"PayTrace simulator on http://{settings.api_host}:{port}", flush=True)
    asyncio.run(_until_signal(lambda stop: _serve(server, stop)))
    return 0


def cmd_schedules(_: argparse.Namespace) -> int:
    """Register or update tracepost's Temporal Schedules."""
    from workers.schedules import ensure_schedules
    from workers.temporal_client import connect

    settings = _settings()

    async def run() -> None:
        await ensure_schedules(await connect(settings), settings)

    asyncio.run(run())
    print("schedules registered")
    return 0


def cmd_erp_init(args: argparse.Namespace) -> int:
    """Create the ERP stand-in schema (and demo data)."""
    from workers.composition import display_url, make_erp_engine
    from workers.erp_admin import DemoSize, init_erp

    overrides: dict[str, Any] = {"erp": args.erp, "erp_url": args.url}
    settings = _settings(**overrides)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    engine = make_erp_engine(settings)
    started = time.monotonic()
    try:
        seeded = init_erp(
            engine,
            erp=settings.erp,
            company_id=settings.mapping.company,
            demo=args.demo,
            size=DemoSize(customers=args.customers, invoices=args.invoices),
        )
    except ValueError as exc:
        print(f"tracepost erp init: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"{settings.erp} stand-in ready at {display_url(settings.erp_url)}")
    if seeded.created:
        print(
            f"demo data seeded: {seeded.customers:,} customers, {seeded.invoices:,} invoices"
            f" in {time.monotonic() - started:.1f} s"
        )
    elif args.demo:
        print("demo data already present; nothing seeded")
    return 0


def cmd_erp_invoice(args: argparse.Namespace) -> int:
    """Show an invoice's open balance."""
    from workers.composition import Components

    settings = _settings()
    components = Components.build(settings)
    invoice = components.erp.invoice_by_number(args.number)
    if invoice is None:
        print(f"invoice {args.number} not found in {settings.erp}", file=sys.stderr)
        return 1
    print(
        f"invoice {invoice.invoice_number}  customer {invoice.customer_id}  "
        f"amount {invoice.amount}  balance {invoice.balance}"
    )
    return 0


def cmd_sale(args: argparse.Namespace) -> int:
    """Make a keyed sale with a published test card (simulator or sandbox only)."""
    from connectors.paytrace.errors import PaytraceDeclined, PaytraceError
    from connectors.paytrace.models import CreditCard, KeyedSaleRequest
    from workers.composition import build_paytrace

    settings = _settings()
    if settings.paytrace_is_production:
        print("tracepost sale refuses to charge cards against PayTrace production", file=sys.stderr)
        return 2
    try:
        amount: Decimal = to_money(args.amount)
    except MoneyError as exc:
        print(f"tracepost sale: {exc}", file=sys.stderr)
        return 2
    request = KeyedSaleRequest(
        amount=amount,
        credit_card=CreditCard(
            number=SecretStr(PUBLISHED_TEST_CARD), expiration_month="12", expiration_year="2030"
        ),
        invoice_id=args.invoice or "",
        customer_reference_id=args.customer or "",
    )

    async def run() -> int:
        client = build_paytrace(settings)
        try:
            response = await client.sale_keyed(request)
        except PaytraceDeclined as exc:
            print(f"declined: transaction {exc.transaction_id}: {exc.approval_message}")
            return 1
        except PaytraceError as exc:
            print(f"tracepost sale failed: {exc}", file=sys.stderr)
            return 1
        finally:
            await client.aclose()
        print(f"approved: transaction {response.transaction_id} ({response.masked_card_number})")
        return 0

    return asyncio.run(run())


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``tracepost``."""
    parser = argparse.ArgumentParser(
        prog="tracepost",
        description="PayTrace payments posted to Sage 500 / Dynamics SL through Temporal workflows."
        " Settings come from TRACEPOST_* environment variables (docs/configuration.md).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser(
        "dev", help="run the embedded stack (Temporal, simulator, ERP stand-in, worker, api)"
    )
    dev.add_argument(
        "--ui-port", type=int, default=None, help="Temporal Web UI port (default 8233)"
    )
    dev.set_defaults(func=cmd_dev)

    sub.add_parser("worker", help="run a worker process").set_defaults(func=cmd_worker)
    sub.add_parser("api", help="run the api process").set_defaults(func=cmd_api)
    sub.add_parser("schedules", help="register or update the Temporal Schedules").set_defaults(
        func=cmd_schedules
    )

    sim = sub.add_parser("simulator", help="run the PayTrace simulator alone")
    sim.add_argument("--port", type=int, default=None)
    sim.add_argument("--silent-post-url", default=None, help="where hosted checkout posts")
    sim.set_defaults(func=cmd_simulator)

    erp = sub.add_parser("erp", help="ERP stand-in tools").add_subparsers(
        dest="erp_command", required=True
    )
    init = erp.add_parser("init", help="create the stand-in schema")
    init.add_argument(
        "--erp", default=None, choices=SUPPORTED_ERPS, help="which ERP (default TRACEPOST_ERP)"
    )
    init.add_argument("--url", default=None, help="SQLAlchemy URL (default TRACEPOST_ERP_URL)")
    init.add_argument("--demo", action="store_true", help="seed demo customers and invoices")
    init.add_argument(
        "--customers", type=_positive, default=DEMO_CUSTOMERS, help="demo customers (total)"
    )
    init.add_argument(
        "--invoices", type=_non_negative, default=DEMO_INVOICES, help="demo invoices (total)"
    )
    init.set_defaults(func=cmd_erp_init)
    inv = erp.add_parser("invoice", help="show an invoice's balance")
    inv.add_argument("number")
    inv.set_defaults(func=cmd_erp_invoice)

    add_ops_commands(sub)
    add_chargeback_commands(sub)
    add_order_commands(sub)
    add_ops_user_commands(sub)
    add_alert_commands(sub)
    add_codec_commands(sub)
    add_temporal_commands(sub)

    sale = sub.add_parser("sale", help="make a test sale in the simulator or sandbox")
    sale.add_argument("--amount", required=True)
    sale.add_argument("--invoice", default="", help="invoice number (PayTrace invoice_id)")
    sale.add_argument("--customer", default="", help="ERP customer id (customer_reference_id)")
    sale.set_defaults(func=cmd_sale)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``tracepost`` console script.

    The process ends with ``os._exit`` after flushing output: the Temporal SDK's native threads can
    crash at interpreter shutdown in short-lived processes (sdk-python#300), which must never turn
    a finished command into a failure.
    """
    args = build_parser().parse_args(argv)
    log_format = os.environ.get("TRACEPOST_LOG_FORMAT", "text").strip().lower()
    # an unknown format is refused with the other settings, when the command loads them
    configure_logging(
        os.environ.get("TRACEPOST_LOG_LEVEL", "INFO"),
        log_format if log_format in LOG_FORMATS else "text",
    )
    code = 1
    try:
        code = int(args.func(args))
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            code = 1
        else:
            code = int(exc.code or 0)
    except KeyboardInterrupt:
        code = 130
    except (CodecKeyError, TemporalConnectionError, MetricsEndpointError) as exc:  # configuration
        print(f"tracepost: {exc}", file=sys.stderr)
        code = 2
    except Exception:  # noqa: BLE001 - printed in full, then the process fails
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
