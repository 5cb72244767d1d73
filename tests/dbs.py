"""Database URLs for tests: every ERP and store test runs on SQLite and on PostgreSQL.

PostgreSQL is the machine's server at 127.0.0.1:5432 (trust auth, database ``test``), overridable with
``TRACEPOST_TEST_PG_URL``. Each test gets a fresh schema, dropped afterwards. With ``CI=true`` an
unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

PG_URL = os.environ.get(
    "TRACEPOST_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def pg_available() -> str | None:
    """Return None when PostgreSQL answers, else the reason it does not."""
    engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"{type(exc).__name__}: {exc}"
    finally:
        engine.dispose()


def require_pg() -> None:
    """Skip the test without PostgreSQL, or fail under CI."""
    reason = pg_available()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required in CI and is unreachable at {PG_URL}: {reason}")
    pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {reason}")


@contextmanager
def pg_schema_url() -> Iterator[str]:
    """Create a throwaway schema and yield a URL whose search_path points at it."""
    require_pg()
    with throwaway_schema(PG_URL) as url:
        yield url


@contextmanager
def throwaway_schema(server_url: str, prefix: str = "tp") -> Iterator[str]:
    """A new PostgreSQL schema, dropped afterwards; yields a URL whose search_path is it.

    Args:
        server_url: the database's URL.
        prefix: the start of the schema's name.
    """
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in server_url else "?"
    try:
        yield f"{server_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def db_url(kind: str, tmp_path: object, name: str) -> Iterator[str]:
    """Yield a fresh database URL of the given kind (``sqlite`` or ``postgresql``)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path}/{name}.db"
    elif kind == "postgresql":
        with pg_schema_url() as url:
            yield url
    else:  # pragma: no cover - programming error
        raise ValueError(kind)
