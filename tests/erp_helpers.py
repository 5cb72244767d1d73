"""Helpers the ERP tests share: racing threads, reading a table's rows, capturing statements."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa


def race(workers: int, call: Callable[[int], Any]) -> list[Any]:
    """Run ``call(i)`` on ``workers`` threads released at once.

    Args:
        workers: how many threads.
        call: the work; gets the thread's index.

    Returns:
        Each thread's result or the exception it raised, in finishing order.
    """
    barrier = threading.Barrier(workers)
    results: list[Any] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcome: Any = call(index)
        except Exception as exc:  # noqa: BLE001 - collected for the caller's assertions
            outcome = exc
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == workers, "a racing thread did not finish within 60 s"
    return results


def rows(engine: sa.Engine, table: sa.Table, *where: Any) -> list[dict[str, Any]]:
    """Every row of a table (optionally filtered) as plain dicts."""
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table).where(*where))]


@contextmanager
def captured(engine: sa.Engine) -> Iterator[list[Any]]:
    """Collect every Core statement executed on the engine (to compile them for SQL Server)."""
    statements: list[Any] = []

    def before_execute(conn: Any, clauseelement: Any, *args: Any) -> None:
        statements.append(clauseelement)

    sa.event.listen(engine, "before_execute", before_execute)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_execute", before_execute)
