"""The sweep's window and its PayTrace read (merchant-local dates, overlap, types)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from pydantic import SecretStr
from temporalio.testing import ActivityEnvironment

from activities.paytrace import PaytraceActivities
from connectors.paytrace.client import PaytraceClient
from connectors.paytrace.errors import PaytraceDeclined
from connectors.paytrace.models import CreditCard, KeyedSaleRequest
from connectors.paytrace.simulator import SimulatorConfig, create_app
from domain.activity_io import SweepWindow
from workflows.transaction_sweep import sweep_window

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_first_run_reads_the_lookback():
    window = sweep_window(None, NOW, overlap_minutes=10, first_lookback_days=2)
    assert (window.since, window.until) == (NOW - timedelta(days=2), NOW)


def test_later_runs_reread_the_overlap_before_the_cursor():
    cursor = NOW - timedelta(seconds=15)
    window = sweep_window(cursor, NOW, overlap_minutes=10, first_lookback_days=1)
    assert window.since == cursor - timedelta(minutes=10)


def test_a_cursor_in_the_future_does_not_skip_anything():
    window = sweep_window(NOW + timedelta(hours=1), NOW, overlap_minutes=10, first_lookback_days=1)
    assert window.since == NOW - timedelta(minutes=10)


async def test_export_window_keeps_payments_created_inside_the_window(tmp_path):
    clock_now = [datetime(2026, 11, 23, 3, 30, tzinfo=UTC)]  # 22:30 on Nov 22 in New York
    app = create_app(SimulatorConfig(db_path=str(tmp_path / "sim.db")), clock=lambda: clock_now[0])
    client = PaytraceClient("http://sim", "demo", "demo", transport=httpx.ASGITransport(app=app))
    card = CreditCard(
        number=SecretStr("4012000098765439"), expiration_month="12", expiration_year="2030"
    )

    async def sale(amount):
        try:
            return (
                await client.sale_keyed(KeyedSaleRequest(amount=Decimal(amount), credit_card=card))
            ).transaction_id
        except PaytraceDeclined as exc:  # a decline still creates a transaction
            return exc.transaction_id

    old = await sale("1.00")
    clock_now[0] += timedelta(hours=2)  # 00:30 on Nov 23 in New York: the next local date
    late = await sale("2.00")
    declined = await sale("3.02")
    acts = PaytraceActivities(client, "America/New_York")
    window = SweepWindow(
        since=clock_now[0] - timedelta(hours=1), until=clock_now[0] + timedelta(minutes=1)
    )
    found = await ActivityEnvironment().run(acts.export_sweep_window, window)
    assert [t.transaction_id for t in found] == [
        late,
        declined,
    ]  # declines are posted as "declined"
    wide = SweepWindow(since=clock_now[0] - timedelta(hours=3), until=clock_now[0])
    assert [
        t.transaction_id for t in await ActivityEnvironment().run(acts.export_sweep_window, wide)
    ] == [
        old,
        late,
        declined,
    ]
    only_refunds = SweepWindow(since=wide.since, until=wide.until, transaction_types=("REFUND",))
    assert await ActivityEnvironment().run(acts.export_sweep_window, only_refunds) == []
    await client.aclose()


async def test_payments_in_the_repeated_autumn_hour_are_not_skipped(tmp_path):
    """2026-11-01 in New York: 01:00-02:00 happens twice. A payment at the second 01:10 (EST,
    06:10Z) must be found by a run whose window starts at the first 01:50 (EDT, 05:50Z)."""
    created = datetime(2026, 11, 1, 6, 10, tzinfo=UTC)
    app = create_app(SimulatorConfig(db_path=str(tmp_path / "sim.db")), clock=lambda: created)
    client = PaytraceClient("http://sim", "demo", "demo", transport=httpx.ASGITransport(app=app))
    card = CreditCard(
        number=SecretStr("4012000098765439"), expiration_month="12", expiration_year="2030"
    )
    sale = await client.sale_keyed(KeyedSaleRequest(amount=Decimal("5.00"), credit_card=card))
    acts = PaytraceActivities(client, "America/New_York")
    window = SweepWindow(
        since=datetime(2026, 11, 1, 5, 50, tzinfo=UTC),
        until=datetime(2026, 11, 1, 6, 15, tzinfo=UTC),
    )
    found = await ActivityEnvironment().run(acts.export_sweep_window, window)
    assert [t.transaction_id for t in found] == [sale.transaction_id]
    await client.aclose()


async def test_cursor_with_microseconds_does_not_drop_a_payment_of_the_same_second(tmp_path):
    created = datetime(2026, 11, 23, 15, 0, 0, tzinfo=UTC)
    app = create_app(SimulatorConfig(db_path=str(tmp_path / "sim.db")), clock=lambda: created)
    client = PaytraceClient("http://sim", "demo", "demo", transport=httpx.ASGITransport(app=app))
    card = CreditCard(
        number=SecretStr("4012000098765439"), expiration_month="12", expiration_year="2030"
    )
    sale = await client.sale_keyed(KeyedSaleRequest(amount=Decimal("5.00"), credit_card=card))
    acts = PaytraceActivities(client, "America/New_York")
    window = SweepWindow(
        since=created.replace(microsecond=500000), until=created + timedelta(seconds=5)
    )
    found = await ActivityEnvironment().run(acts.export_sweep_window, window)
    assert [t.transaction_id for t in found] == [sale.transaction_id]
    await client.aclose()


async def test_unknown_transaction_is_retryable_at_first(tmp_path):
    from temporalio.exceptions import ApplicationError

    app = create_app(SimulatorConfig(db_path=str(tmp_path / "sim.db")))
    client = PaytraceClient("http://sim", "demo", "demo", transport=httpx.ASGITransport(app=app))
    acts = PaytraceActivities(client, "America/New_York")
    try:
        await ActivityEnvironment().run(acts.fetch_transaction, 424242)
    except ApplicationError as exc:
        assert exc.type == "paytrace_unknown_transaction" and not exc.non_retryable
    else:
        raise AssertionError("an unknown transaction must raise")
    finally:
        await client.aclose()
