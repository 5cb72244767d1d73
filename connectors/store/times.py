"""Timestamps in the store are UTC; SQLite hands them back without a zone."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(value: datetime) -> datetime:
    """The timestamp as an aware UTC datetime (naive values are taken as UTC)."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    """As :func:`utc`, passing None through."""
    return None if value is None else utc(value)
