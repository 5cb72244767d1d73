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

ERP_DIAGONAL = {("sage500", "postgresql"), ("dynamics_sl", "sqlite")}
"""Workflow scenario modules marked ``erp_diagonal`` run each ERP once and each database once."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the off-diagonal ERP x database cases of ``erp_diagonal`` modules.

    The ERP adapters' own tests run every ERP on both databases; a workflow's scenarios exercise
    the workflow, so the scenario modules (tests/test_scenarios_*.py, the posting integration and
    PayTrace-fault modules, and the time-skipping modules of the long-running processes) keep Sage 500 on PostgreSQL and
    Dynamics SL on SQLite (a test without ``erp_name`` runs Sage 500: on PostgreSQL).
    """
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    run_chaos = os.environ.get("TRACEPOST_CHAOS") == "1"
    for item in items:
        if item.get_closest_marker("chaos") and not run_chaos:
            dropped.append(item)  # bench/chaos.py's short run: TRACEPOST_CHAOS=1 selects it
            continue
        callspec = getattr(item, "callspec", None)
        if item.get_closest_marker("erp_diagonal") and callspec is not None:
            params = callspec.params
            database = params.get("erp_url")
            if database is not None and (params.get("erp_name", "sage500"), database) not in (
                ERP_DIAGONAL
            ):
                dropped.append(item)
                continue
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


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


@pytest.fixture
async def own_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of a test's own: skipping days or months there wakes no other
    test's workflows (the session's ``skipping_env`` is shared)."""
    env = await start_time_skipping()
    yield env
    await env.shutdown()
