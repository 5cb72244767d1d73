"""Operator commands of ``tracepost``: needs-attention, the mapping check, backfills, settlements.

``tracepost attention list|show|retry|resolve``, ``tracepost mapping check``,
``tracepost sweep --from DATE --to DATE`` and ``tracepost settlement run|report``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError

from connectors.erp.errors import ErpError
from domain.money import MoneyError
from workers.cli_common import settings_or_exit

ACTIONS = ["retry", "apply_to", "post_on_account", "post_today", "mark_handled", "link_to"]
Command = Callable[[argparse.Namespace], int]


def operator_command(name: str) -> Callable[[Command], Command]:
    """Turn what an operator's environment can get wrong into one line and exit status 1.

    Temporal unreachable, the ERP or the store unreachable, a workflow that failed or does not
    exist: the operator reads the reason, not a traceback.

    Args:
        name: the command as typed, for the message (``attention list``).

    Returns:
        The decorator.
    """

    def wrap(command: Command) -> Command:
        @functools.wraps(command)
        def run(args: argparse.Namespace) -> int:
            try:
                return command(args)
            except WorkflowFailureError as exc:
                print(f"tracepost {name}: the workflow failed: {exc.cause or exc}", file=sys.stderr)
            except (RPCError, ErpError, SQLAlchemyError, RuntimeError, OSError) as exc:
                print(f"tracepost {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1

        return run

    return wrap


# -- needs-attention ----------------------------------------------------------------------


@operator_command("attention list")
def cmd_attention_list(_: argparse.Namespace) -> int:
    """List every workflow waiting in needs-attention."""
    from workers.attention import list_attention
    from workers.temporal_client import connect

    settings = settings_or_exit()

    async def run() -> int:
        items = await list_attention(await connect(settings))
        for item in items:
            a = item.attention
            print(
                f"{item.workflow_id}  since {a.since:%Y-%m-%d %H:%M}  [{a.reason_kind}]"
                + (f"  escalated {a.escalations}x" if a.escalations else "")
            )
            print(f"    {a.reason}")
            for invoice in a.candidates:
                print(
                    f"    candidate {invoice.invoice_number}  {invoice.customer_id}"
                    f"  balance {invoice.balance}"
                )
        print(f"{len(items)} item(s) need attention")
        return 0

    return asyncio.run(run())


@operator_command("attention show")
def cmd_attention_show(args: argparse.Namespace) -> int:
    """Show one parked workflow: why, candidates, what can be done, its audit trail."""
    from connectors.store import Store
    from workers.attention import ParkedWorkflow, attention_of, describe, web_ui_link
    from workers.composition import make_engine
    from workers.temporal_client import connect

    settings = settings_or_exit()

    async def run() -> int:
        client = await connect(settings)
        info = await attention_of(client, args.workflow_id)
        if info is None:
            print(f"{args.workflow_id} is not waiting for an operator", file=sys.stderr)
            return 1
        described = await client.get_workflow_handle(args.workflow_id).describe()
        item = ParkedWorkflow(args.workflow_id, described.workflow_type, info)
        ui = f"http://{settings.api_host}:{settings.ui_port}"
        for line in describe(item, web_ui_link(ui, settings.temporal_namespace, item.workflow_id)):
            print(line)
        store = Store(make_engine(settings.store_url))
        try:
            trail = store.audit_trail(workflow_id=args.workflow_id)
        finally:
            store.engine.dispose()
        if trail:
            print("  audit trail:")
            for event in trail[-12:]:
                print(f"    {event.at:%Y-%m-%d %H:%M:%S}  {event.event}")
        return 0

    return asyncio.run(run())


def _send(workflow_id: str, resolution: Any, verb: str) -> int:
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.service import RPCError

    from workers.attention import resolve
    from workers.temporal_client import connect

    settings = settings_or_exit()

    async def run() -> int:
        try:
            answer = await resolve(await connect(settings), workflow_id, resolution)
        except (WorkflowUpdateFailedError, RPCError) as exc:
            cause = getattr(exc, "cause", None) or exc
            print(f"tracepost attention {verb}: refused: {cause}", file=sys.stderr)
            return 1
        print(f"{workflow_id}: {answer}")
        return 0

    return asyncio.run(run())


@operator_command("attention retry")
def cmd_attention_retry(args: argparse.Namespace) -> int:
    """Retry a parked workflow (shortcut for ``resolve --action retry``)."""
    from domain.activity_io import Resolution, ResolutionAction

    operator = args.operator or os.environ.get("USER", "")
    resolution = Resolution(action=ResolutionAction.RETRY, note=args.note, operator=operator)
    return _send(args.workflow_id, resolution, "retry")


@operator_command("attention resolve")
def cmd_attention_resolve(args: argparse.Namespace) -> int:
    """Resolve a needs-attention item with the workflow's ``resolve`` update."""
    from domain.activity_io import Resolution, ResolutionAction
    from workers.attention import parse_invoice

    try:
        resolution = Resolution(
            action=ResolutionAction(args.action),
            invoices=tuple(parse_invoice(v) for v in args.invoice),
            customer_id=args.customer,
            note=args.note,
            operator=args.operator or os.environ.get("USER", ""),
        )
    except (ValueError, MoneyError) as exc:
        print(f"tracepost attention resolve: {exc}", file=sys.stderr)
        return 2
    return _send(args.workflow_id, resolution, "resolve")


