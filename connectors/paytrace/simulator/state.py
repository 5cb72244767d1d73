"""SQLite-backed simulator state: tokens, card transactions, batches; kept across restarts.

Every method opens its own short connection, so the object is safe to share between threads;
route handlers call it through :func:`asyncio.to_thread`. Check-then-write operations (capture,
void, refund, settle) run inside ``BEGIN IMMEDIATE`` so racing requests are serialized. Only
masked card data is ever written.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from connectors.paytrace.simulator import codes, errors
from connectors.paytrace.simulator.check_state import CHECK_SCHEMA, FIRST_CHECK_ID
from connectors.paytrace.simulator.db import SqliteFile, refund_within, to_row
from connectors.paytrace.simulator.vault_state import VAULT_SCHEMA

FIRST_TRANSACTION_ID = 1_000_001
SCHEMA_VERSION = 2

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
CREATE TABLE IF NOT EXISTS batches (
    merchant TEXT NOT NULL,
    batch_number INTEGER NOT NULL,
    settled_at_us INTEGER NOT NULL,
    PRIMARY KEY (merchant, batch_number)
);
CREATE TABLE IF NOT EXISTS level_three (
    transaction_id INTEGER NOT NULL,
    card_brand TEXT NOT NULL,
    payload TEXT NOT NULL,
    added_at_us INTEGER NOT NULL
);
"""

# Columns added by schema version 2 (void/refund/capture/batches); a version-1 file gains them.
_V2_COLUMNS = {
    "original_transaction_id": "INTEGER",
    "batch_number": "INTEGER",
    "ready_at_us": "INTEGER",
    "authorized_amount": "TEXT",
}

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
    *_V2_COLUMNS,
)
_COLUMN_LIST = ", ".join(_COLUMNS)
_PLACEHOLDERS = ", ".join("?" for _ in _COLUMNS)
# Built from the fixed _COLUMNS tuple only; every value is a bound parameter.
_INSERT = f"INSERT INTO transactions ({_COLUMN_LIST}) VALUES ({_PLACEHOLDERS})"  # noqa: S608
_SETTLEABLE = (
    "settled_at_us IS NULL AND transaction_type <> 'AUTHORIZATION' "
    f"AND response_code IN ({', '.join(str(c) for c in sorted(codes.SETTLEABLE_CODES))})"
)


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
    original_transaction_id: int | None = None
    batch_number: int | None = None
    ready_at_us: int | None = None
    authorized_amount: Decimal | None = None
    transaction_id: int = field(default=0)

    @property
    def settled(self) -> bool:
        """Whether the transaction is in a settled batch."""
        return self.settled_at_us is not None

    def _row(self) -> tuple[object, ...]:
        return to_row(self, _COLUMNS)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> TransactionRecord:
        """Build a record from a ``transactions`` row."""
        data = {name: row[name] for name in _COLUMNS}
        data["amount"] = Decimal(row["amount"])
        data["tax_amount"] = Decimal(row["tax_amount"])
        authorized = row["authorized_amount"]
        data["authorized_amount"] = None if authorized is None else Decimal(authorized)
        data["billing_address"] = json.loads(row["billing_address"])
        data["shipping_address"] = json.loads(row["shipping_address"])
        return cls(transaction_id=row["transaction_id"], **data)


@dataclass(frozen=True)
class BatchSummary:
    """A settled batch and its totals (refunds count against the net amount)."""

    batch_number: int
    settled_at_us: int
    transaction_count: int
    sales_count: int
    sales_amount: Decimal
    refund_count: int
    refund_amount: Decimal

    @property
    def net_amount(self) -> Decimal:
        """Sales minus refunds."""
        return self.sales_amount - self.refund_amount


