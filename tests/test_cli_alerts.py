"""``tracepost alerts list|retry|drop`` on a store with a failed delivery."""

from datetime import UTC, datetime

import sqlalchemy as sa

from connectors.store import Store
from domain.alert_io import AlertChannel, DeliveryStatus
from domain.store_io import AlertKind, AlertRequest
from workers.cli import build_parser


def run(*argv):
    args = build_parser().parse_args(list(argv))
    return int(args.func(args))


def test_list_retry_and_drop(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRACEPOST_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("TRACEPOST_CODEC", "off")
    store = Store(sa.create_engine(f"sqlite:///{tmp_path}/store.db"))
    store.create_schema()
    now = datetime.now(UTC)
    store.raise_alert(
        AlertRequest(
            alert_key="k1", kind=AlertKind.NEEDS_ATTENTION, subject="payment 5", message="m", at=now
        )
    )
    (alert,) = store.alerts()
    store.plan_alert_deliveries(alert.id, [AlertChannel.WEBHOOK], now)
    store.record_alert_failure(alert.id, AlertChannel.WEBHOOK, now, "answered 404", None)
    assert run("alerts", "list") == 0
    out = capsys.readouterr().out
    assert "payment 5" in out and "webhook" in out and "failed" in out and "answered 404" in out
    assert run("alerts", "retry", "--alert", str(alert.id)) == 0
    assert "1 delivery(ies) due again" in capsys.readouterr().out
    (row,) = store.alert_deliveries(alert_id=alert.id)
    assert row.status is DeliveryStatus.PENDING
    assert run("alerts", "drop", str(alert.id)) == 0
    assert store.alerts(undelivered_only=True) == []
    assert run("alerts", "drop", str(alert.id)) == 1
