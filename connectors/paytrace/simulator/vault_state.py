"""Vault state: customer profiles (masked card only) and recurring payments."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from decimal import Decimal

from connectors.paytrace.simulator import errors
from connectors.paytrace.simulator.db import SqliteFile, to_row

VAULT_SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    merchant TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    card_type TEXT NOT NULL,
    masked_number TEXT NOT NULL,
    expiration_month TEXT NOT NULL,
    expiration_year TEXT NOT NULL,
    billing_address TEXT NOT NULL,
    shipping_address TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT NOT NULL,
    fax TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    updated_at_us INTEGER NOT NULL,
    PRIMARY KEY (merchant, customer_id)
);
CREATE TABLE IF NOT EXISTS recurrences (
    recurrence_id INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    amount TEXT NOT NULL,
    start_date TEXT NOT NULL,
    frequency INTEGER NOT NULL,
    total_count INTEGER NOT NULL,
    description TEXT NOT NULL,
    created_at_us INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class CustomerRecord:
    """A vault customer; the card is kept masked (the simulator never needs the number again)."""

    merchant: str
    customer_id: str
    card_type: str
    masked_number: str
    expiration_month: str
    expiration_year: str
    billing_address: dict[str, str]
    shipping_address: dict[str, str]
    email: str
    phone: str
    fax: str
    created_at_us: int
    updated_at_us: int

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> CustomerRecord:
        """Build a record from a ``customers`` row."""
        data = {key: row[key] for key in row.keys()}
        data["billing_address"] = json.loads(data["billing_address"])
        data["shipping_address"] = json.loads(data["shipping_address"])
        return cls(**data)


@dataclass(frozen=True)
class RecurrenceRecord:
    """A recurring payment schedule on a vault customer."""

    merchant: str
    customer_id: str
    amount: Decimal
    start_date: str
    frequency: int
    total_count: int
    description: str
    created_at_us: int
    recurrence_id: int = 0


_CUSTOMER_COLUMNS = (
    "merchant",
    "customer_id",
    "card_type",
    "masked_number",
    "expiration_month",
    "expiration_year",
    "billing_address",
    "shipping_address",
    "email",
    "phone",
    "fax",
    "created_at_us",
    "updated_at_us",
)


def _customer_row(record: CustomerRecord) -> tuple[object, ...]:
    return to_row(record, _CUSTOMER_COLUMNS)


class VaultState:
    """Customers and recurrences in the simulator's SQLite file.

    Args:
        file: the shared SQLite file (tables are created by ``SimulatorState.create_schema``).
    """

    def __init__(self, file: SqliteFile) -> None:
        self.file = file

    def create_customer(self, record: CustomerRecord) -> CustomerRecord:
        """Store a new customer.

        Raises:
            ApiError: 171 when the merchant already has that customer id.
        """
        placeholders = ", ".join("?" for _ in _CUSTOMER_COLUMNS)
        with self.file.write() as conn:
            if _customer(conn, record.merchant, record.customer_id) is not None:
                raise errors.ApiError([errors.CUSTOMER_ID_NOT_UNIQUE])
            conn.execute(
                f"INSERT INTO customers ({', '.join(_CUSTOMER_COLUMNS)}) "  # noqa: S608
                f"VALUES ({placeholders})",
                _customer_row(record),
            )
        return record

    def get_customer(self, merchant: str, customer_id: str) -> CustomerRecord | None:
        """Return a merchant's customer, or None."""
        with self.file.read() as conn:
            return _customer(conn, merchant, customer_id)

    def replace_customer(self, old_id: str, record: CustomerRecord) -> CustomerRecord:
        """Replace a customer's stored fields, possibly under a new id (``new_id``).

        Raises:
            ApiError: 30 unknown customer, 171 the new id is taken.
        """
        with self.file.write() as conn:
            if _customer(conn, record.merchant, old_id) is None:
                raise errors.ApiError([errors.CUSTOMER_NOT_FOUND], customer_id=old_id)
            if record.customer_id != old_id and _customer(
                conn, record.merchant, record.customer_id
            ):
                raise errors.ApiError([errors.CUSTOMER_ID_NOT_UNIQUE])
            assignments = ", ".join(f"{name} = ?" for name in _CUSTOMER_COLUMNS)
            conn.execute(
                f"UPDATE customers SET {assignments} "  # noqa: S608
                "WHERE merchant = ? AND customer_id = ?",
                (*_customer_row(record), record.merchant, old_id),
            )
        return record

    def delete_customer(self, merchant: str, customer_id: str) -> None:
        """Delete a customer and its recurrences.

        Raises:
            ApiError: 30 unknown customer.
        """
        with self.file.write() as conn:
            deleted = conn.execute(
                "DELETE FROM customers WHERE merchant = ? AND customer_id = ?",
                (merchant, customer_id),
            ).rowcount
            if not deleted:
                raise errors.ApiError([errors.CUSTOMER_NOT_FOUND], customer_id=customer_id)
            conn.execute(
                "DELETE FROM recurrences WHERE merchant = ? AND customer_id = ?",
                (merchant, customer_id),
            )

    def customers(self, merchant: str, customer_id: str = "") -> list[CustomerRecord]:
        """List a merchant's customers by id, or the one with ``customer_id``."""
        with self.file.read() as conn:
            rows = conn.execute(
                "SELECT * FROM customers WHERE merchant = ? AND (? = '' OR customer_id = ?) "
                "ORDER BY customer_id",
                (merchant, customer_id, customer_id),
            ).fetchall()
        return [CustomerRecord.from_row(row) for row in rows]

    def create_recurrence(self, record: RecurrenceRecord) -> RecurrenceRecord:
        """Store a recurrence for an existing customer.

        Raises:
            ApiError: 30 unknown customer.
        """
        with self.file.write() as conn:
            if _customer(conn, record.merchant, record.customer_id) is None:
                raise errors.ApiError([errors.CUSTOMER_NOT_FOUND], customer_id=record.customer_id)
            cursor = conn.execute(
                "INSERT INTO recurrences (merchant, customer_id, amount, start_date, frequency, "
                "total_count, description, created_at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.merchant,
                    record.customer_id,
                    str(record.amount),
                    record.start_date,
                    record.frequency,
                    record.total_count,
                    record.description,
                    record.created_at_us,
                ),
            )
            assert cursor.lastrowid is not None
            return replace(record, recurrence_id=cursor.lastrowid)

    def delete_recurrence(self, merchant: str, recurrence_id: int) -> None:
        """Delete a recurrence.

        Raises:
            ApiError: 91 unknown recurrence.
        """
        with self.file.write() as conn:
            deleted = conn.execute(
                "DELETE FROM recurrences WHERE merchant = ? AND recurrence_id = ?",
                (merchant, recurrence_id),
            ).rowcount
        if not deleted:
            raise errors.ApiError([errors.RECURRENCE_NOT_FOUND])

    def recurrences(self, merchant: str, customer_id: str = "") -> list[RecurrenceRecord]:
        """List a merchant's recurrences, optionally of one customer."""
        with self.file.read() as conn:
            rows = conn.execute(
                "SELECT * FROM recurrences WHERE merchant = ? AND (? = '' OR customer_id = ?) "
                "ORDER BY recurrence_id",
                (merchant, customer_id, customer_id),
            ).fetchall()
        return [
            RecurrenceRecord(
                merchant=row["merchant"],
                customer_id=row["customer_id"],
                amount=Decimal(row["amount"]),
                start_date=row["start_date"],
                frequency=int(row["frequency"]),
                total_count=int(row["total_count"]),
                description=row["description"],
                created_at_us=int(row["created_at_us"]),
                recurrence_id=int(row["recurrence_id"]),
            )
            for row in rows
        ]


def _customer(conn: sqlite3.Connection, merchant: str, customer_id: str) -> CustomerRecord | None:
    row = conn.execute(
        "SELECT * FROM customers WHERE merchant = ? AND customer_id = ?", (merchant, customer_id)
    ).fetchone()
    return None if row is None else CustomerRecord.from_row(row)
