"""ACH (check) state: check transactions with the account number masked, and ACH returns."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from connectors.paytrace.simulator import codes, errors
from connectors.paytrace.simulator.db import SqliteFile, refund_within, to_row

FIRST_CHECK_ID = 5_000_001  # where a new file starts its check ids (SimulatorState seeds it)

CHECK_SCHEMA = """
CREATE TABLE IF NOT EXISTS checks (
    check_transaction_id INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant TEXT NOT NULL,
    check_type TEXT NOT NULL,
    response_code INTEGER NOT NULL,
    status_message TEXT NOT NULL,
    ach_code INTEGER NOT NULL,
    ach_message TEXT NOT NULL,
    amount TEXT NOT NULL,
    masked_account TEXT NOT NULL,
    routing_number TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    invoice_id TEXT NOT NULL,
    description TEXT NOT NULL,
    email TEXT NOT NULL,
    billing_address TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    settled_at_us INTEGER,
    original_check_id INTEGER,
    returned_at_us INTEGER,
    ready_at_us INTEGER
);
"""

_COLUMNS = (
    "merchant",
    "check_type",
    "response_code",
    "status_message",
    "ach_code",
    "ach_message",
    "amount",
    "masked_account",
    "routing_number",
    "customer_id",
    "invoice_id",
    "description",
    "email",
    "billing_address",
    "created_at_us",
    "settled_at_us",
    "original_check_id",
    "returned_at_us",
    "ready_at_us",
)
_SETTLEABLE = (
    "settled_at_us IS NULL AND check_type <> 'HOLD' "
    f"AND response_code IN ({codes.CHECK_PROCESSED}, {codes.CHECK_REFUNDED})"
)


@dataclass(frozen=True)
class CheckRecord:
    """One ACH transaction. The account number is masked to its last four digits."""

    merchant: str
    check_type: str
    response_code: int
    status_message: str
    ach_code: int
    ach_message: str
    amount: Decimal
    masked_account: str
    routing_number: str
    customer_id: str
    invoice_id: str
    description: str
    email: str
    billing_address: dict[str, str]
    created_at_us: int
    settled_at_us: int | None = None
    original_check_id: int | None = None
    returned_at_us: int | None = None
    ready_at_us: int | None = None
    check_transaction_id: int = 0

    def _row(self) -> tuple[object, ...]:
        return to_row(self, _COLUMNS)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> CheckRecord:
        """Build a record from a ``checks`` row."""
        data = {name: row[name] for name in _COLUMNS}
        data["amount"] = Decimal(row["amount"])
        data["billing_address"] = json.loads(row["billing_address"])
        return cls(check_transaction_id=row["check_transaction_id"], **data)


class CheckState:
    """Check transactions in the simulator's SQLite file.

    Args:
        file: the shared SQLite file (tables are created by ``SimulatorState.create_schema``).
    """

    def __init__(self, file: SqliteFile) -> None:
        self.file = file

    def add(self, record: CheckRecord) -> CheckRecord:
        """Store a check transaction under the next check id; it settles from its creation."""
        if record.ready_at_us is None:
            record = replace(record, ready_at_us=record.created_at_us)
        with self.file.write() as conn:
            return _insert(conn, record)

    def get(self, merchant: str, check_id: int) -> CheckRecord | None:
        """Return one of a merchant's checks, or None."""
        with self.file.read() as conn:
            return _get(conn, merchant, check_id)

    def void(self, merchant: str, check_id: int) -> CheckRecord:
        """Void an unsettled, processed check sale or refund (code 124, type ``VOID``).

        Raises:
            ApiError: 80 unknown, settled or already voided.
        """
        with self.file.write() as conn:
            record = _get(conn, merchant, check_id)
            voidable = (
                record is not None
                and record.settled_at_us is None
                and record.response_code in (codes.CHECK_PROCESSED, codes.CHECK_REFUNDED)
            )
            if not voidable:
                raise errors.ApiError([errors.CHECK_NOT_FOUND])
            assert record is not None
            updated = replace(
                record,
                check_type="VOID",
                response_code=codes.CHECK_MANAGED,
                status_message=codes.STATUS[codes.CHECK_MANAGED],
            )
            _update(conn, updated)
            return updated

    def fund(
        self, merchant: str, check_id: int, amount: Decimal | None, now_us: int
    ) -> CheckRecord:
        """Fund a held check, fully or for less: it becomes a sale that settles.

        Raises:
            ApiError: 80 unknown or not a held check, 814 more than was held.
        """
        with self.file.write() as conn:
            record = _get(conn, merchant, check_id)
            if (
                record is None
                or record.check_type != "HOLD"
                or record.response_code != codes.CHECK_PROCESSED
                or record.settled_at_us is not None
            ):
                raise errors.ApiError([errors.CHECK_NOT_FOUND])
            funded = record.amount if amount is None else amount
            if funded > record.amount:
                raise errors.ApiError([errors.REFUND_AMOUNT_TOO_HIGH])
            updated = replace(record, check_type="SALE", amount=funded, ready_at_us=now_us)
            _update(conn, updated)
            return updated

    def refund(
        self,
        merchant: str,
        check_id: int,
        amount: Decimal | None,
        make_refund: Callable[[CheckRecord, Decimal], CheckRecord],
    ) -> CheckRecord:
        """Refund a settled check sale, at most what is left of it.

        Raises:
            ApiError: 80 unknown or not a settled sale, 817 not settled, 814 too much.
        """
        with self.file.write() as conn:
            original = _get(conn, merchant, check_id)
            if (
                original is None
                or original.check_type != "SALE"
                or original.response_code != codes.CHECK_PROCESSED
                or original.returned_at_us is not None
            ):
                raise errors.ApiError([errors.CHECK_NOT_FOUND])
            if original.settled_at_us is None:
                raise errors.ApiError([errors.REFUND_NOT_SETTLED])
            rows = conn.execute(
                "SELECT amount FROM checks WHERE merchant = ? AND original_check_id = ? "
                "AND check_type = 'REFUND' AND response_code = ?",
                (merchant, check_id, codes.CHECK_REFUNDED),
            ).fetchall()
            wanted = refund_within(original.amount, (Decimal(r["amount"]) for r in rows), amount)
            return _insert(conn, make_refund(original, wanted))

    def mark_returned(
        self, merchant: str, check_id: int, ach_code: int, message: str, at: int
    ) -> CheckRecord:
        """Record an ACH return (the bank sent the debit back): code 125 with the return reason.

        Raises:
            ApiError: 80 unknown check or not a processed sale.
        """
        with self.file.write() as conn:
            record = _get(conn, merchant, check_id)
            if record is None or record.check_type != "SALE" or record.returned_at_us is not None:
                raise errors.ApiError([errors.CHECK_NOT_FOUND])
            updated = replace(
                record,
                response_code=codes.CHECK_DECLINED,
                status_message=codes.STATUS[codes.CHECK_DECLINED],
                ach_code=ach_code,
                ach_message=message,
                returned_at_us=at,
            )
            _update(conn, updated)
            return updated

    def between(self, merchant: str, start_us: int, end_us: int) -> list[CheckRecord]:
        """List a merchant's checks created in ``[start_us, end_us)``, by id."""
        with self.file.read() as conn:
            rows = conn.execute(
                "SELECT * FROM checks WHERE merchant = ? AND created_at_us >= ? "
                "AND created_at_us < ? ORDER BY check_transaction_id",
                (merchant, start_us, end_us),
            ).fetchall()
        return [CheckRecord.from_row(row) for row in rows]

    def settle(self, merchant: str, ready_before_us: int, settled_at_us: int) -> int:
        """Settle the processed checks that became ready before a moment; return how many."""
        with self.file.write() as conn:
            return conn.execute(
                f"UPDATE checks SET settled_at_us = ? WHERE merchant = ? "  # noqa: S608
                f"AND ready_at_us < ? AND {_SETTLEABLE}",
                (settled_at_us, merchant, ready_before_us),
            ).rowcount

    def oldest_unsettled(self, merchant: str) -> int | None:
        """Return when the oldest check waiting to settle became ready, if any."""
        with self.file.read() as conn:
            row = conn.execute(
                f"SELECT MIN(ready_at_us) AS oldest FROM checks "  # noqa: S608
                f"WHERE merchant = ? AND {_SETTLEABLE}",
                (merchant,),
            ).fetchone()
        return None if row is None or row["oldest"] is None else int(row["oldest"])


def _insert(conn: sqlite3.Connection, record: CheckRecord) -> CheckRecord:
    placeholders = ", ".join("?" for _ in _COLUMNS)
    cursor = conn.execute(
        f"INSERT INTO checks ({', '.join(_COLUMNS)}) VALUES ({placeholders})",  # noqa: S608
        record._row(),
    )
    assert cursor.lastrowid is not None
    return replace(record, check_transaction_id=cursor.lastrowid)


def _update(conn: sqlite3.Connection, record: CheckRecord) -> None:
    assignments = ", ".join(f"{name} = ?" for name in _COLUMNS)
    conn.execute(
        f"UPDATE checks SET {assignments} WHERE check_transaction_id = ?",  # noqa: S608
        (*record._row(), record.check_transaction_id),
    )


def _get(conn: sqlite3.Connection, merchant: str, check_id: int) -> CheckRecord | None:
    row = conn.execute(
        "SELECT * FROM checks WHERE merchant = ? AND check_transaction_id = ?", (merchant, check_id)
    ).fetchone()
    return None if row is None else CheckRecord.from_row(row)
