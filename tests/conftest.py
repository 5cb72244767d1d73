"""Shared fixtures."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from connectors.erp.standin import ERP_NAMES
from tests.dbs import db_url
from tests.temporal_envs import start_dev_server, start_time_skipping


@pytest.fixture(params=ERP_NAMES)
def erp_name(request: pytest.FixtureRequest) -> str:
    """Each ERP stand-in in turn (Sage 500, Dynamics SL)."""
    return str(request.param)


@pytest.fixture(params=["sqlite", "postgresql"])
def erp_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ERP database URL, once on SQLite and once on PostgreSQL."""
    with db_url(request.param, tmp_path, "erp") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store database URL, once on SQLite and once on PostgreSQL."""
    with db_url(request.param, tmp_path, "store") as url:
        yield url


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """One real Temporal dev server for the whole session."""
    env = await start_dev_server()
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """One time-skipping test server for the whole session."""
    env = await start_time_skipping()
    yield env
    await env.shutdown()


_exit_status: dict[str, int] = {}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status["code"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave with pytest's own status before interpreter teardown.

    The Temporal SDK's native threads can crash at interpreter exit (sdk-python#300); a run whose
    tests passed must not fail because of it.
    """
    if "code" in _exit_status:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status["code"])
