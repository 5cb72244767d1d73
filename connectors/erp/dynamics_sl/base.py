"""Dynamics SL foundations shared by every SL module.

Column conventions, the tables both AR and GL use (``Batch``, ``GLSetup``), tracepost's
cross-reference table and fiscal periods.

SL conventions (../shared/reference/erp-schemas.md): every column is NOT NULL with a default of
``' '``, ``0`` or ``1900-01-01`` (a blank date); strings are ``CHAR(n)`` padded with spaces, so
values are written padded (``pad``) and read stripped; money is ``FLOAT(53)`` rounded to the
currency's 2 places through ``Decimal`` (``money``); dates are ``SMALLDATETIME``. ``tstamp
ROWVERSION`` is left out of the stand-in (SQL Server fills it; tracepost never reads it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql

from connectors.erp.errors import ErpBusinessError
from connectors.erp.protocol import PostingStrategy
from connectors.erp.xref import xref_table
from domain.erp_documents import FiscalPeriod
from domain.money import quantize

metadata = sa.MetaData()

BLANK_DATE = datetime(1900, 1, 1)
SmallDateTime = sa.DateTime().with_variant(mssql.SMALLDATETIME(), "mssql")
Float53 = sa.Float(53, asdecimal=False)


def char(name: str, width: int, *, primary: bool = False) -> sa.Column[Any]:
    """A ``CHAR(width) NOT NULL DEFAULT ' '`` column."""
    return sa.Column(
        name, sa.CHAR(width), primary_key=primary, nullable=False, server_default=sa.text("' '")
    )


def money_col(name: str) -> sa.Column[Any]:
    """A ``FLOAT(53) NOT NULL DEFAULT 0`` money column."""
    return sa.Column(name, Float53, nullable=False, server_default=sa.text("0"))


def short(name: str, *, primary: bool = False) -> sa.Column[Any]:
    """A ``SMALLINT NOT NULL DEFAULT 0`` column (flags such as ``Rlsed``)."""
    return sa.Column(
        name,
        sa.SmallInteger,
        primary_key=primary,
        autoincrement=False,
        nullable=False,
        server_default=sa.text("0"),
    )


def integer(name: str, *, primary: bool = False) -> sa.Column[Any]:
    """An ``INT NOT NULL DEFAULT 0`` column (``NoteID``, ``BatSeq``, ``LineId``)."""
    return sa.Column(
        name,
        sa.Integer,
        primary_key=primary,
        autoincrement=False,
        nullable=False,
        server_default=sa.text("0"),
    )


def sdate(name: str) -> sa.Column[Any]:
    """A ``SMALLDATETIME NOT NULL DEFAULT '1900-01-01'`` column."""
    return sa.Column(
        name, SmallDateTime, nullable=False, server_default=sa.text("'1900-01-01 00:00:00'")
    )


def audit() -> list[sa.Column[Any]]:
    """``Crtd_DateTime, Crtd_Prog, Crtd_User, LUpd_DateTime, LUpd_Prog, LUpd_User``."""
    return [
        sdate("Crtd_DateTime"),
        char("Crtd_Prog", 8),
        char("Crtd_User", 10),
        sdate("LUpd_DateTime"),
        char("LUpd_Prog", 8),
        char("LUpd_User", 10),
    ]


def pad(value: str, width: int) -> str:
    """A value as SL stores it in ``CHAR(width)``: cut to width, padded with spaces.

    Args:
        value: the text.
        width: the column width.

    Returns:
        Exactly ``width`` characters.
    """
    return value[:width].ljust(width)


def text(value: object) -> str:
    """A ``CHAR`` value as tracepost uses it: trailing (and leading) blanks removed."""
    return str(value or "").strip()


def money(value: object) -> Decimal:
    """A ``FLOAT`` amount read back as a 2-place ``Decimal`` (SL rounds to Currncy.DecPl)."""
    if value is None:
        return Decimal("0.00")
    return quantize(Decimal(repr(float(str(value)))), 2)


COUNTER_WIDTH = 10  # BatNbr, RefNbr: char(10)


def increment(value: str, counter: str) -> str:
    """The number after an SL counter's last value, keeping its zero-padded width.

    What ``pp_NextGLBatNbr`` does to ``GLSetup.LastBatNbr`` and the AR screens to the
    ``ARSetup`` counters: ``'027900'`` → ``'027901'``; a blank counter starts at ``'000001'``.

    Args:
        value: the counter's last value.
        counter: the counter, for messages (``"ARSetup.LastBatNbr"``).

    Returns:
        The next number, at most 10 characters.

    Raises:
        ErpBusinessError: the counter is not numeric, or has run out of digits.
    """
    current = value.strip()
    if not current:
        return "000001"
    if not current.isdigit():
        raise ErpBusinessError(f"{counter} {current!r} is not numeric")
    following = str(int(current) + 1).zfill(len(current))
    if len(following) > COUNTER_WIDTH:
        raise ErpBusinessError(f"{counter} {current!r} has run out of digits")
    return following


def to_float(amount: Decimal) -> float:
    """The float SL stores for an amount: rounded to 2 places first, at the ERP boundary."""
    return float(quantize(amount, 2))


# --- Batch: AR, GL and CA batches share it, keyed by (Module, BatNbr) ------------------------

Batch = sa.Table(
    "Batch",
    metadata,
    char("Module", 2, primary=True),
    char("BatNbr", 10, primary=True),
    char("CpnyID", 10),
    char("BatType", 1),
    char("Status", 1),
    short("Rlsed"),
    char("EditScrnNbr", 5),
    char("JrnlType", 3),
    char("LedgerID", 10),
    char("PerPost", 6),
    char("PerEnt", 6),
    char("Descr", 30),
    char("BaseCuryID", 4),
    char("BalanceType", 1),
    char("CuryId", 4),
    char("CuryMultDiv", 1),
    money_col("CuryRate"),
    money_col("CtrlTot"),
    money_col("CuryCtrlTot"),
    money_col("DrTot"),
    money_col("CuryDrTot"),
    money_col("CrTot"),
    money_col("CuryCrTot"),
    sdate("DateEnt"),
    short("NbrCycle"),
    *audit(),
)

# --- GLSetup: the fiscal calendar and the GL module's current period -------------------------

GLSetup = sa.Table(
    "GLSetup",
    metadata,
    char("SetupId", 2, primary=True),
    char("CpnyId", 10),
    char("CpnyName", 30),
    char("BaseCuryId", 4),
    char("LedgerID", 10),
    short("BegFiscalYr"),
    short("NbrPer"),
    *(char(f"FiscalPerEnd{i:02d}", 4) for i in range(13)),
    char("PerNbr", 6),
    char("LastBatNbr", 10),
    char("YtdNetIncAcct", 10),
    *audit(),
)

tptPaytraceXref = xref_table(metadata)


# --- fiscal periods ---------------------------------------------------------------------------


def period_ends(setup: sa.Row[Any]) -> list[tuple[int, int]]:
    """(month, day) of the end of each fiscal period 1..NbrPer, from ``FiscalPerEnd00..``."""
    ends = []
    for i in range(int(setup.NbrPer)):
        mmdd = text(setup._mapping[f"FiscalPerEnd{i:02d}"]).zfill(4)
        ends.append((int(mmdd[:2]), int(mmdd[2:])))
    return ends


def _end_date(year: int, month: int, day: int) -> date:
    """A period end in a calendar year; ``0228`` and ``0229`` both mean the end of February."""
    if month == 2 and day >= 28:
        return date(year, 3, 1) - timedelta(days=1)
    return date(year, month, day)


def _period_end_dates(ends: list[tuple[int, int]], first_end_year: int) -> list[date]:
    """End dates of one fiscal year's periods whose first period ends in ``first_end_year``."""
    dates = []
    year = first_end_year
    for i, (month, dom) in enumerate(ends):
        if i and (month, dom) < ends[i - 1]:
            year += 1
        dates.append(_end_date(year, month, dom))
    return dates


