"""``tracepost alerts list|retry|drop``: the alert outbox and its channel deliveries.

``list`` shows the alerts no channel has finished delivering, with each channel's state and last
error; ``retry`` makes failed and waiting deliveries due now (after fixing their cause), so the
next ``tracepost-alerts`` run sends them; ``drop`` gives up on an alert for good.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from workers.cli_common import settings_or_exit


def _store() -> Any:
    from connectors.store import Store
    from workers.composition import make_engine

    store = Store(make_engine(settings_or_exit().store_url))
    store.create_schema()
    return store


def cmd_alerts_list(args: argparse.Namespace) -> int:
    """Print undelivered alerts (or every alert with --all) and their channel deliveries."""
    store = _store()
    try:
        alerts = store.alerts(undelivered_only=not args.all)
        deliveries: dict[int, list[Any]] = {}
        for delivery in store.alert_deliveries():
            deliveries.setdefault(delivery.alert_id, []).append(delivery)
    finally:
        store.engine.dispose()
    if not alerts:
        print("no undelivered alert" if not args.all else "no alert")
    for alert in alerts:
        state = f"delivered {alert.delivered_at:%Y-%m-%d %H:%M}" if alert.delivered_at else "open"
        print(f"{alert.id}  {alert.at:%Y-%m-%d %H:%M} UTC  [{alert.kind.value}]  {state}")
        print(f"    {alert.subject}")
        for d in deliveries.get(alert.id, []):
            line = f"    {d.channel.value:8} {d.status.value:9} attempts {d.attempts}"
            if d.next_attempt_at and d.status.value == "pending":
                line += f"  next {d.next_attempt_at:%H:%M:%S}"
            if d.last_error:
                line += f"  {d.last_error[:160]}"
            print(line)
        if alert.id not in deliveries and not alert.delivered_at:
            print("    not routed yet (the next tracepost-alerts run routes it)")
    return 0


def cmd_alerts_retry(args: argparse.Namespace) -> int:
    """Make failed and waiting deliveries due now."""
    from domain.alert_io import AlertChannel

    store = _store()
    try:
        channel = AlertChannel(args.channel) if args.channel else None
        count = store.retry_alert_deliveries(
            datetime.now(UTC), alert_id=args.alert, channel=channel
        )
    finally:
        store.engine.dispose()
    print(f"{count} delivery(ies) due again; the next tracepost-alerts run sends them")
    return 0


def cmd_alerts_drop(args: argparse.Namespace) -> int:
    """Give up on an alert: no channel sends it after this."""
    store = _store()
    try:
        known = {alert.id for alert in store.alerts(undelivered_only=True)}
        if args.alert not in known:
            print(f"tracepost alerts drop: no undelivered alert {args.alert}", file=sys.stderr)
            return 1
        store.mark_alert_delivered(args.alert, datetime.now(UTC))
    finally:
        store.engine.dispose()
    print(f"alert {args.alert} dropped")
    return 0


def add_alert_commands(sub: Any) -> None:
    """Register ``alerts list|retry|drop``."""
    alerts = sub.add_parser("alerts", help="the alert outbox").add_subparsers(
        dest="alerts_command", required=True
    )
    listing = alerts.add_parser("list", help="undelivered alerts and their channels")
    listing.add_argument("--all", action="store_true", help="delivered ones too")
    listing.set_defaults(func=cmd_alerts_list)
    retry = alerts.add_parser("retry", help="make failed and waiting deliveries due now")
    retry.add_argument("--alert", type=int, help="only this alert")
    retry.add_argument("--channel", choices=["email", "webhook", "none"], help="only this channel")
    retry.set_defaults(func=cmd_alerts_retry)
    drop = alerts.add_parser("drop", help="give up on an alert for good")
    drop.add_argument("alert", type=int)
    drop.set_defaults(func=cmd_alerts_drop)
