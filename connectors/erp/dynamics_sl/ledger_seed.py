"""Demo General Ledger setup of the Dynamics SL stand-in: calendar year, chart, order type."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from connectors.erp.dynamics_sl.base import GLSetup, pad
from connectors.erp.dynamics_sl.ledger_schema import Account, SOType, SubAcct

SEED_PROG = "TPSEED"
SEED_USER = "tracepost"
DEMO_LEDGER_ID = "0000"
DEMO_BASE_CURY = "USD"
DEMO_SUB = "000000"
DEMO_SO_TYPE = "SO"
FIRST_BAT_NBR = "000000"
FIRST_ORD_NBR = "000000"

DEMO_ACCOUNTS: dict[str, str] = {
    "bank": "1000",
    "undeposited": "1010",
    "ar": "1200",
    "prepayments": "2100",
    "sales": "4000",
    "card_fees": "6100",
    "chargeback_fees": "6110",
    "write_off": "6950",
    "sub": DEMO_SUB,
}
"""``SlContext.accounts`` for the demo chart (``sub`` is the default subaccount)."""

# (Acct, AcctType, Descr, Active)
DEMO_CHART: tuple[tuple[str, str, str, int], ...] = (
    ("1000", "1A", "Cash - Operating", 1),
    ("1010", "1A", "Undeposited Funds - Card", 1),
    ("1090", "1A", "Cash - Closed Account", 0),
    ("1200", "1A", "Accounts Receivable", 1),
    ("2100", "2L", "Customer Prepayments", 1),
    ("3900", "2L", "Retained Earnings", 1),
    ("4000", "3I", "Sales", 1),
    ("6100", "4E", "Card Processing Fees", 1),
    ("6110", "4E", "Chargeback Fees", 1),
    ("6950", "4E", "AR Write-Offs", 1),
)


def _month_end(month: int) -> str:
    """``MMDD`` of a month's last day; February is ``0228`` (SL's convention for leap years)."""
    day = 28 if month == 2 else calendar.monthrange(2001, month)[1]
    return f"{month:02d}{day:02d}"


def _audit(now: datetime) -> dict[str, Any]:
    return {
        "Crtd_DateTime": now,
        "Crtd_Prog": pad(SEED_PROG, 8),
        "Crtd_User": pad(SEED_USER, 10),
        "LUpd_DateTime": now,
        "LUpd_Prog": pad(SEED_PROG, 8),
        "LUpd_User": pad(SEED_USER, 10),
    }


def seed_ledger(conn: sa.Connection, cpny_id: str, today: date) -> None:
    """Seed the demo GL setup; a second call is a no-op.

    ``GLSetup``: calendar fiscal year (``NbrPer`` 12, ``FiscalPerEnd00..11`` the month ends),
    ``PerNbr`` today's period, ``LastBatNbr`` ``000000``; ``Account`` rows of ``DEMO_CHART``
    (1090 inactive); ``SubAcct`` ``000000``; sales order type ``SO`` (``LastOrdNbr``
    ``000000``).

    Args:
        conn: a connection inside a transaction.
        cpny_id: ``CpnyID`` of the demo company.
        today: fixes the current period.
    """
    exists = conn.execute(sa.select(GLSetup.c.SetupId).where(GLSetup.c.SetupId == "GL")).first()
    if exists is not None:
        return
    now = datetime(today.year, today.month, today.day)
    setup: dict[str, Any] = {
        "SetupId": "GL",
        "CpnyId": pad(cpny_id, 10),
        "CpnyName": pad("tracepost demo company", 30),
        "BaseCuryId": pad(DEMO_BASE_CURY, 4),
        "LedgerID": pad(DEMO_LEDGER_ID, 10),
        "BegFiscalYr": 0,
        "NbrPer": 12,
        "PerNbr": f"{today.year:04d}{today.month:02d}",
        "LastBatNbr": pad(FIRST_BAT_NBR, 10),
        "YtdNetIncAcct": pad("3900", 10),
        **_audit(now),
    }
    for index in range(13):
        setup[f"FiscalPerEnd{index:02d}"] = _month_end(index + 1) if index < 12 else pad("", 4)
    conn.execute(sa.insert(GLSetup), [setup])
    conn.execute(
        sa.insert(Account),
        [
            {
                "Acct": pad(acct, 10),
                "AcctType": acct_type,
                "Active": active,
                "CuryId": pad(DEMO_BASE_CURY, 4),
                "Descr": pad(descr, 30),
                **_audit(now),
            }
            for acct, acct_type, descr, active in DEMO_CHART
        ],
    )
    conn.execute(
        sa.insert(SubAcct),
        [{"Sub": pad(DEMO_SUB, 24), "Active": 1, "Descr": pad("Default", 30), **_audit(now)}],
    )
    conn.execute(
        sa.insert(SOType),
        [
            {
                "CpnyID": pad(cpny_id, 10),
                "SOTypeID": pad(DEMO_SO_TYPE, 4),
                "Active": 1,
                "Behavior": pad("SO", 4),
                "Descr": pad("Sales Order", 30),
                "LastOrdNbr": pad(FIRST_ORD_NBR, 10),
                "OrdNbrPrefix": pad("", 15),
                "OrdNbrType": pad("", 4),
                **_audit(now),
            }
        ],
    )
