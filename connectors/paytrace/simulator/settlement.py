"""Settlement: the open batch closes at a daily cut-off in merchant time, or on demand.

The cut-off is applied lazily: before a merchant's request is served, every cut-off that passed
since its oldest unsettled transaction closes one batch (what became ready before that cut-off,
settled at the cut-off). The outcome is the same as a background job running at each cut-off,
with no timer to manage and nothing missed while the simulator was stopped.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from connectors.paytrace.simulator.clock import from_micros, to_micros
from connectors.paytrace.simulator.context import SimContext


def cutoffs_after(start: datetime, end: datetime, cutoff: time, tz: ZoneInfo) -> list[datetime]:
    """List the daily cut-offs in ``(start, end]``.

    Args:
        start: exclusive lower bound (aware).
        end: inclusive upper bound (aware).
        cutoff: the local time of day of the cut-off.
        tz: the merchant's time zone.

    Returns:
        Aware UTC datetimes, oldest first.
    """
    found: list[datetime] = []
    day = start.astimezone(tz).date()
    while True:
        moment = datetime.combine(day, cutoff, tzinfo=tz).astimezone(UTC)
        if moment > end:
            return found
        if moment > start:
            found.append(moment)
        day += timedelta(days=1)


async def settle_due(ctx: SimContext, merchant: str) -> list[int]:
    """Close a batch for every cut-off passed since the merchant's oldest unsettled transaction.

    Args:
        ctx: the simulator context.
        merchant: the API user.

    Returns:
        The batch numbers created (empty when nothing was due).
    """
    if not ctx.config.auto_settle:
        return []
    oldest_card = await ctx.db(ctx.state.oldest_unsettled, merchant)
    oldest_check = await ctx.db(ctx.checks.oldest_unsettled, merchant)
    candidates = [t for t in (oldest_card, oldest_check) if t is not None]
    if not candidates:
        return []
    created: list[int] = []
    for moment in cutoffs_after(
        from_micros(min(candidates)), ctx.now(), ctx.config.settlement_cutoff, ctx.tz
    ):
        batch = await settle_at(ctx, merchant, moment)
        if batch is not None:
            created.append(batch)
    return created


async def settle_at(ctx: SimContext, merchant: str, moment: datetime) -> int | None:
    """Settle what became ready before ``moment``, as of ``moment``.

    Args:
        ctx: the simulator context.
        merchant: the API user.
        moment: the settlement time.

    Returns:
        The card batch number, or None when no card transaction was waiting (checks settle
        either way; they have no batch number).
    """
    micros = to_micros(moment)
    await ctx.db(ctx.checks.settle, merchant, micros, micros)
    return await ctx.db(ctx.state.settle, merchant, micros, micros)


async def settle_now(ctx: SimContext, merchant: str) -> int | None:
    """Settle everything waiting now (``/v1/transactions/settle``).

    Args:
        ctx: the simulator context.
        merchant: the API user.

    Returns:
        The new batch number, or None when nothing was waiting.
    """
    now = ctx.now()
    micros = to_micros(now) + 1
    await ctx.db(ctx.checks.settle, merchant, micros, to_micros(now))
    return await ctx.db(ctx.state.settle, merchant, micros, to_micros(now))
