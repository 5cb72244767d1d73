"""GL batch numbers taken the way ``pp_NextGLBatNbr`` takes them, under a ``GLSetup`` row lock."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from connectors.erp.dynamics_sl.base import Batch, GLSetup, pad, text
from connectors.erp.dynamics_sl.ledger_checks import SETUP_ID_GL, read_setup
from connectors.erp.errors import ErpBusinessError
from connectors.erp.locks import lock_rows

BAT_NBR_WIDTH = 10


def lock_setup(conn: sa.Connection) -> sa.Row[Any]:
    """Lock the ``GLSetup`` row, then read it again in a new statement.

    Every GL write serializes on this row (it holds ``LastBatNbr``); the new statement sees what
    a writer that held the lock before committed (READ COMMITTED).

    Returns:
        The current ``GLSetup`` row.
    """
    conn.execute(
        lock_rows(sa.select(GLSetup.c.SetupId).where(GLSetup.c.SetupId == SETUP_ID_GL), GLSetup)
    )
    return read_setup(conn)


def increment(last: str) -> str:
    """``LastBatNbr`` plus one, keeping its zero-padded width (``'000099'`` → ``'000100'``).

    Raises:
        ErpBusinessError: when the number is not numeric or would outgrow ``BatNbr``.
    """
    digits = text(last) or "0"
    if not digits.isdigit():
        raise ErpBusinessError(f"GLSetup.LastBatNbr {digits!r} is not a number")
    following = str(int(digits) + 1).zfill(len(digits))
    if len(following) > BAT_NBR_WIDTH:
        raise ErpBusinessError(f"GL batch numbers are exhausted after {digits}")
    return following


def next_gl_bat_nbr(conn: sa.Connection, setup: sa.Row[Any], module: str = "GL") -> str:
    """Take the next GL batch number and store it in ``GLSetup.LastBatNbr``.

    The caller holds the ``GLSetup`` row lock (``lock_setup``). A number that a ``Batch`` row of
    the module already has (keyed by hand, or by a release that used ``pp_NextGLBatNbr``
    concurrently) is skipped.

    Args:
        conn: a connection inside the caller's transaction.
        setup: the locked ``GLSetup`` row.
        module: the ``Batch.Module`` the number is for.

    Returns:
        The batch number, e.g. ``'000124'``.
    """
    number = increment(str(setup.LastBatNbr))
    while (
        conn.execute(
            sa.select(sa.func.count())
            .select_from(Batch)
            .where(Batch.c.Module == module, Batch.c.BatNbr == pad(number, BAT_NBR_WIDTH))
        ).scalar_one()
        > 0
    ):
        number = increment(number)
    conn.execute(
        sa.update(GLSetup)
        .where(GLSetup.c.SetupId == SETUP_ID_GL)
        .values(LastBatNbr=pad(number, BAT_NBR_WIDTH))
    )
    return number
