"""One SQLite file shared by the simulator's state classes: short connections, atomic writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class SqliteFile:
    """Opens short-lived connections to one SQLite file; safe to share between threads.

    Args:
        path: the SQLite file; its directory is created by :meth:`ensure_dir`.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def ensure_dir(self) -> None:
        """Create the file's directory if missing."""
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Yield a connection for reads (and single-statement writes), committed on success."""
        conn = sqlite3.connect(self.path, timeout=30)
        conn.row_factory = sqlite3.Row
        try:
            with conn:
                yield conn
        finally:
            conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """Yield a connection inside ``BEGIN IMMEDIATE``: check-then-write sequences are atomic.

        Two requests racing to refund or void the same transaction are serialized here, so the
        second sees what the first wrote.
        """
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()
