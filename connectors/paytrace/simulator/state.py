"""SQLite-backed simulator state: access tokens and transactions, kept across restarts.

Every method opens its own short connection, so the object is safe to share between threads;
route handlers call it through :func:`asyncio.to_thread`. Only masked card data is ever written.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

FIRST_TRANSACTION_ID = 1_000_001
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS transactions (
    transaction_id INTEGER PRIMARY KEY AUTOINCREMENT,
    merchant TEXT NOT NULL,
    transaction_type TEXT NOT NULL,
    response_code INTEGER NOT NULL,
    status_message TEXT NOT NULL,
    approval_code TEXT NOT NULL,
    approval_message TEXT NOT NULL,
    avs_response TEXT NOT NULL,
    csc_response TEXT NOT NULL,
    amount TEXT NOT NULL,
    tax_amount TEXT NOT NULL,
    card_type TEXT NOT NULL,
    masked_number TEXT NOT NULL,
    expiration_month TEXT NOT NULL,
    expiration_year TEXT NOT NULL,
    invoice_id TEXT NOT NULL,
    customer_reference_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    description TEXT NOT NULL,
    email TEXT NOT NULL,
    billing_address TEXT NOT NULL,
    shipping_address TEXT NOT NULL,
    external_transaction_id TEXT NOT NULL,
    created_through TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_from_ip TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    settled_at_us INTEGER
);
CREATE INDEX IF NOT EXISTS ix_transactions_merchant_created
    ON transactions (merchant, created_at_us);
"""

_COLUMNS = (
    "merchant",
    "transaction_type",
    "response_code",
    "status_message",
    "approval_code",
    "approval_message",
    "avs_response",
    "csc_response",
    "amount",
    "tax_amount",
    "card_type",
    "masked_number",
    "expiration_month",
    "expiration_year",
    "invoice_id",
    "customer_reference_id",
    "customer_id",
    "description",
    "email",
    "billing_address",
    "shipping_address",
    "external_transaction_id",
    "created_through",
    "created_by",
    "created_from_ip",
    "created_at_us",
    "settled_at_us",
)
_COLUMN_LIST = ", ".join(_COLUMNS)
_PLACEHOLDERS = ", ".join("?" for _ in _COLUMNS)
# Built from the fixed _COLUMNS tuple only; every value is a bound parameter.
_INSERT = f"INSERT INTO transactions ({_COLUMN_LIST}) VALUES ({_PLACEHOLDERS})"  # noqa: S608


@dataclass(frozen=True)
class TransactionRecord:
    """One stored transaction. Card data is masked; the full number and CSC never get here."""

    merchant: str
    transaction_type: str
    response_code: int
    status_message: str
    approval_code: str
    approval_message: str
    avs_response: str
    csc_response: str
    amount: Decimal
    tax_amount: Decimal
    card_type: str
    masked_number: str
    expiration_month: str
    expiration_year: str
    invoice_id: str
    customer_reference_id: str
    customer_id: str
    description: str
    email: str
    billing_address: dict[str, str]
    shipping_address: dict[str, str]
    created_through: str
    created_by: str
    created_from_ip: str
    created_at_us: int
    external_transaction_id: str = ""
    settled_at_us: int | None = None
    transaction_id: int = field(default=0)

    def _row(self) -> tuple[object, ...]:
        values: list[object] = []
        for name in _COLUMNS:
            value = getattr(self, name)
            if isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, dict):
                value = json.dumps(value, sort_keys=True)
            values.append(value)
        return tuple(values)

    @classmethod
    def _from_row(cls, row: sqlite3.Row) -> TransactionRecord:
        data = {name: row[name] for name in _COLUMNS}
        data["amount"] = Decimal(row["amount"])
        data["tax_amount"] = Decimal(row["tax_amount"])
        data["billing_address"] = json.loads(row["billing_address"])
        data["shipping_address"] = json.loads(row["shipping_address"])
        return cls(transaction_id=row["transaction_id"], **data)