class SimulatorState:
    """Tokens, transactions and batches in one SQLite file.

    Args:
        db_path: the SQLite file; its directory is created if missing.
        first_transaction_id: where a new file starts its transaction ids.
        first_check_id: where a new file starts its check (ACH) transaction ids.
        first_batch_number: the number of a merchant's first settlement batch.
    """

    def __init__(
        self,
        db_path: str,
        first_transaction_id: int = FIRST_TRANSACTION_ID,
        first_check_id: int = FIRST_CHECK_ID,
        first_batch_number: int = 1,
    ) -> None:
        self.file = SqliteFile(db_path)
        self._first_id = first_transaction_id
        self._first_check_id = first_check_id
        self._first_batch = first_batch_number

    def create_schema(self) -> None:
        """Create the tables if missing, upgrade a version-1 file, and seed transaction ids."""
        self.file.ensure_dir()
        with self.file.read() as conn:
            conn.executescript(_SCHEMA + VAULT_SCHEMA + CHECK_SCHEMA)
            present = {row["name"] for row in conn.execute("PRAGMA table_info(transactions)")}
            for name, sql_type in _V2_COLUMNS.items():
                if name not in present:
                    conn.execute(f"ALTER TABLE transactions ADD COLUMN {name} {sql_type}")
            check_columns = {row["name"] for row in conn.execute("PRAGMA table_info(checks)")}
            if "ready_at_us" not in check_columns:  # a checks table from before holds and funds
                conn.execute("ALTER TABLE checks ADD COLUMN ready_at_us INTEGER")
            for table in ("transactions", "checks"):
                conn.execute(
                    f"UPDATE {table} SET ready_at_us = created_at_us "  # noqa: S608
                    "WHERE ready_at_us IS NULL"
                )
            for table, first in (
                ("transactions", self._first_id),
                ("checks", self._first_check_id),
            ):
                conn.execute(
                    "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? "
                    "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?)",
                    (table, first - 1, table),
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
        with self.file.read() as conn:
            conn.execute(
                "INSERT INTO tokens (token_hash, username, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (token_hash, username, created_at, expires_at),
            )

    def token_owner(self, token_hash: str, now: int) -> str | None:
        """Return the API user a live token belongs to, or None when unknown or expired.

        Args:
            token_hash: sha256 hex of the presented token.
            now: Unix seconds.
        """
        with self.file.read() as conn:
            row = conn.execute(
                "SELECT username FROM tokens WHERE token_hash = ? AND expires_at > ?",
                (token_hash, now),
            ).fetchone()
        return None if row is None else str(row["username"])

    def expire_tokens(self, now: int) -> int:
        """Expire every live token and return how many were live.

        Args:
            now: Unix seconds; live tokens get this as their expiry.
        """
        with self.file.read() as conn:
            cursor = conn.execute(
                "UPDATE tokens SET expires_at = ? WHERE expires_at > ?", (now, now)
            )
        return cursor.rowcount

    # Transactions -------------------------------------------------------------------------

    def add_transaction(self, record: TransactionRecord) -> TransactionRecord:
        """Store a transaction and give it the next transaction id.

        Args:
            record: the transaction; its ``transaction_id`` is ignored and ``ready_at_us``
                defaults to its creation time.

        Returns:
            The record with its new ``transaction_id``.
        """
        if record.ready_at_us is None:
            record = replace(record, ready_at_us=record.created_at_us)
        with self.file.write() as conn:
            return _insert(conn, record)

    def get_transaction(self, merchant: str, transaction_id: int) -> TransactionRecord | None:
        """Look up one of a merchant's transactions; None when it has none with that id.

        Args:
            merchant: the API user.
            transaction_id: the id.
        """
        with self.file.read() as conn:
            return _get(conn, merchant, transaction_id)

    def transactions_between(
        self, merchant: str, start_us: int, end_us: int
    ) -> list[TransactionRecord]:
        """List a merchant's transactions created in ``[start_us, end_us)``, oldest id first.

        Args:
            merchant: the API user.
            start_us: inclusive lower bound, microseconds since the epoch (UTC).
            end_us: exclusive upper bound.
        """
        with self.file.read() as conn:
            rows = conn.execute(
                "SELECT * FROM transactions WHERE merchant = ? AND created_at_us >= ? "
                "AND created_at_us < ? ORDER BY transaction_id",
                (merchant, start_us, end_us),
            ).fetchall()
        return [TransactionRecord.from_row(row) for row in rows]

    def capture(
        self, merchant: str, transaction_id: int, amount: Decimal | None, now_us: int
    ) -> TransactionRecord:
        """Capture an approved, unsettled authorization, fully or for less.

        The authorization keeps its id and becomes a ``CAPTURE`` with code 112 for the captured
        amount; it joins the next batch.

        Raises:
            ApiError: 58 unknown id, 812 not a capturable authorization, 813 amount too high.
        """
        with self.file.write() as conn:
            record = _require(conn, merchant, transaction_id)
            capturable = (
                record.transaction_type == "AUTHORIZATION"
                and record.response_code == codes.APPROVED
                and not record.settled
            )
            if not capturable:
                raise errors.ApiError([errors.CAPTURE_NOT_ALLOWED])
            captured = record.amount if amount is None else amount
            if captured > record.amount:
                raise errors.ApiError([errors.CAPTURE_AMOUNT_TOO_HIGH])
            updated = replace(
                record,
                transaction_type="CAPTURE",
                response_code=codes.CAPTURED,
                status_message=codes.STATUS[codes.CAPTURED],
                amount=captured,
                authorized_amount=record.amount,
                ready_at_us=now_us,
            )
            _update(conn, updated)
            return updated

    def void(self, merchant: str, transaction_id: int) -> TransactionRecord:
        """Void an approved, unsettled sale, authorization, capture or refund.

        The transaction keeps its id and becomes a ``VOID`` with code 109; it never settles.

        Raises:
            ApiError: 58 unknown id, 816 settled, declined or already voided.
        """
        with self.file.write() as conn:
            record = _require(conn, merchant, transaction_id)
            voidable = (
                record.transaction_type in ("SALE", "AUTHORIZATION", "CAPTURE", "REFUND")
                and record.response_code in (codes.APPROVED, codes.CAPTURED, codes.REFUNDED)
                and not record.settled
            )
            if not voidable:
                raise errors.ApiError([errors.VOID_NOT_ALLOWED])
            updated = replace(
                record,
                transaction_type="VOID",
                response_code=codes.VOIDED,
                status_message=codes.STATUS[codes.VOIDED],
            )
            _update(conn, updated)
            return updated

    def refund_transaction(
        self,
        merchant: str,
        transaction_id: int,
        amount: Decimal | None,
        make_refund: Callable[[TransactionRecord, Decimal], TransactionRecord],
    ) -> TransactionRecord:
        """Refund a settled sale or capture, fully or in part; refunds never exceed the original.

        Args:
            merchant: the API user.
            transaction_id: the sale or capture to refund.
            amount: the amount, or None for everything not yet refunded.
            make_refund: builds the refund record from the original and the amount.

        Returns:
            The stored refund (a new transaction id).

        Raises:
            ApiError: 58 unknown id, 818 not refundable, 817 not settled yet, 814 too much.
        """
        with self.file.write() as conn:
            original = _require(conn, merchant, transaction_id)
            refundable = original.transaction_type in ("SALE", "CAPTURE", "FORCESALE") and (
                original.response_code in (codes.APPROVED, codes.CAPTURED)
            )
            if not refundable:
                raise errors.ApiError([errors.REFUND_NOT_ALLOWED])
            if not original.settled:
                raise errors.ApiError([errors.REFUND_NOT_SETTLED])
            rows = conn.execute(
                "SELECT amount FROM transactions WHERE merchant = ? AND "
                "original_transaction_id = ? AND transaction_type = 'REFUND' AND response_code = ?",
                (merchant, transaction_id, codes.REFUNDED),
            ).fetchall()
            wanted = refund_within(original.amount, (Decimal(r["amount"]) for r in rows), amount)
            return _insert(conn, make_refund(original, wanted))

    def add_level_three(
        self, merchant: str, transaction_id: int, brand: str, payload: str, now_us: int
    ) -> TransactionRecord:
        """Attach level 3 data to an approved, unsettled sale of the given card brand.

        Raises:
            ApiError: 58 unknown id, 815 not an approved unsettled sale of that brand.
        """
        with self.file.write() as conn:
            record = _require(conn, merchant, transaction_id)
            allowed = (
                record.transaction_type in ("SALE", "CAPTURE")
                and record.response_code in (codes.APPROVED, codes.CAPTURED)
                and not record.settled
                and record.card_type == brand
            )
            if not allowed:
                raise errors.ApiError([errors.LEVEL3_NOT_ALLOWED])
            conn.execute(
                "INSERT INTO level_three (transaction_id, card_brand, payload, added_at_us) "
                "VALUES (?, ?, ?, ?)",
                (transaction_id, brand, payload, now_us),
            )
            return record

    # Settlement ---------------------------------------------------------------------------

    def oldest_unsettled(self, merchant: str) -> int | None:
        """Return when the oldest transaction waiting for a batch became ready, if any."""
        with self.file.read() as conn:
            row = conn.execute(
                f"SELECT MIN(ready_at_us) AS oldest FROM transactions "  # noqa: S608
                f"WHERE merchant = ? AND {_SETTLEABLE}",
                (merchant,),
            ).fetchone()
        return None if row is None or row["oldest"] is None else int(row["oldest"])

    def settle(self, merchant: str, ready_before_us: int, settled_at_us: int) -> int | None:
        """Close a batch: settle every transaction that became ready before a moment.

        Args:
            merchant: the API user.
            ready_before_us: settle what became ready strictly before this moment.
            settled_at_us: the batch's settlement time.

        Returns:
            The new batch number, or None when nothing was waiting (no empty batches).
        """
        with self.file.write() as conn:
            waiting = conn.execute(
                f"SELECT COUNT(*) AS n FROM transactions WHERE merchant = ? "  # noqa: S608
                f"AND ready_at_us < ? AND {_SETTLEABLE}",
                (merchant, ready_before_us),
            ).fetchone()["n"]
            if not waiting:
                return None
            last = conn.execute(
                "SELECT COALESCE(MAX(batch_number), ?) AS n FROM batches WHERE merchant = ?",
                (self._first_batch - 1, merchant),
            ).fetchone()["n"]
            number = int(last) + 1
            conn.execute(
                "INSERT INTO batches (merchant, batch_number, settled_at_us) VALUES (?, ?, ?)",
                (merchant, number, settled_at_us),
            )
            conn.execute(
                f"UPDATE transactions SET settled_at_us = ?, batch_number = ? "  # noqa: S608
                f"WHERE merchant = ? AND ready_at_us < ? AND {_SETTLEABLE}",
                (settled_at_us, number, merchant, ready_before_us),
            )
            return number

    def batch(self, merchant: str, batch_number: int | None) -> BatchSummary | None:
        """Summarize one settled batch, or the latest when ``batch_number`` is None."""
        with self.file.read() as conn:
            if batch_number is None:
                row = conn.execute(
                    "SELECT * FROM batches WHERE merchant = ? ORDER BY batch_number DESC LIMIT 1",
                    (merchant,),
                ).fetchone()
            else:
                row = conn.execute(
                    "SELECT * FROM batches WHERE merchant = ? AND batch_number = ?",
                    (merchant, batch_number),
                ).fetchone()
            return None if row is None else _summary(conn, merchant, row)

    def batches_between(self, merchant: str, start_us: int, end_us: int) -> list[BatchSummary]:
        """Summarize the batches settled in ``[start_us, end_us)``, oldest first."""
        with self.file.read() as conn:
            rows = conn.execute(
                "SELECT * FROM batches WHERE merchant = ? AND settled_at_us >= ? "
                "AND settled_at_us < ? ORDER BY batch_number",
                (merchant, start_us, end_us),
            ).fetchall()
            return [_summary(conn, merchant, row) for row in rows]

    def batch_transactions(self, merchant: str, batch_number: int) -> list[TransactionRecord]:
        """List the transactions settled in one batch, by id."""
        with self.file.read() as conn:
            rows = conn.execute(
                "SELECT * FROM transactions WHERE merchant = ? AND batch_number = ? "
                "ORDER BY transaction_id",
                (merchant, batch_number),
            ).fetchall()
        return [TransactionRecord.from_row(row) for row in rows]


def _insert(conn: sqlite3.Connection, record: TransactionRecord) -> TransactionRecord:
    cursor = conn.execute(_INSERT, record._row())
    assert cursor.lastrowid is not None
    return replace(record, transaction_id=cursor.lastrowid)


def _update(conn: sqlite3.Connection, record: TransactionRecord) -> None:
    assignments = ", ".join(f"{name} = ?" for name in _COLUMNS)
    conn.execute(
        f"UPDATE transactions SET {assignments} WHERE transaction_id = ?",  # noqa: S608
        (*record._row(), record.transaction_id),
    )


def _get(conn: sqlite3.Connection, merchant: str, transaction_id: int) -> TransactionRecord | None:
    row = conn.execute(
        "SELECT * FROM transactions WHERE merchant = ? AND transaction_id = ?",
        (merchant, transaction_id),
    ).fetchone()
    return None if row is None else TransactionRecord.from_row(row)


def _require(conn: sqlite3.Connection, merchant: str, transaction_id: int) -> TransactionRecord:
    record = _get(conn, merchant, transaction_id)
    if record is None:
        raise errors.ApiError([errors.INVALID_TRANSACTION_ID])
    return record


def _summary(conn: sqlite3.Connection, merchant: str, batch: sqlite3.Row) -> BatchSummary:
    rows = conn.execute(
        "SELECT transaction_type, amount FROM transactions WHERE merchant = ? AND batch_number = ?",
        (merchant, batch["batch_number"]),
    ).fetchall()
    sales = [Decimal(r["amount"]) for r in rows if r["transaction_type"] != "REFUND"]
    refunds = [Decimal(r["amount"]) for r in rows if r["transaction_type"] == "REFUND"]
    return BatchSummary(
        batch_number=int(batch["batch_number"]),
        settled_at_us=int(batch["settled_at_us"]),
        transaction_count=len(rows),
        sales_count=len(sales),
        sales_amount=sum(sales, Decimal("0.00")),
        refund_count=len(refunds),
        refund_amount=sum(refunds, Decimal("0.00")),
    )
