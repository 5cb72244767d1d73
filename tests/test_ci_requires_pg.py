"""Under CI=true a missing PostgreSQL fails the run; locally it skips."""

import pytest

from tests import dbs


def test_unreachable_postgres_fails_in_ci(monkeypatch):
    monkeypatch.setattr(dbs, "PG_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL is required in CI"):
        dbs.require_pg()


def test_unreachable_postgres_skips_locally(monkeypatch):
    monkeypatch.setattr(dbs, "PG_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL unreachable"):
        dbs.require_pg()
