"""``tracepost orders replay FILE.json|show ORDER``: eCommerce orders (OrderSync).

``replay`` starts OrderSync (``order-<order id>``) from a saved ``order.paid`` event, the body
the store sent (docs/operations.md, "eCommerce orders"); an order already synced is not synced
again. ``show`` prints where an order stands.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workers.cli_common import settings_or_exit
from workers.cli_ops import operator_command


def read_event(path: Path) -> Any:
    """Read a saved ``order.paid`` event: the event itself, or an envelope with ``data``.

    Args:
        path: the JSON file.

    Returns:
        The validated ``OrderPaid``.

    Raises:
        ValueError: not JSON, or not a valid event (the reasons, one per line).
    """
    from domain.order_io import OrderPaid

    try:
        body = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if isinstance(body, dict) and "data" in body and body.get("type") == "order.paid":
        body = body["data"]
    try:
        return OrderPaid.model_validate(body)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors()
        ]
        raise ValueError("not a valid order.paid event:\n  " + "\n  ".join(problems)) from None


@operator_command("orders replay")
def cmd_orders_replay(args: argparse.Namespace) -> int:
    """Start (or join) the OrderSync of a saved ``order.paid`` event."""
    from activities.order_starter import start_order_sync
    from domain.workflow_ids import order_workflow_id
    from workers.temporal_client import connect

    settings = settings_or_exit()
    try:
        event = read_event(Path(args.file))
    except (ValueError, OSError) as exc:
        print(f"tracepost orders replay: {args.file}: {exc}", file=sys.stderr)
        return 1

    async def run() -> int:
        client = await connect(settings)
        started = await start_order_sync(client, settings.task_queue, event, "operator_replay")
        workflow_id = order_workflow_id(event.order_id)
        verb = "started" if started else "already known (not run again)"
        print(f"{workflow_id}: {verb}; order total {event.total}, PT {event.transaction_id}")
        return 0

    return asyncio.run(run())


@operator_command("orders show")
def cmd_orders_show(args: argparse.Namespace) -> int:
    """Print where an order's OrderSync stands."""
    from domain.activity_io import AttentionInfo
    from domain.order_io import OrderSyncResult
    from domain.workflow_ids import order_workflow_id
    from workers.temporal_client import connect

    settings = settings_or_exit()

    async def run() -> int:
        client = await connect(settings)
        handle = client.get_workflow_handle(order_workflow_id(args.order_id))
        result = await handle.query("status", result_type=OrderSyncResult)
        if result is not None:
            print(
                f"{handle.id}: {result.outcome.value}; customer {result.customer_id}"
                f" ({result.customer_rule}{', created' if result.customer_created else ''}),"
                f" sales order {result.sales_order}, prepayment {result.receipt}"
                f" {result.amount}. {result.reason}".rstrip()
            )
            return 0
        attention = await handle.query("attention", result_type=AttentionInfo)
        if attention is not None:
            print(f"{handle.id}: needs attention [{attention.reason_kind}] {attention.reason}")
        else:
            print(f"{handle.id}: running")
        return 0

    return asyncio.run(run())


def add_order_commands(sub: Any) -> None:
    """Add ``tracepost orders …`` to the parser's subcommands."""
    orders = sub.add_parser(
        "orders", help="eCommerce orders: customer, sales order and prepayment (OrderSync)"
    ).add_subparsers(dest="orders_command", required=True)
    replay = orders.add_parser("replay", help="start OrderSync from a saved order.paid event")
    replay.add_argument("file", help="the event as JSON (the store's body)")
    replay.set_defaults(func=cmd_orders_replay)
    show = orders.add_parser("show", help="where an order's OrderSync stands")
    show.add_argument("order_id")
    show.set_defaults(func=cmd_orders_show)
