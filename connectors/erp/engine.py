"""Engines for ERP databases: SQL Server in production, SQLite/PostgreSQL for the stand-ins.

``mssql+pyodbc://`` URLs use the FreeTDS or Microsoft ODBC driver. SQLAlchemy imports pyodbc only
when such a URL is used, so nothing here needs unixODBC on a machine that runs the stand-ins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

ISOLATION_LEVELS = ("READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE", "SNAPSHOT")


@dataclass(frozen=True)
class ErpEngineOptions:
    """Connection settings of the ERP database.

    Attributes:
        isolation_level: default isolation of connections; writes always run at READ COMMITTED
            (``connectors.erp.locks.write_transaction``), this governs reads.
        connect_timeout: seconds to wait for a connection (login timeout on SQL Server).
        lock_timeout: seconds a statement waits for a row lock before failing (retryably).
        odbc_driver: ODBC driver name added to a ``mssql+pyodbc`` URL that names none, e.g.
            ``FreeTDS`` or ``ODBC Driver 18 for SQL Server``.
        pool_size: connections kept open per process.
    """

    isolation_level: str = "READ COMMITTED"
    connect_timeout: float = 15.0
    lock_timeout: float = 30.0
    odbc_driver: str = ""
    pool_size: int = 5

    def __post_init__(self) -> None:
        """Refuse an isolation level the ERP drivers do not know."""
        if self.isolation_level not in ISOLATION_LEVELS:
            raise ValueError(
                f"ERP isolation level must be one of {', '.join(ISOLATION_LEVELS)},"
                f" not {self.isolation_level!r}"
            )


def mssql_url(url: str, odbc_driver: str) -> sa.URL:
    """A SQL Server URL with the ODBC driver and the options tracepost relies on.

    Args:
        url: ``mssql+pyodbc://user:pass@host:1433/db`` (or with ``?driver=...``).
        odbc_driver: driver to add when the URL names none.

    Returns:
        The URL.
    """
    parsed = sa.engine.make_url(url)
    query = dict(parsed.query)
    if "driver" not in query and "odbc_connect" not in query and odbc_driver:
        query["driver"] = odbc_driver
    if query.get("driver") == "FreeTDS":
        # TDS 7.4 is SQL Server 2012 and later; older protocol versions lose decimal precision.
        query.setdefault("TDS_Version", "7.4")
    return parsed.set(query=query)


def _set_lock_timeout(engine: sa.Engine, dialect: str, lock_timeout: float) -> None:
    """Make every new connection wait at most ``lock_timeout`` seconds for a row lock."""
    millis = int(lock_timeout * 1000)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        if dialect == "mssql":
            cursor.execute(f"SET LOCK_TIMEOUT {millis}")
        else:
            cursor.execute(f"SET lock_timeout = {millis}")
        cursor.close()
        if dialect == "postgresql":
            dbapi_conn.commit()


def server_engine(url: str, options: ErpEngineOptions) -> sa.Engine:
    """An engine for a server database (SQL Server or PostgreSQL) holding an ERP.

    Args:
        url: the SQLAlchemy URL.
        options: connection settings.

    Returns:
        The engine; pre-ping replaces connections the server dropped.
    """
    parsed = sa.engine.make_url(url)
    kwargs: dict[str, Any] = {
        "pool_pre_ping": True,
        "pool_size": options.pool_size,
        "isolation_level": options.isolation_level,
    }
    dialect = parsed.get_backend_name()
    if dialect == "mssql":
        kwargs["connect_args"] = {"timeout": int(options.connect_timeout)}
        kwargs["fast_executemany"] = True
        engine = sa.create_engine(mssql_url(url, options.odbc_driver), **kwargs)
    elif dialect == "postgresql":
        if options.isolation_level == "SNAPSHOT":
            raise ValueError("SNAPSHOT isolation exists on SQL Server only")
        kwargs["connect_args"] = {"connect_timeout": max(1, int(options.connect_timeout))}
        engine = sa.create_engine(parsed, **kwargs)
    else:
        return sa.create_engine(parsed, pool_pre_ping=True)
    _set_lock_timeout(engine, dialect, options.lock_timeout)
    return engine