# -- mapping ------------------------------------------------------------------------------


@operator_command("mapping check")
def cmd_mapping_check(args: argparse.Namespace) -> int:
    """Validate the mapping file and check it against the ERP; explain every problem."""
    from workers.composition import Components
    from workers.mapping_file import check_mapping, errors_of

    settings = settings_or_exit(mapping_file=args.file)
    components = Components.build(settings)
    tz = ZoneInfo(settings.paytrace_timezone)
    try:
        problems = check_mapping(
            settings.mapping, settings.erp, components.erp, datetime.now(UTC).astimezone(tz).date()
        )
    finally:
        asyncio.run(components.aclose())
    source = settings.mapping_file or f"starter mapping for {settings.erp}"
    for problem in problems:
        print(problem)
    errors = errors_of(problems)
    if errors:
        print(f"{source}: {len(errors)} error(s), {len(problems) - len(errors)} warning(s)")
        return 1
    print(f"{source}: usable ({len(problems)} warning(s))")
    return 0


# -- sweeps -------------------------------------------------------------------------------


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-11-30, not {text!r}") from None


def backfill_window(
    first: date, last: date, timezone: str, now: datetime
) -> tuple[datetime, datetime]:
    """The UTC window of merchant-local days ``first``..``last`` (inclusive), capped at now.

    Args:
        first: the first day.
        last: the last day.
        timezone: the merchant's time zone.
        now: the current time (UTC).

    Returns:
        (since, until) in UTC.

    Raises:
        ValueError: when ``last`` is before ``first`` or ``first`` is in the future.
    """
    if last < first:
        raise ValueError(f"--to {last.isoformat()} is before --from {first.isoformat()}")
    tz = ZoneInfo(timezone)
    since = datetime.combine(first, time(0), tz).astimezone(UTC)
    until = datetime.combine(last + timedelta(days=1), time(0), tz).astimezone(UTC)
    if since > now:
        raise ValueError(f"--from {first.isoformat()} is in the future")
    return since, min(until, now)


@operator_command("sweep")
def cmd_sweep(args: argparse.Namespace) -> int:
    """Backfill: sweep PayTrace for the days given; workflows already run are not run again."""
    from workers.temporal_client import connect
    from workflows.transaction_sweep import SweepInput, TransactionSweep

    settings = settings_or_exit()
    try:
        since, until = backfill_window(
            args.from_day, args.to_day, settings.paytrace_timezone, datetime.now(UTC)
        )
    except ValueError as exc:
        print(f"tracepost sweep: {exc}", file=sys.stderr)
        return 2

    async def run() -> int:
        client = await connect(settings)
        result = await client.execute_workflow(
            TransactionSweep.run,
            SweepInput(since=since, until=until, ach=settings.sweep_ach and not args.no_ach),
            id=f"sweep-backfill-{args.from_day}-{args.to_day}-{uuid.uuid4().hex[:8]}",
            task_queue=settings.task_queue,
        )
        print(
            f"swept {result.since:%Y-%m-%d %H:%M} to {result.until:%Y-%m-%d %H:%M} UTC:"
            f" {result.found} transaction(s), {result.started} workflow(s) started,"
            f" {result.already} already known"
        )
        return 0

    return asyncio.run(run())


# -- settlements --------------------------------------------------------------------------


@operator_command("settlement run")
def cmd_settlement_run(args: argparse.Namespace) -> int:
    """Settle one batch now (``--batch``), or every batch of the last days."""
    from temporalio.common import WorkflowIDReusePolicy

    from domain.settlement_io import SettlementInput, SettlementSweepInput
    from domain.workflow_ids import settlement_workflow_id
    from workers.temporal_client import connect
    from workflows.settlement_sync import SettlementSweep, SettlementSync

    settings = settings_or_exit()

    async def run() -> int:
        client = await connect(settings)
        if args.batch is not None:
            reuse = (
                WorkflowIDReusePolicy.ALLOW_DUPLICATE
                if args.again
                else WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
            )
            result = await client.execute_workflow(
                SettlementSync.run,
                SettlementInput(batch_number=args.batch, source="operator"),
                id=settlement_workflow_id(args.batch),
                task_queue=settings.task_queue,
                id_reuse_policy=reuse,
            )
            print(f"batch {result.batch_number}: {result.outcome.value}. {result.reason}")
            return 0
        swept = await client.execute_workflow(
            SettlementSweep.run,
            SettlementSweepInput(lookback_days=args.days),
            id=f"settlement-sweep-operator-{uuid.uuid4().hex[:8]}",
            task_queue=settings.task_queue,
        )
        print(
            f"batches {', '.join(str(b) for b in swept.batches) or 'none'}:"
            f" {swept.started} settlement(s) started, {swept.already} already done or running"
        )
        return 0

    return asyncio.run(run())