def period_of(setup: sa.Row[Any], day: date) -> tuple[str, date, date]:
    """The ``PerPost`` (``YYYYPP``) of a date and its period's first and last day.

    Periods end on ``FiscalPerEnd00`` (period 01) .. ``FiscalPerEnd<NbrPer-1>`` (``MMDD``). A
    fiscal year is named for the calendar year it begins in when ``BegFiscalYr`` is 1, else for
    the year it ends in (the rule of SL's own ``GetCalendarEndDateOfGLPeriod``).

    Args:
        setup: the ``GLSetup`` row.
        day: the date.

    Returns:
        ``("202506", date(2025, 6, 1), date(2025, 6, 30))``-like.
    """
    ends = period_ends(setup)
    for first_end_year in (day.year - 1, day.year, day.year + 1):
        previous_year_end = _period_end_dates(ends, first_end_year - 1)[-1]
        end_dates = _period_end_dates(ends, first_end_year)
        start = previous_year_end + timedelta(days=1)
        for number, end in enumerate(end_dates, start=1):
            if start <= day <= end:
                fiscal_start = previous_year_end + timedelta(days=1)
                named = fiscal_start.year if int(setup.BegFiscalYr) == 1 else end_dates[-1].year
                return f"{named:04d}{number:02d}", start, end
            start = end + timedelta(days=1)
    raise ValueError(f"no fiscal period covers {day.isoformat()}")  # pragma: no cover


