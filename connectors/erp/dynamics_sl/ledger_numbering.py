"""GL batch numbers taken the way ``pp_NextGLBatNbr`` takes them, under a ``GLSetup`` row lock."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from connectors.erp.dynamics_sl.base import Batch, GLSetup, increment, pad
from connectors.erp.dynamics_sl.ledger_checks import SETUP_ID_GL, read_setup
from connectors.erp.locks import lock_rows

BAT_NBR_WIDTH = 10
COUNTER = "GLSetup.LastBatNbr"


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
    number = increment(str(setup.LastBatNbr), COUNTER)
    while (
        conn.execute(
            sa.select(sa.func.count())
            .select_from(Batch)
            .where(Batch.c.Module == module, Batch.c.BatNbr == pad(number, BAT_NBR_WIDTH))
        ).scalar_one()
        > 0
    ):
        number = increment(number, COUNTER)
    conn.execute(
        sa.update(GLSetup)
        .where(GLSetup.c.SetupId == SETUP_ID_GL)
        .values(LastBatNbr=pad(number, BAT_NBR_WIDTH))
    )
    return number