class SimulatorState:
    """Tokens and transactions in one SQLite file.

    Args:
        db_path: the SQLite file; its directory is created if missing.
        first_transaction_id: where a new file starts its transaction ids.
    """

    def __init__(self, db_path: str, first_transaction_id: int = FIRST_TRANSACTION_ID) -> None:
        self._path = db_path
        self._first_id = first_transaction_id

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self._path, timeout=30)
        conn.row_factory = sqlite3.Row
        try:
            with conn:
                yield conn
        finally:
            conn.close()

    def create_schema(self) -> None:
        """Create the tables if missing and seed transaction ids at the first transaction id."""
        Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(_SCHEMA)
            conn.execute(
                "INSERT INTO sqlite_sequence (name, seq) SELECT 'transactions', ? "
                "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'transactions')",
                (self._first_id - 1,),
            )
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # Tokens -------------------------------------------------------------------------------

    def save_token(self, token_hash: str, username: str, created_at: int, expires_at: int) -> None:
        """Store an issued token by its hash.

        Args:
            token_hash: sha256 hex of the token; the token itself is never stored.
            username: the API user it was issued to.
            created_at: Unix seconds.
            expires_at: Unix seconds.
        """
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO tokens (token_hash, username, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (token_hash, username, created_at, expires_at),
            )

    def token_owner(self, token_hash: str, now: int) -> str | None:
        """Return the API user a live token belongs to.

        Args:
            token_hash: sha256 hex of the presented token.
            now: Unix seconds.

        Returns:
            The API user, or None when the token is unknown or expired.
        """
        with self._connect() as conn:
            row = conn.execute(
                "SELECT username FROM tokens WHERE token_hash = ? AND expires_at > ?",
                (token_hash, now),
            ).fetchone()
        return None if row is None else str(row["username"])

    def expire_tokens(self, now: int) -> int:
        """Expire every live token.

        Args:
            now: Unix seconds; live tokens get this as their expiry.

        Returns:
            How many tokens were live.
        """
        with self._connect() as conn:
            cursor = conn.execute(
                "UPDATE tokens SET expires_at = ? WHERE expires_at > ?", (now, now)
            )
        return cursor.rowcount

    # Transactions -------------------------------------------------------------------------

    def add_transaction(self, record: TransactionRecord) -> TransactionRecord:
        """Store a transaction and give it the next transaction id.

        Args:
            record: the transaction; its ``transaction_id`` is ignored.

        Returns:
            The record with its new ``transaction_id``.
        """
        with self._connect() as conn:
            cursor = conn.execute(_INSERT, record._row())
            new_id = cursor.lastrowid
        assert new_id is not None
        return replace(record, transaction_id=new_id)

    def get_transaction(self, merchant: str, transaction_id: int) -> TransactionRecord | None:
        """Look up one of a merchant's transactions.

        Args:
            merchant: the API user.
            transaction_id: the id.

        Returns:
            The transaction, or None when the merchant has none with that id.
        """
        with self._connect() as conn:
            row = conn.execute(
                "SELECT * FROM transactions WHERE merchant = ? AND transaction_id = ?",
                (merchant, transaction_id),
            ).fetchone()
        return None if row is None else TransactionRecord._from_row(row)

    def transactions_between(
        self, merchant: str, start_us: int, end_us: int
    ) -> list[TransactionRecord]:
        """List a merchant's transactions created in ``[start_us, end_us)``, oldest id first.

        Args:
            merchant: the API user.
            start_us: inclusive lower bound, microseconds since the epoch (UTC).
            end_us: exclusive upper bound.

        Returns:
            The transactions.
        """
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM transactions WHERE merchant = ? AND created_at_us >= ? "
                "AND created_at_us < ? ORDER BY transaction_id",
                (merchant, start_us, end_us),
            ).fetchall()
        return [TransactionRecord._from_row(row) for row in rows]
