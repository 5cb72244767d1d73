"""``tracepost chargebacks import|outcome|show``: disputes from the processor's report.

PayTrace has no dispute API; the processor's portal exports a CSV of cases. Importing it opens
each case (``chargeback-<case id>``) and records the decisions it shows; importing it again
changes nothing that did not change.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from workers.cli_common import settings_or_exit
from workers.cli_ops import operator_command


@operator_command("chargebacks import")
def cmd_chargebacks_import(args: argparse.Namespace) -> int:
    """Open the cases of a dispute report and record its decisions."""
    from domain.chargeback_report import ReportFormatError, read_report
    from workers.chargeback_cases import import_report
    from workers.temporal_client import connect

    settings = settings_or_exit()
    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
        report = read_report(
            text,
            ZoneInfo(settings.paytrace_timezone),
            settings.mapping.chargebacks.default_fee,
        )
    except (ReportFormatError, UnicodeDecodeError) as exc:
        print(f"tracepost chargebacks import: {args.file}: {exc}", file=sys.stderr)
        return 1
    if args.dry_run:
        for problem in report.problems:
            print(f"line {problem.line}: {problem.reason}")
        print(f"{len(report.rows)} case(s) readable, {len(report.problems)} problem(s)")
        return 1 if report.problems else 0

    async def run() -> int:
        client = await connect(settings)
        summary = await import_report(client, settings.task_queue, report)
        for problem in summary.problems:
            print(problem)
        print(summary.line())
        return 1 if summary.problems else 0

    return asyncio.run(run())


@operator_command("chargebacks outcome")
def cmd_chargebacks_outcome(args: argparse.Namespace) -> int:
    """Record the network's decision on one case."""
    from domain.chargeback_io import DisputeOutcome, OutcomeUpdate
    from workers.chargeback_cases import OutcomeSent, send_outcome
    from workers.temporal_client import connect

    settings = settings_or_exit()
    update = OutcomeUpdate(
        outcome=DisputeOutcome(args.outcome),
        note=args.note,
        operator=args.operator or getpass.getuser(),
    )

    async def run() -> int:
        client = await connect(settings)
        sent = await send_outcome(client, args.case_id, update)
        print(f"chargeback {args.case_id}: {args.outcome} {sent.value}")
        return 0 if sent in (OutcomeSent.APPLIED, OutcomeSent.UNCHANGED) else 1

    return asyncio.run(run())


@operator_command("chargebacks show")
def cmd_chargebacks_show(args: argparse.Namespace) -> int:
    """Print where a case stands and what was done."""
    from domain.chargeback_io import ChargebackStatus
    from domain.workflow_ids import chargeback_workflow_id
    from workers.temporal_client import connect

    settings = settings_or_exit()

    async def run() -> int:
        client = await connect(settings)
        handle = client.get_workflow_handle(chargeback_workflow_id(args.case_id))
        status = await handle.query("status", result_type=ChargebackStatus)
        decided = status.outcome.value if status.outcome else "no decision yet"
        print(
            f"chargeback {status.case_id} on PT {status.transaction_id}: {status.stage.value},"
            f" {decided}, payment {status.ledger.value}; respond by {status.respond_by}"
        )
        for line in status.history:
            print(f"  - {line}")
        return 0

    return asyncio.run(run())


def add_chargeback_commands(sub: Any) -> None:
    """Add ``tracepost chargebacks …`` to the parser's subcommands."""
    cb = sub.add_parser(
        "chargebacks", help="disputes: import the processor's report, record decisions"
    ).add_subparsers(dest="chargebacks_command", required=True)
    imp = cb.add_parser("import", help="open the cases of a dispute report (CSV)")
    imp.add_argument("file", help="the processor's dispute report, CSV with a header row")
    imp.add_argument("--dry-run", action="store_true", help="only read the file and report")
    imp.set_defaults(func=cmd_chargebacks_import)
    out = cb.add_parser("outcome", help="record a case's decision")
    out.add_argument("case_id")
    out.add_argument("outcome", choices=["won", "lost"])
    out.add_argument("--note", default="")
    out.add_argument("--operator", default="", help="who records it (default: $USER)")
    out.set_defaults(func=cmd_chargebacks_outcome)
    show = cb.add_parser("show", help="where a case stands")
    show.add_argument("case_id")
    show.set_defaults(func=cmd_chargebacks_show)
