"""Document and batch numbers taken the way SL's ``pp_NextGLBatNbr`` takes them, for AR.

The counter (an ``ARSetup`` column such as ``LastBatNbr``) is read under a row lock, the lock
holder re-reads it in a new statement (``connectors.erp.locks``), adds one keeping the zero-padded
width (``'027900'`` → ``'027901'``), skips numbers a ``Batch``/``ARDoc`` already uses (a number
keyed by hand in SL), and writes the counter back before the transaction commits.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from connectors.erp.dynamics_sl import codes
from connectors.erp.dynamics_sl.ar_schema import ARDoc, ARSetup
from connectors.erp.dynamics_sl.base import Batch, increment, pad, text
from connectors.erp.errors import ErpBusinessError
from connectors.erp.locks import lock_rows

MAX_SKIPS = 1000
COUNTERS = ("LastBatNbr", "LastRefNbr", "LastCrMemoNbr", "LastDrMemoNbr", "LastWORefNbr")


def lock_setup(conn: sa.Connection) -> sa.Row[tuple[object, ...]]:
    """Lock the ``ARSetup`` row, then re-read it in a new statement.

    Returns:
        The ``ARSetup`` row as committed by any writer that held the lock before us.

    Raises:
        ErpBusinessError: if AR is not set up.
    """
    where = ARSetup.c.SetupId == codes.SETUP_ID_AR
    conn.execute(lock_rows(sa.select(ARSetup.c.SetupId).where(where), ARSetup)).first()
    row = conn.execute(sa.select(ARSetup).where(where)).first()
    if row is None:
        raise ErpBusinessError("Dynamics SL AR is not set up (no ARSetup row 'AR')")
    return row


def next_number(
    conn: sa.Connection, counter: str, taken: Callable[[sa.Connection, str], bool]
) -> str:
    """Take the next number of an ``ARSetup`` counter under its row lock.

    Args:
        conn: a connection inside the caller's write transaction.
        counter: the ``ARSetup`` column, e.g. ``"LastBatNbr"``.
        taken: whether a number is already used (then the next one is tried).

    Returns:
        The number, zero-padded, without trailing blanks.

    Raises:
        ErpBusinessError: if AR is not set up or no free number is found.
    """
    if counter not in COUNTERS:
        raise ValueError(f"not an ARSetup number counter: {counter}")
    setup = lock_setup(conn)
    value = text(setup._mapping[counter])
    for _ in range(MAX_SKIPS):
        value = increment(value, f"ARSetup.{counter}")
        if not taken(conn, value):
            conn.execute(
                sa.update(ARSetup)
                .where(ARSetup.c.SetupId == codes.SETUP_ID_AR)
                .values({counter: pad(value, codes.REF_WIDTH)})
            )
            return value
    raise ErpBusinessError(f"no free number after ARSetup.{counter} {value!r}")


def batch_taken(conn: sa.Connection, number: str) -> bool:
    """Whether an AR ``Batch`` uses the number."""
    c = Batch.c
    found = conn.execute(
        sa.select(c.BatNbr).where(
            c.Module == codes.MODULE_AR, c.BatNbr == pad(number, codes.BAT_WIDTH)
        )
    ).first()
    return found is not None


def ref_taken(doc_types: tuple[str, ...]) -> Callable[[sa.Connection, str], bool]:
    """A ``taken`` check: an ``ARDoc`` of one of the types uses the reference number."""

    def taken(conn: sa.Connection, number: str) -> bool:
        c = ARDoc.c
        found = conn.execute(
            sa.select(c.RefNbr)
            .where(c.RefNbr == pad(number, codes.REF_WIDTH), c.DocType.in_(doc_types))
            .limit(1)
        ).first()
        return found is not None

    return taken


def next_batch(conn: sa.Connection) -> str:
    """The next AR batch number (``ARSetup.LastBatNbr``)."""
    return next_number(conn, "LastBatNbr", batch_taken)
