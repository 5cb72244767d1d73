"""Row locks that mean the same on every database the connector meets."""

from __future__ import annotations

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
