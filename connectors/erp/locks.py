"""Row locks that mean the same on every database the connector meets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

UPDLOCK = "WITH (UPDLOCK, ROWLOCK)"


def lock_rows(select: sa.Select[Any], table: sa.Table) -> sa.Select[Any]:
    """Make a SELECT take update locks: ``FOR UPDATE`` on PostgreSQL, UPDLOCK on SQL Server.

    SQLite ignores both; its write transaction serializes writers.

    Args:
        select: the statement.
        table: the table whose rows are locked.

    Returns:
        The locking statement.
    """
    return select.with_for_update(of=table).with_hint(table, UPDLOCK, dialect_name="mssql")


@contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction whose locks protect what it reads, on every database.

    Server databases run it at READ COMMITTED, whatever the engine's default: after a row lock
    is granted, a new statement must see what the lock holder committed (under REPEATABLE READ or
    SNAPSHOT it would read its first snapshot and could over-apply an invoice). SQLite takes its
    write lock up front (``begin_write``).

    Args:
        engine: the ERP engine.

    Yields:
        The connection, inside the transaction; it commits when the block ends without error.
    """
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            conn.execution_options(isolation_level="READ COMMITTED")
        with conn.begin():
            begin_write(conn)
            yield conn


def begin_write(conn: sa.Connection) -> None:
    """Start a write transaction that serializes with other writers from its first read.

    On SQLite the driver begins a transaction only at the first write, so reads made before it
    (read-back, invoice balances) would not be protected; ``BEGIN IMMEDIATE`` takes the database's
    write lock now. Server databases lock rows instead (``lock_rows``); nothing to do there.

    Args:
        conn: a connection inside ``engine.begin()``, before any statement ran.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
