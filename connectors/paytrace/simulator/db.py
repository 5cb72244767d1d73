"""One SQLite file shared by the simulator's state classes: short connections, atomic writes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from connectors.paytrace.simulator import errors


def to_row(record: object, columns: Sequence[str]) -> tuple[object, ...]:
    """A record's values for ``columns``: amounts as exact text, addresses as sorted JSON.

    Args:
        record: a state dataclass.
        columns: the attribute (and column) names, in order.

    Returns:
        The values to bind.
    """
    values: list[object] = []
    for name in columns:
        value = getattr(record, name)
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, dict):
            value = json.dumps(value, sort_keys=True)
        values.append(value)
    return tuple(values)


def refund_within(
    original: Decimal, refunded: Iterable[Decimal], wanted: Decimal | None
) -> Decimal:
    """Check a refund against what is left of the original: refunds never add up to more.

    Args:
        original: the amount of the sale (or check).
        refunded: the amounts already refunded.
        wanted: the amount asked, or None for everything left.

    Returns:
        The amount to refund.

    Raises:
        ApiError: 814 when nothing is left or more is asked than is left.
    """
    left = original - sum(refunded, Decimal("0.00"))
    amount = left if wanted is None else wanted
    if amount <= 0 or amount > left:
        raise errors.ApiError([errors.REFUND_AMOUNT_TOO_HIGH])
    return amount


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
