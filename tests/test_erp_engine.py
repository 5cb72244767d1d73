"""ERP database engines: SQL Server URLs, timeouts, lazy pyodbc, retryable connection failures."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.erp.engine import ErpEngineOptions, mssql_url, server_engine
from connectors.erp.errors import ErpBusinessError, ErpUnavailableError
from connectors.erp.guard import erp_guard, is_transient
from connectors.erp.protocol import PostingStrategy
from tests.dbs import PG_URL, require_pg
from workers.settings import Settings


def test_mssql_url_gets_the_configured_driver_and_tds_version() -> None:
    url = mssql_url("mssql+pyodbc://tp:secret@sql.example:1433/SOA", "FreeTDS")
    assert url.query == {"driver": "FreeTDS", "TDS_Version": "7.4"}
    kept = mssql_url("mssql+pyodbc://tp@sql/SOA?driver=ODBC+Driver+18+for+SQL+Server", "FreeTDS")
    assert kept.query == {"driver": "ODBC Driver 18 for SQL Server"}


def test_mssql_engine_is_configured_without_connecting() -> None:
    engine = server_engine(
        "mssql+pyodbc://tp:secret@127.0.0.1:1/SOA",
        ErpEngineOptions(odbc_driver="FreeTDS", isolation_level="SNAPSHOT"),
    )
    assert engine.dialect.name == "mssql"
    assert engine.dialect.driver == "pyodbc"
    assert str(engine.dialect._on_connect_isolation_level) == "SNAPSHOT"
    assert engine.url.query["driver"] == "FreeTDS"
    assert getattr(engine.dialect, "fast_executemany", False)
    assert "secret" not in repr(engine)


def test_unreachable_sql_server_is_retryable() -> None:
    """FreeTDS (installed by `make system-packages`) against a closed port: a retryable error."""
    engine = server_engine(
        "mssql+pyodbc://tp:secret@127.0.0.1:1/SOA",
        ErpEngineOptions(odbc_driver="FreeTDS", connect_timeout=2),
    )
    started = time.monotonic()
    with pytest.raises(ErpUnavailableError, match="unavailable during read") as caught:
        with erp_guard("Sage 500", "read"), engine.connect():
            pass
    assert time.monotonic() - started < 30
    assert caught.value.retryable
    assert "secret" not in str(caught.value)
    engine.dispose()


def test_postgres_engine_sets_lock_timeout_and_isolation() -> None:
    require_pg()
    engine = server_engine(
        PG_URL, ErpEngineOptions(lock_timeout=2.5, isolation_level="SERIALIZABLE")
    )
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SHOW lock_timeout")).scalar() == "2500ms"
            level = conn.execute(sa.text("SHOW transaction_isolation")).scalar()
            assert level == "serializable"
    finally:
        engine.dispose()


def test_lock_timeout_on_postgres_is_retryable() -> None:
    """A writer that waits longer than the lock timeout gets a retryable error, not a hang."""
    require_pg()
    engine = server_engine(PG_URL, ErpEngineOptions(lock_timeout=0.5))
    table = f"tp_lock_{time.monotonic_ns()}"
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE TABLE {table} (id int primary key)"))
            conn.execute(sa.text(f"INSERT INTO {table} VALUES (1)"))
        with engine.connect() as holder:
            holder.begin()
            holder.execute(sa.text(f"SELECT * FROM {table} FOR UPDATE"))
            with pytest.raises(ErpUnavailableError):
                with erp_guard("Dynamics SL", "write"), engine.begin() as waiter:
                    waiter.execute(sa.text(f"UPDATE {table} SET id = 2"))
            holder.rollback()
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()


def test_transient_classification_of_sql_server_errors() -> None:
    class Orig(Exception):
        pass

    deadlock = sa.exc.DBAPIError("UPDATE ...", {}, Orig("('40001', '[40001] ... (1205)')"))
    constraint = sa.exc.IntegrityError("INSERT ...", {}, Orig("('23000', 'duplicate key (2627)')"))
    assert is_transient(deadlock)
    assert not is_transient(constraint)


def company_mapping(tmp_path: Path, erp: str) -> str:
    """A mapping naming a company: a real ERP (mssql) is refused without one."""
    path = tmp_path / f"{erp}.toml"
    path.write_text(f'erp = "{erp}"\ncompany = "ACM"\n')
    return str(path)


def test_pyodbc_is_imported_only_for_sql_server_urls(tmp_path: Path) -> None:
    mapping = company_mapping(tmp_path, "sage500")
    script = (
        "import sys, sqlalchemy as sa\n"
        "from workers.composition import make_erp_engine\n"
        "from workers.settings import Settings\n"
        "engine = make_erp_engine(Settings(erp_url='sqlite:///:memory:'))\n"
        "engine.connect().close()\n"
        "assert 'pyodbc' not in sys.modules, 'pyodbc imported for SQLite'\n"
        "make_erp_engine(Settings(erp_url='mssql+pyodbc://u:p@h/db', erp_posting_strategy='manual',"
        f" mapping_file={mapping!r}))\n"
        "assert 'pyodbc' in sys.modules\n"
        "import os; os._exit(0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"erp_posting_strategy": "procedures"}, "needs TRACEPOST_ERP_URL=mssql"),
        (
            {"erp_url": "mssql+pyodbc://u:p@h/db", "erp_posting_strategy": "emulated"},
            "emulated is for the stand-in",
        ),
        ({"erp": "dynamics"}, "TRACEPOST_ERP must be one of sage500, dynamics_sl"),
        ({"erp_isolation_level": "dirty"}, "TRACEPOST_ERP_ISOLATION_LEVEL"),
    ],
)
def test_unsafe_erp_settings_are_refused(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(**settings)  # type: ignore[arg-type]


def test_sql_server_settings_are_accepted(tmp_path: Path) -> None:
    settings = Settings(
        erp="dynamics_sl",
        mapping_file=company_mapping(tmp_path, "dynamics_sl"),
        erp_url="mssql+pyodbc://tp:secret@sql/SLAPP",
        erp_posting_strategy=PostingStrategy.PROCEDURES,
        erp_odbc_driver="ODBC Driver 18 for SQL Server",
        erp_isolation_level="read committed",
    )
    assert settings.erp_engine_options.isolation_level == "READ COMMITTED"
    assert settings.erp_engine_options.odbc_driver == "ODBC Driver 18 for SQL Server"


def test_a_value_the_database_refuses_is_a_final_business_error() -> None:
    require_pg()
    engine = sa.create_engine(PG_URL)
    table = f"tp_width_{time.monotonic_ns()}"
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE TABLE {table} (code varchar(3))"))
        with pytest.raises(ErpBusinessError, match="refused a value during write") as caught:
            with erp_guard("Sage 500", "write"), engine.begin() as conn:
                conn.execute(sa.text(f"INSERT INTO {table} VALUES ('ABCD')"))
        assert not caught.value.retryable
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()
