"""Turning database trouble into the ERP error taxonomy, the same way for every adapter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from connectors.erp.errors import ErpBusinessError, ErpUnavailableError

# Serialization failure, deadlock (PostgreSQL), link failures and timeouts (ODBC SQLSTATEs).
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "08S01", "08001", "08006", "HYT00", "HYT01"})
# SQL Server native errors: 1205 deadlock victim, 1222 lock request timeout, 10054 reset.
TRANSIENT_MSSQL_NUMBERS = ("(1205)", "(1222)", "(10054)")


def is_transient(exc: sa.exc.DBAPIError) -> bool:
    """A lost connection, a deadlock victim, a lock timeout: worth retrying.

    Args:
        exc: the error SQLAlchemy raised.

    Returns:
        True when a retry can succeed.
    """
    if exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError):
        return True
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or (
        orig.args[0] if orig is not None and orig.args and isinstance(orig.args[0], str) else None
    )
    text = str(orig).lower()
    return (
        sqlstate in TRANSIENT_SQLSTATES
        or "deadlock" in text
        or any(number in text for number in TRANSIENT_MSSQL_NUMBERS)
    )


@contextmanager
def erp_guard(erp_label: str, operation: str) -> Iterator[None]:
    """Raise the retryable ``ErpUnavailableError`` for connection trouble and deadlocks.

    A value the database cannot store (``DataError``) becomes the final ``ErpBusinessError``.
    Other database errors (a constraint, a bad statement) pass through unchanged: adapters read
    back on a constraint violation, and anything else is a bug that retrying cannot help.

    Args:
        erp_label: the ERP's display name, e.g. ``"Sage 500"``.
        operation: the connector operation, for the message.

    Yields:
        Nothing; wraps the block.

    Raises:
        ErpUnavailableError: for transient failures.
        ErpBusinessError: for a value the database refused to store.
    """
    try:
        yield
    except sa.exc.DBAPIError as exc:
        if is_transient(exc):
            raise ErpUnavailableError(
                f"{erp_label} database unavailable during {operation}: {exc.orig}"
            ) from exc
        if isinstance(exc, sa.exc.DataError):
            # A value the ERP's column cannot hold (too long, out of range): the adapters check
            # widths and amounts first, so this is a gap in those checks, and final either way.
            raise ErpBusinessError(
                f"{erp_label} refused a value during {operation}: {exc.orig}"
            ) from exc
        raise
    except sa.exc.TimeoutError as exc:
        raise ErpUnavailableError(
            f"no {erp_label} database connection for {operation}: {exc}"
        ) from exc
