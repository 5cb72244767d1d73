"""Shared fixtures."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from connectors.erp.standin import ERP_NAMES
from tests.chaos_run import ChaosRun, start_chaos_run
from tests.dbs import db_url, pg_available
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
    chaos: list[pytest.Item] = []
    for item in items:
        if item.get_closest_marker("chaos"):
            chaos.append(item)  # last: it waits for the run started when collection ends
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
    items[:] = kept + chaos


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the short chaos run in the background when its test is among those to run.

    It mostly waits for activity timeouts after killing workers, so it overlaps the rest of the
    suite; tests/test_chaos.py (run last) waits for it. Not under ``--collect-only``.
    """
    if session.config.option.collectonly:
        return
    if any(item.get_closest_marker("chaos") for item in session.items) and pg_available() is None:
        session.config.stash[ChaosRun.KEY] = start_chaos_run()


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
    """Stop a chaos run still going (its test was not reached); keep the exit status."""
    run = session.config.stash.get(ChaosRun.KEY, None)
    if run is not None:
        run.stop()
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