def fiscal_period(setup: sa.Row[Any], day: date, current_per_nbr: str) -> FiscalPeriod:
    """The fiscal period of a date; open when it is not before the module's current period.

    SL closes a period for a module by advancing that module's current period (``PerNbr`` of
    ``ARSetup`` or ``GLSetup``); posting into an earlier period is refused. Future periods are
    open up to the end of the next fiscal year after the current one.

    Args:
        setup: the ``GLSetup`` row.
        day: the date.
        current_per_nbr: the module's current ``PerNbr`` (``YYYYPP``).

    Returns:
        The period.
    """
    per_post, start, end = period_of(setup, day)
    current = text(current_per_nbr)
    is_open = per_post >= current and int(per_post[:4]) <= int(current[:4]) + 1
    return FiscalPeriod(
        fiscal_year=per_post[:4], period=int(per_post[4:]), start=start, end=end, open=is_open
    )


@dataclass(frozen=True)
class SlContext:
    """What every SL write needs besides its document.

    Attributes:
        cpny_id: ``CpnyID`` of the documents.
        user_id: ``Crtd_User``/``LUpd_User`` (char 10).
        prog: ``Crtd_Prog``/``LUpd_Prog`` (char 8): the screen number the rows appear to come
            from, e.g. ``08030`` for payments, ``01010`` for journal entries.
        now: the audit timestamp.
        strategy: the posting strategy.
        accounts: GL ``Acct`` (optionally ``Acct/Sub``) by purpose: ``bank``, ``undeposited``,
            ``card_fees``, ``chargeback_fees``, ``write_off``, ``ar``.
    """

    cpny_id: str
    user_id: str
    prog: str
    now: datetime
    strategy: PostingStrategy
    accounts: Mapping[str, str] = field(default_factory=dict)

    def audit_values(self) -> dict[str, Any]:
        """The six audit columns of a new row, padded."""
        return {
            "Crtd_DateTime": self.now,
            "Crtd_Prog": pad(self.prog, 8),
            "Crtd_User": pad(self.user_id, 10),
            "LUpd_DateTime": self.now,
            "LUpd_Prog": pad(self.prog, 8),
            "LUpd_User": pad(self.user_id, 10),
        }
