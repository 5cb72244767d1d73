"""The sweep's window and its PayTrace read (merchant-local dates, overlap, types)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError
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


CARD = CreditCard(
    number=SecretStr("4012000098765439"), expiration_month="12", expiration_year="2030"
)


@asynccontextmanager
async def simulator_at(
    tmp_path, clock: list[datetime]
) -> AsyncIterator[tuple[PaytraceClient, PaytraceActivities]]:
    """The simulator whose clock reads ``clock[0]``, its client, and the PayTrace activities."""
    app = create_app(SimulatorConfig(db_path=str(tmp_path / "sim.db")), clock=lambda: clock[0])
    client = PaytraceClient("http://sim", "demo", "demo", transport=httpx.ASGITransport(app=app))
    try:
        yield client, PaytraceActivities(client, "America/New_York")
    finally:
        await client.aclose()


async def charge(client: PaytraceClient, amount: str) -> int:
    """A keyed sale with the published Visa test card; a decline still creates a transaction."""
    try:
        return (
            await client.sale_keyed(KeyedSaleRequest(amount=Decimal(amount), credit_card=CARD))
        ).transaction_id
    except PaytraceDeclined as exc:
        assert exc.transaction_id is not None
        return exc.transaction_id


async def sweep(acts: PaytraceActivities, window: SweepWindow) -> list[int]:
    return [
        t.transaction_id for t in await ActivityEnvironment().run(acts.export_sweep_window, window)
    ]


async def test_export_window_keeps_payments_created_inside_the_window(tmp_path):
    clock_now = [datetime(2026, 11, 23, 3, 30, tzinfo=UTC)]  # 22:30 on Nov 22 in New York
    async with simulator_at(tmp_path, clock_now) as (client, acts):
        old = await charge(client, "1.00")
        clock_now[0] += timedelta(hours=2)  # 00:30 on Nov 23 in New York: the next local date
        late = await charge(client, "2.00")
        declined = await charge(client, "3.02")
        window = SweepWindow(
            since=clock_now[0] - timedelta(hours=1), until=clock_now[0] + timedelta(minutes=1)
        )
        assert await sweep(acts, window) == [late, declined]  # declines are posted as "declined"
        wide = SweepWindow(since=clock_now[0] - timedelta(hours=3), until=clock_now[0])
        assert await sweep(acts, wide) == [old, late, declined]
        only_refunds = SweepWindow(
            since=wide.since, until=wide.until, transaction_types=("REFUND",)
        )
        assert await sweep(acts, only_refunds) == []


async def test_payments_in_the_repeated_autumn_hour_are_not_skipped(tmp_path):
    """2026-11-01 in New York: 01:00-02:00 happens twice. A payment at the second 01:10 (EST,
    06:10Z) must be found by a run whose window starts at the first 01:50 (EDT, 05:50Z)."""
    async with simulator_at(tmp_path, [datetime(2026, 11, 1, 6, 10, tzinfo=UTC)]) as (client, acts):
        sale = await charge(client, "5.00")
        window = SweepWindow(
            since=datetime(2026, 11, 1, 5, 50, tzinfo=UTC),
            until=datetime(2026, 11, 1, 6, 15, tzinfo=UTC),
        )
        assert await sweep(acts, window) == [sale]


async def test_cursor_with_microseconds_does_not_drop_a_payment_of_the_same_second(tmp_path):
    created = datetime(2026, 11, 23, 15, 0, 0, tzinfo=UTC)
    async with simulator_at(tmp_path, [created]) as (client, acts):
        sale = await charge(client, "5.00")
        window = SweepWindow(
            since=created.replace(microsecond=500000), until=created + timedelta(seconds=5)
        )
        assert await sweep(acts, window) == [sale]


async def test_unknown_transaction_is_retryable_at_first(tmp_path):
    async with simulator_at(tmp_path, [NOW]) as (_, acts):
        try:
            await ActivityEnvironment().run(acts.fetch_transaction, 424242)
        except ApplicationError as exc:
            assert exc.type == "paytrace_unknown_transaction" and not exc.non_retryable
        else:
            raise AssertionError("an unknown transaction must raise")
