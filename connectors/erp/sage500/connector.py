"""``Sage500Connector``: tracepost's reads and writes against a Sage 500 ERP database.

Writes follow the Enter Cash Receipts screen: a balanced cash receipt batch (type 503) with one
pending receipt and its pending applications, plus tracepost's cross-reference row, all in one
transaction. A posting strategy then finishes the batch (see ``docs/erp/sage500.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from connectors.erp.errors import (
    ClosedPeriodError,
    CustomerNotUsableError,
    ErpBusinessError,
    ErpUnavailableError,
    InvoiceNotOpenError,
)
from connectors.erp.locks import lock_rows, write_transaction
from connectors.erp.protocol import PostingStrategy
from connectors.erp.sage500 import codes, lookups
from connectors.erp.sage500.numbering import (
    next_batch_no,
    next_surrogate_block,
    next_surrogate_keys,
    next_tran_no,
)
from connectors.erp.sage500.posting import post_batch_emulated
from connectors.erp.sage500.receipt_rows import (
    DOC_KIND_RECEIPT,
    XREF_POSTED,
    InvoiceTarget,
    ReceiptKeys,
    build_receipt_rows,
)
from connectors.erp.sage500.schema import (
    tarBatch,
    tarCustomer,
    tarInvoice,
    tarPendCustPmt,
    tarPendCustPmtAppl,
    tciBatchLog,
    tcmCashAcct,
    tglAccount,
    tglFiscalPeriod,
    tptPaytraceXref,
)
from connectors.erp.sage500.validation import check_amounts, check_application
from domain.matching import normalize_invoice_number
from domain.models import CashReceipt, ErpCustomer, OpenInvoice, ReceiptRecord

ZERO = Decimal(0)
_TRANSIENT_SQLSTATES = {"40001", "40P01", "08S01", "08001", "08006", "HYT00"}


def _now() -> datetime:
    """Local server time without microseconds, like ``GETDATE()`` in a ``datetime`` column."""
    return datetime.now().replace(microsecond=0)


def _is_transient(exc: sa.exc.DBAPIError) -> bool:
    """A lost connection, a deadlock victim, a lock timeout: worth retrying."""
    if exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError):
        return True
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or (
        orig.args[0] if orig is not None and orig.args and isinstance(orig.args[0], str) else None
    )
    return sqlstate in _TRANSIENT_SQLSTATES or "deadlock" in str(orig).lower()


class Sage500Connector:
    """The ``ErpConnector`` for Sage 500 ERP (and its SQLite/PostgreSQL stand-in).

    Args:
        engine: the Sage company database.
        company_id: ``CompanyID`` whose customers and invoices are used.
        strategy: how a written receipt's batch gets posted.
        user_id: the user written into audit columns (``CreateUserID``).
        cash_account: ``tglAccount.GLAcctNo`` of the ``tcmCashAcct`` receipts are deposited to.
        paytrace_id_field: the ``tarCustomer`` column holding the PayTrace customer id.
        invoice_prefixes: prefixes dropped when normalizing invoice numbers (``("INV-",)``).
        clock: returns the audit timestamp; local time by default.

    Raises:
        ValueError: if ``paytrace_id_field`` is not a ``tarCustomer`` column.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        company_id: str = "SOA",
        strategy: PostingStrategy = PostingStrategy.EMULATED,
        user_id: str = "tracepost",
        cash_account: str = codes.DEFAULT_CASH_ACCOUNT,
        paytrace_id_field: str = "UserFld1",
        invoice_prefixes: tuple[str, ...] = (),
        clock: Callable[[], datetime] = _now,
    ) -> None:
        if paytrace_id_field not in tarCustomer.c:
            raise ValueError(f"tarCustomer has no column {paytrace_id_field!r}")
        self._engine = engine
        self._company = company_id
        self._strategy = PostingStrategy(strategy)
        self._user = user_id[:30]
        self._cash_account = cash_account
        self._pt_field = paytrace_id_field
        self._prefixes = tuple(invoice_prefixes)
        self._clock = clock
        self._cash_acct_key: int | None = None

    @property
    def erp_name(self) -> str:
        """Short name of the ERP: ``sage500``."""
        return lookups.ERP_NAME

    @property
    def strategy(self) -> PostingStrategy:
        """The configured posting strategy."""
        return self._strategy

    # --- reads ---------------------------------------------------------------------------------

    def find_customer(
        self, *, customer_id: str = "", paytrace_customer_id: str = ""
    ) -> ErpCustomer | None:
        """Find a customer by ``CustID``, else by the PayTrace id kept in ``paytrace_id_field``.

        Args:
            customer_id: the Sage ``CustID``.
            paytrace_customer_id: the PayTrace vault customer id.

        Returns:
            The customer (``Status`` 1 is active, ``Hold`` set is on hold), or None.

        Raises:
            ErpBusinessError: if the PayTrace id is linked to more than one customer.
            ErpUnavailableError: if the database cannot be reached.
        """
        with self._guard("find_customer"), self._engine.connect() as conn:
            row = lookups.find_customer_row(
                conn,
                self._company,
                self._pt_field,
                customer_id=customer_id,
                paytrace_customer_id=paytrace_customer_id,
            )
        return lookups.to_customer(row, self._pt_field) if row is not None else None

    def invoice_by_number(self, number: str) -> OpenInvoice | None:
        """Find an AR invoice by the number PayTrace carried, paid ones included.

        The number is normalized (spaces, case, prefixes, leading zeros) and compared with the
        stored zero-padded ``TranNo`` through the ``(CompanyID, TranNo, TranType)`` index.

        Args:
            number: the number as typed, e.g. ``"1001"`` or ``" INV-0001001 "``.

        Returns:
            The invoice with its payable balance (0 when paid), or None.

        Raises:
            ErpBusinessError: if the number matches more than one invoice.
            ErpUnavailableError: if the database cannot be reached.
        """
        candidates = lookups.tran_no_candidates(number, self._prefixes)
        if not candidates:
            return None
        inv = tarInvoice.c
        with self._guard("invoice_by_number"), self._engine.connect() as conn:
            rows = conn.execute(
                lookups.invoice_select().where(
                    inv.CompanyID == self._company, inv.TranNo.in_(candidates)
                )
            ).all()
        if len(rows) > 1:
            ids = ", ".join(str(r.TranID) for r in rows)
            raise ErpBusinessError(f"invoice number {number!r} matches several invoices: {ids}")
        return lookups.to_open_invoice(rows[0], self._prefixes) if rows else None

    def open_invoices(self, customer_id: str) -> list[OpenInvoice]:
        """All invoices of a customer with a payable balance above zero, oldest due first.

        Args:
            customer_id: the Sage ``CustID``.

        Returns:
            The open invoices (amounts quantized to cents); empty for an unknown customer.

        Raises:
            ErpUnavailableError: if the database cannot be reached.
        """
        inv = tarInvoice.c
        with self._guard("open_invoices"), self._engine.connect() as conn:
            rows = conn.execute(
                lookups.invoice_select()
                .where(
                    tarCustomer.c.CompanyID == self._company,
                    tarCustomer.c.CustID == customer_id.strip(),
                    inv.Balance > 0,
                )
                .order_by(inv.DueDate, inv.TranNo)
            ).all()
        invoices = [lookups.to_open_invoice(r, self._prefixes) for r in rows]
        return [i for i in invoices if i.balance > ZERO]

    def find_receipt(self, paytrace_transaction_id: int) -> ReceiptRecord | None:
        """Read back what was written for a PayTrace transaction (``tptPaytraceXref``).

        Args:
            paytrace_transaction_id: the PayTrace transaction id.

        Returns:
            The record (``created`` False), or None when nothing was written.

        Raises:
            ErpUnavailableError: if the database cannot be reached.
        """
        with self._guard("find_receipt"), self._engine.connect() as conn:
            row = lookups.read_xref(conn, paytrace_transaction_id)
        return lookups.to_record(row) if row is not None else None

    # --- writes --------------------------------------------------------------------------------

    def write_receipt(self, receipt: CashReceipt) -> ReceiptRecord:
        """Write a balanced cash receipt batch with its applications, exactly once.

        One transaction: read back by PayTrace id, validate, take batch/document numbers and keys,
        insert tciBatchLog, tarBatch, tarPendCustPmt, tarPendCustPmtAppl and tptPaytraceXref.
        When a racing writer commits the same transaction first, its record is returned.

        Args:
            receipt: the receipt; its applications name invoices by their visible number.

        Returns:
            The record; ``created`` is False when it already existed.

        Raises:
            CustomerNotUsableError: the customer is unknown, inactive or on hold.
            InvoiceNotOpenError: an invoice is missing, another customer's, paid, or too small.
            ErpBusinessError: the amounts do not add up, or setup rows are missing.
            ErpUnavailableError: the database could not be reached or chose this as deadlock
                victim (retryable).
        """
        try:
            with self._guard("write_receipt"), write_transaction(self._engine) as conn:
                return self._write(conn, receipt)
        except sa.exc.IntegrityError as exc:
            existing = self.find_receipt(receipt.paytrace_transaction_id)
            if existing is not None:
                return existing
            raise ErpBusinessError(
                f"receipt for PayTrace transaction {receipt.paytrace_transaction_id} was refused"
                f" by a database constraint: {exc.orig}"
            ) from exc

    def post_receipt(self, paytrace_transaction_id: int) -> ReceiptRecord:
        """Finish the receipt's batch with the configured posting strategy; idempotent.

        ``emulated`` posts the batch in one transaction (pending → posted tables, invoice
        balances lowered, batch Status 6 / PostStatus 500); ``manual`` leaves the balanced batch
        for a Sage user and reports it posted once they have; ``procedures`` is not available yet.

        Args:
            paytrace_transaction_id: the PayTrace transaction whose receipt is posted.

        Returns:
            The record with its current status.

        Raises:
            ErpBusinessError: nothing was written for the transaction, or the strategy is
                ``procedures``.
            InvoiceNotOpenError: posting would take an invoice below zero.
            ErpUnavailableError: the database could not be reached (retryable).
        """
        xref = tptPaytraceXref.c
        with self._guard("post_receipt"), write_transaction(self._engine) as conn:
            row = conn.execute(
                lock_rows(
                    sa.select(tptPaytraceXref).where(
                        xref.PaytraceTranID == paytrace_transaction_id,
                        xref.DocKind == DOC_KIND_RECEIPT,
                    ),
                    tptPaytraceXref,
                )
            ).first()
            if row is None:
                raise ErpBusinessError(
                    f"no receipt was written for PayTrace transaction {paytrace_transaction_id}"
                )
            batch_status = conn.execute(
                lock_rows(
                    sa.select(tciBatchLog.c.Status).where(tciBatchLog.c.BatchKey == row.BatchKey),
                    tciBatchLog,
                )
            ).scalar()
            if batch_status is None:
                raise ErpBusinessError(
                    f"batch {row.BatchID} of PayTrace transaction {paytrace_transaction_id} no"
                    " longer exists in Sage 500 (deleted before posting?)"
                )
            if int(batch_status) != codes.BATCH_STATUS_POSTED:
                if self._strategy is PostingStrategy.MANUAL:
                    return lookups.to_record(row)
                if self._strategy is PostingStrategy.PROCEDURES:
                    raise ErpBusinessError(
                        "posting strategy 'procedures' needs SQL Server with the Sage 500 posting"
                        " procedures (spciPrePost, spciModPost, ...); not available yet: use"
                        " 'manual' or 'emulated'"
                    )
                post_batch_emulated(conn, int(row.BatchKey), user_id=self._user, now=self._clock())
            if row.Status != XREF_POSTED:
                conn.execute(
                    sa.update(tptPaytraceXref)
                    .where(
                        xref.PaytraceTranID == paytrace_transaction_id,
                        xref.DocKind == DOC_KIND_RECEIPT,
                    )
                    .values(Status=XREF_POSTED, UpdateDate=self._clock())
                )
            posted = lookups.read_xref(conn, paytrace_transaction_id)
            assert posted is not None
            return lookups.to_record(posted)

    # --- internals -----------------------------------------------------------------------------

    @contextmanager
    def _guard(self, operation: str) -> Iterator[None]:
        """Turn connection trouble and deadlocks into the retryable ``ErpUnavailableError``."""
        try:
            yield
        except sa.exc.DBAPIError as exc:
            if _is_transient(exc):
                raise ErpUnavailableError(
                    f"Sage 500 database unavailable during {operation}: {exc.orig}"
                ) from exc
            raise
        except sa.exc.TimeoutError as exc:
            raise ErpUnavailableError(
                f"no Sage 500 database connection for {operation}: {exc}"
            ) from exc

    def _write(self, conn: sa.Connection, receipt: CashReceipt) -> ReceiptRecord:
        pt_id = receipt.paytrace_transaction_id
        existing = lookups.read_xref(conn, pt_id)
        if existing is not None:
            return lookups.to_record(existing)
        check_amounts(receipt)
        self._check_period_open(conn, receipt.receipt_date)
        customer = self._usable_customer(conn, receipt.customer_id)
        wanted, invoice_keys = self._lock_invoices(conn, receipt)
        # The invoice locks may have waited for a racing writer of this same payment.
        existing = lookups.read_xref(conn, pt_id)
        if existing is not None:
            return lookups.to_record(existing)
        targets = self._check_invoices(conn, receipt, customer, wanted, invoice_keys)
        cash_acct_key = self._cash_acct(conn)
        batch_no, batch_type_id = next_batch_no(conn, self._company, codes.BATCH_TYPE_CASH_RECEIPT)
        tran_no, tran_type_id = next_tran_no(conn, self._company, codes.TRAN_TYPE_CUST_PMT)
        keys = ReceiptKeys(
            batch_key=next_surrogate_block(conn, "tciBatchLog", 1),
            batch_no=batch_no,
            batch_type_id=batch_type_id,
            cust_pmt_key=next_surrogate_block(conn, "tarCustPmt", 1),
            tran_no=tran_no,
            tran_type_id=tran_type_id,
            appl_keys=tuple(next_surrogate_keys(conn, "tarCustPmtAppl", len(receipt.applications))),
            cash_acct_key=cash_acct_key,
        )
        rows = build_receipt_rows(
            receipt,
            company_id=self._company,
            cust_key=int(customer.CustKey),
            cust_id=str(customer.CustID),
            targets=targets,
            keys=keys,
            user_id=self._user,
            now=self._clock(),
        )
        conn.execute(sa.insert(tciBatchLog), [rows.batch_log])
        conn.execute(sa.insert(tarBatch), [rows.batch])
        conn.execute(sa.insert(tarPendCustPmt), [rows.pend_cust_pmt])
        if rows.pend_appls:
            conn.execute(sa.insert(tarPendCustPmtAppl), rows.pend_appls)
        conn.execute(sa.insert(tptPaytraceXref), [rows.xref])
        written = lookups.read_xref(conn, pt_id)
        assert written is not None
        return lookups.to_record(written, created=True)

    def _check_period_open(self, conn: sa.Connection, day: date) -> None:
        """Refuse a document dated in a closed fiscal period, or in none."""
        per = tglFiscalPeriod.c
        moment = datetime(day.year, day.month, day.day)
        row = conn.execute(
            sa.select(per.FiscYear, per.FiscPer, per.Status).where(
                per.CompanyID == self._company, per.StartDate <= moment, per.EndDate >= moment
            )
        ).first()
        if row is None:
            raise ClosedPeriodError(
                f"no fiscal period of company {self._company} covers {day.isoformat()}"
            )
        if int(row.Status) != codes.PERIOD_STATUS_OPEN:
            raise ClosedPeriodError(
                f"fiscal period {str(row.FiscYear).strip()}-{int(row.FiscPer):02d} of company"
                f" {self._company} is closed; {day.isoformat()} cannot be posted"
            )

    def _usable_customer(self, conn: sa.Connection, customer_id: str) -> lookups.AnyRow:
        row = lookups.find_customer_row(
            conn, self._company, self._pt_field, customer_id=customer_id
        )
        if row is None:
            raise CustomerNotUsableError(
                f"customer {customer_id!r} does not exist in Sage 500 company {self._company}"
            )
        if int(row.Status) != codes.CUST_STATUS_ACTIVE:
            raise CustomerNotUsableError(
                f"customer {row.CustID} is not active (Status {row.Status}); receipts need an"
                " active customer"
            )
        if row.Hold:
            raise CustomerNotUsableError(f"customer {row.CustID} is on credit hold")
        return row

    def _lock_invoices(
        self, conn: sa.Connection, receipt: CashReceipt
    ) -> tuple[list[str], list[int]]:
        """Lock the invoices the receipt applies to; return their normalized numbers and keys."""
        if not receipt.applications:
            return [], []
        wanted: list[str] = []
        for app in receipt.applications:
            number = normalize_invoice_number(app.invoice_number, self._prefixes)
            if number in wanted:
                raise ErpBusinessError(
                    f"receipt for PayTrace transaction {receipt.paytrace_transaction_id} applies"
                    f" twice to invoice {app.invoice_number}; combine the applications"
                )
            wanted.append(number)
        candidates = sorted(
            {c for app in receipt.applications for c in self._candidates(app.invoice_number)}
        )
        inv = tarInvoice.c
        keys = (
            conn.execute(
                lock_rows(
                    sa.select(inv.InvcKey)
                    .where(
                        inv.CompanyID == self._company,
                        inv.TranNo.in_(candidates),
                        inv.TranType == codes.TRAN_TYPE_INVOICE,
                    )
                    .order_by(inv.InvcKey),
                    tarInvoice,
                )
            )
            .scalars()
            .all()
        )
        return wanted, [int(k) for k in keys]

    def _check_invoices(
        self,
        conn: sa.Connection,
        receipt: CashReceipt,
        customer: lookups.AnyRow,
        wanted: list[str],
        keys: list[int],
    ) -> list[InvoiceTarget]:
        """Check every locked invoice against its application, in the applications' order.

        Read in a statement of its own, after the locks were granted: a statement that waited for
        a lock still sees the data of its own start (PostgreSQL READ COMMITTED), so a racing
        receipt's pending applications are only visible to a new statement.
        """
        inv = tarInvoice.c
        rows = (
            conn.execute(lookups.invoice_select().where(inv.InvcKey.in_(keys))).all()
            if keys
            else []
        )
        by_number = {normalize_invoice_number(str(r.TranNo), self._prefixes): r for r in rows}
        targets = []
        for app, number in zip(receipt.applications, wanted, strict=True):
            row = by_number.get(number)
            check_application(app.invoice_number, app.amount, app.write_off, row, customer)
            assert row is not None
            targets.append(InvoiceTarget(int(row.InvcKey), str(row.TranID), row.TranDate))
        return targets

    def _candidates(self, number: str) -> list[str]:
        candidates = lookups.tran_no_candidates(number, self._prefixes)
        if not candidates:
            raise InvoiceNotOpenError(f"invoice number {number!r} is not a usable invoice number")
        return candidates

    def _cash_acct(self, conn: sa.Connection) -> int:
        """``CashAcctKey`` of the configured cash GL account (cached after the first read)."""
        if self._cash_acct_key is None:
            key = conn.execute(
                sa.select(tcmCashAcct.c.CashAcctKey)
                .join(tglAccount, tglAccount.c.GLAcctKey == tcmCashAcct.c.GLAcctKey)
                .where(
                    tglAccount.c.CompanyID == self._company,
                    tglAccount.c.GLAcctNo == self._cash_account,
                )
            ).scalar()
            if key is None:
                raise ErpBusinessError(
                    f"GL account {self._cash_account} of company {self._company} is not set up"
                    " as a cash account (tcmCashAcct)"
                )
            self._cash_acct_key = int(key)
        return self._cash_acct_key