@operator_command("settlement report")
def cmd_settlement_report(args: argparse.Namespace) -> int:
    """Print a batch's reconciliation report, or write it as CSV."""
    from connectors.store import Store
    from workers.composition import make_engine

    settings = settings_or_exit()
    tz = ZoneInfo(settings.paytrace_timezone)
    store = Store(make_engine(settings.store_url))
    try:
        report = store.settlement_report(args.batch)
    finally:
        store.engine.dispose()
    if report is None:
        print(f"no reconciliation report for batch {args.batch}", file=sys.stderr)
        return 1
    if args.csv:
        from domain.settlement_csv import report_csv

        sys.stdout.write(report_csv(report))
        return 0
    print(
        f"batch {report.batch_number} settled {report.settled_at.astimezone(tz):%Y-%m-%d %H:%M}"
        if report.settled_at
        else f"batch {report.batch_number}"
    )
    print(
        f"  {report.sales_count} sales {report.sales_amount}, {report.refund_count} refunds"
        f" {report.refund_amount}, fees {report.fees}, deposit {report.deposit_amount}"
        f" ({report.deposit_document or 'not written'})  status {report.status}"
    )
    for note in report.notes:
        print(f"  ! {note}")
    for line in report.discrepancies:
        print(f"  {line.status.value:24} {line.transaction_id}  {line.note}")
    print(f"  {len(report.lines)} line(s), {len(report.discrepancies)} discrepancy(ies)")
    return 0


def add_ops_commands(sub: Any) -> None:
    """Add the operator commands to the ``tracepost`` parser's subcommands."""
    attention = sub.add_parser(
        "attention", help="workflows waiting for an operator"
    ).add_subparsers(dest="attention_command", required=True)
    attention.add_parser("list", help="list needs-attention items").set_defaults(
        func=cmd_attention_list
    )
    show = attention.add_parser("show", help="show one item: reason, candidates, choices")
    show.add_argument("workflow_id", help="e.g. payment-1000001")
    show.set_defaults(func=cmd_attention_show)
    retry = attention.add_parser("retry", help="retry one item (after fixing the cause)")
    retry.add_argument("workflow_id")
    retry.add_argument("--note", default="")
    retry.add_argument("--operator", default="", help="who retries it (default: $USER)")
    retry.set_defaults(func=cmd_attention_retry)
    res = attention.add_parser("resolve", help="resolve one item (sends the resolve update)")
    res.add_argument("workflow_id", help="e.g. payment-1000001")
    res.add_argument("--action", required=True, choices=ACTIONS)
    res.add_argument(
        "--invoice",
        action="append",
        default=[],
        metavar="NUMBER=AMOUNT",
        help="with apply_to; repeatable",
    )
    res.add_argument(
        "--customer",
        default="",
        help="ERP customer id: with link_to, or post_on_account when none is known",
    )
    res.add_argument("--note", default="", help="what was done (required with mark_handled)")
    res.add_argument("--operator", default="", help="who resolves it (default: $USER)")
    res.set_defaults(func=cmd_attention_resolve)

    mapping = sub.add_parser("mapping", help="the deployment's mapping file").add_subparsers(
        dest="mapping_command", required=True
    )
    check = mapping.add_parser("check", help="validate the mapping against the ERP")
    check.add_argument("--file", default=None, help="mapping file (default TRACEPOST_MAPPING_FILE)")
    check.set_defaults(func=cmd_mapping_check)

    sweep = sub.add_parser("sweep", help="backfill: sweep PayTrace for the days given")
    sweep.add_argument("--from", dest="from_day", type=_day, required=True, metavar="DATE")
    sweep.add_argument("--to", dest="to_day", type=_day, required=True, metavar="DATE")
    sweep.add_argument("--no-ach", action="store_true", help="card transactions only")
    sweep.set_defaults(func=cmd_sweep)

    settlement = sub.add_parser(
        "settlement", help="settlement reconciliation and deposits"
    ).add_subparsers(dest="settlement_command", required=True)
    srun = settlement.add_parser("run", help="settle one batch, or those of the last days")
    srun.add_argument("--batch", type=int, default=None, help="PayTrace batch number")
    srun.add_argument("--days", type=int, default=7, help="without --batch: how many days back")
    srun.add_argument(
        "--again", action="store_true", help="with --batch: reconcile a settled batch again"
    )
    srun.set_defaults(func=cmd_settlement_run)
    report = settlement.add_parser("report", help="print a batch's reconciliation report")
    report.add_argument("batch", type=int)
    report.add_argument("--csv", action="store_true", help="every line, as CSV")
    report.set_defaults(func=cmd_settlement_report)
