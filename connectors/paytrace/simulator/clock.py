"""Time: an injectable clock and PayTrace's date formats in merchant local time."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]
"""Returns the current time as an aware datetime."""

_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def system_clock() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def to_micros(moment: datetime) -> int:
    """Convert an aware datetime to integer microseconds since the Unix epoch."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """Convert microseconds since the Unix epoch to an aware UTC datetime."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def format_local(moment: datetime, tz: ZoneInfo) -> str:
    """Format a moment PayTrace's way, in merchant local time: ``4/10/2015 4:06:30 PM``.

    Args:
        moment: an aware datetime.
        tz: the merchant's time zone.

    Returns:
        ``M/D/YYYY h:mm:ss AM|PM`` without leading zeros on month, day and hour, and no zone.
    """
    local = moment.astimezone(tz)
    hour = local.hour % 12 or 12
    meridiem = "AM" if local.hour < 12 else "PM"
    return (
        f"{local.month}/{local.day}/{local.year} "
        f"{hour}:{local.minute:02d}:{local.second:02d} {meridiem}"
    )


def parse_us_date(value: object) -> date | None:
    """Read ``MM/DD/YYYY`` (one-digit month and day allowed).

    Args:
        value: the raw request value.

    Returns:
        The date, or None when the value is not such a date.
    """
    if not isinstance(value, str):
        return None
    match = _US_DATE.fullmatch(value.strip())
    if match is None:
        return None
    month, day, year = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def local_day_bounds(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the UTC half-open interval covering local calendar days ``first`` to ``last``.

    Args:
        first: the first local day, inclusive.
        last: the last local day, inclusive.
        tz: the merchant's time zone.

    Returns:
        ``(start, end)`` as aware UTC datetimes; ``end`` is the next local midnight after ``last``.
    """
    start = datetime.combine(first, time.min, tzinfo=tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    return start, end
