"""Dynamics SL GL side under concurrency and faults: racing writers, killed connections, deadlocks.

PostgreSQL only (row locks, backends to terminate, deadlock detection); the sqlite parameter of
``erp_url`` is skipped, as in tests/test_erp_sage500.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.erp.dynamics_sl import base
from connectors.erp.dynamics_sl.base import Batch, GLSetup, tptPaytraceXref
from connectors.erp.dynamics_sl.ledger import seed_ledger, write_journal
from connectors.erp.dynamics_sl.ledger_schema import GLTran, SOHeader, SOLine, SOType
from connectors.erp.errors import ErpUnavailableError
from connectors.erp.guard import erp_guard
from connectors.erp.locks import write_transaction
from connectors.erp.xref import xref_row
from domain.erp_documents import DocumentKind
from tests.erp_helpers import race, rows
from tests.test_erp_dynamics_sl_ledger import (
    CPNY,
    CTX,
    LABEL,
    NOW,
    TODAY,
    add_customer,
    add_receipt,
    deposit,
    fees,
    journal,
    order,
    sale,
    settled,
    snapshot,
)


@pytest.fixture
def engine(erp_url: str) -> Iterator[sa.Engine]:
    if not erp_url.startswith("postgresql"):
        pytest.skip("row locks, terminated backends and deadlocks exercised on PostgreSQL")
    eng = sa.create_engine(erp_url, pool_size=10)
    base.metadata.create_all(eng)
    with eng.begin() as conn:
        seed_ledger(conn, CPNY, TODAY)
    yield eng
    eng.dispose()


def test_racing_writers_of_one_journal_write_one_batch(engine: sa.Engine) -> None:
    results = race(8, lambda _: journal(engine, fees()))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sum(1 for r in results if r.created) == 1
    assert len({r.model_copy(update={"created": False}) for r in results}) == 1
    assert len(rows(engine, Batch)) == 1 and len(rows(engine, GLTran)) == 2
    assert len(rows(engine, tptPaytraceXref)) == 1
    assert rows(engine, GLSetup)[0]["LastBatNbr"].strip() == "000001"


def test_racing_writers_of_different_journals_get_distinct_batches(engine: sa.Engine) -> None:
    results = race(6, lambda i: journal(engine, fees(f"fees:batch:{i}")))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sorted(r.batch for r in results) == [f"{n:06d}" for n in range(1, 7)]
    assert len(rows(engine, GLTran)) == 12


def test_racing_deposits_and_orders_write_once(engine: sa.Engine) -> None:
    add_receipt(engine, 1001, "000123", "125.00")
    add_customer(engine, "C0001")
    deposits = race(5, lambda _: deposit(engine, settled("125.00", 1001)))
    orders = race(5, lambda _: order(engine, sale()))
    for results in (deposits, orders):
        assert [r for r in results if isinstance(r, Exception)] == []
        assert sum(1 for r in results if r.created) == 1
        assert len({r.model_copy(update={"created": False}) for r in results}) == 1
    assert len(rows(engine, SOHeader)) == 1 and len(rows(engine, SOLine)) == 2
    assert rows(engine, SOType)[0]["LastOrdNbr"].strip() == "000001"
    assert len(rows(engine, Batch)) == 1


def test_connection_killed_mid_transaction_leaves_no_orphans(engine: sa.Engine) -> None:
    before = snapshot(engine)
    admin = sa.create_engine(engine.url)
    try:
        with pytest.raises(ErpUnavailableError):
            with erp_guard(LABEL, "write_journal"), write_transaction(engine) as conn:
                doc = write_journal(conn, fees(), CTX)
                assert doc.created
                pid = conn.execute(sa.text("select pg_backend_pid()")).scalar_one()
                with admin.begin() as killer:
                    killer.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": pid})
                # leaving the block commits on a dead connection
    finally:
        admin.dispose()
    assert snapshot(engine) == before
    assert journal(engine, fees()).created  # the retry writes it, once


def test_deadlock_victim_is_retryable(engine: sa.Engine) -> None:
    """A writer that deadlocks with another transaction gets ErpUnavailableError, no rows."""
    other = engine.connect()
    holder = other.begin()
    # The other transaction holds the xref key the journal will insert, then wants GLSetup.
    # PostgreSQL checks for a deadlock once, deadlock_timeout after a wait starts: the journal
    # writer checks after 1 s (the cycle is closed by then), the other transaction never does.
    other.execute(sa.text("SET LOCAL deadlock_timeout = '30s'"))
    other.execute(
        sa.insert(tptPaytraceXref),
        [
            xref_row(
                kind=DocumentKind.JOURNAL,
                key="fees:batch:77",
                company_id=CPNY,
                doc_no="X",
                batch_id="X",
                amount=Decimal(1),
                now=NOW,
            )
        ],
    )
    outcome: list[Any] = []
    pid: list[int] = []

    def victim() -> None:
        try:
            with erp_guard(LABEL, "write_journal"), write_transaction(engine) as conn:
                conn.execute(sa.text("SET LOCAL deadlock_timeout = '1s'"))
                pid.append(conn.execute(sa.text("select pg_backend_pid()")).scalar_one())
                outcome.append(write_journal(conn, fees(), CTX))
        except Exception as exc:  # noqa: BLE001 - asserted below
            outcome.append(exc)

    thread = threading.Thread(target=victim)
    thread.start()
    deadline = time.monotonic() + 10
    waiting = False
    while time.monotonic() < deadline and not waiting:
        time.sleep(0.02)
        with engine.connect() as probe:
            waiting = bool(
                pid
                and probe.execute(
                    sa.text("select wait_event_type = 'Lock' from pg_stat_activity where pid = :p"),
                    {"p": pid[0]},
                ).scalar()
            )
    assert waiting, "the journal writer never waited for the xref key"
    other.execute(sa.select(GLSetup.c.SetupId).with_for_update())  # closes the cycle
    holder.rollback()
    other.close()
    thread.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], ErpUnavailableError), outcome
    assert "deadlock" in str(outcome[0]).lower()
    assert rows(engine, Batch) == [] and rows(engine, GLTran) == []
    assert rows(engine, tptPaytraceXref) == []
    assert rows(engine, GLSetup)[0]["LastBatNbr"].strip() == "000000"
