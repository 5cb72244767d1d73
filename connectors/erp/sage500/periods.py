"""Fiscal periods (``tglFiscalPeriod``): which period a date falls in, and is it open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from connectors.erp.errors import ClosedPeriodError
from connectors.erp.sage500 import codes
from connectors.erp.sage500.schema import tglFiscalPeriod
from domain.erp_documents import FiscalPeriod


@dataclass(frozen=True)
class OpenPeriod:
    """The open period a document lands in (``FiscYear`` / ``FiscPer`` of GL rows)."""

    fiscal_year: str
    period: int


def midnight(day: date) -> datetime:
    """A date as the midnight ``datetime`` Sage keeps in its date columns."""
    return datetime(day.year, day.month, day.day)


def read_period(conn: sa.Connection, company_id: str, day: date) -> FiscalPeriod | None:
    """The fiscal period covering a day, or None.

    Args:
        conn: a connection.
        company_id: the Sage company.
        day: the date.

    Returns:
        The period with its open flag (``Status`` 1), or None when no period covers the day.
    """
    per = tglFiscalPeriod.c
    moment = midnight(day)
    row = conn.execute(
        sa.select(per.FiscYear, per.FiscPer, per.StartDate, per.EndDate, per.Status)
        .where(per.CompanyID == company_id, per.StartDate <= moment, per.EndDate >= moment)
        .order_by(per.StartDate)
    ).first()
    if row is None:
        return None
    return FiscalPeriod(
        fiscal_year=str(row.FiscYear).strip(),
        period=int(row.FiscPer),
        start=as_date(row.StartDate),
        end=as_date(row.EndDate),
        open=int(row.Status) == codes.PERIOD_STATUS_OPEN,
    )


def require_open(conn: sa.Connection, company_id: str, day: date) -> OpenPeriod:
    """The open period a document dated ``day`` posts to.

    Raises:
        ClosedPeriodError: no period covers the day, or it is closed.
    """
    period = read_period(conn, company_id, day)
    if period is None:
        raise ClosedPeriodError(
            f"no fiscal period of company {company_id} covers {day.isoformat()}"
        )
    if not period.open:
        raise ClosedPeriodError(
            f"fiscal period {period.label} of company {company_id} is closed;"
            f" {day.isoformat()} cannot be posted"
        )
    return OpenPeriod(period.fiscal_year, period.period)


def as_date(value: object) -> date:
    """A date column's value as ``date`` (drivers hand back datetime, date or text)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value)).date()
