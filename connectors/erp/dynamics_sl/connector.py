"""``DynamicsSlConnector``: tracepost's reads and writes against a Dynamics SL database.

Writes leave what SL's own entry screens leave: an unreleased AR batch (Payment Application
08.030 for receipts and NSF reversals, Invoice and Memo 08.010 for credit memos) plus tracepost's
cross-reference row, in one transaction; a posting strategy then releases it (see
docs/erp/dynamics_sl.md). GL journals, deposits and sales orders are written by the ledger
modules of this package and only wrapped here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.dynamics_sl import (
    account_states,
    codes,
    customer_flags,
    customers,
    flagged_memos,
    ledger,
    lookups,
    memos,
    procedures,
    reversals,
    sales_orders,
    write_offs,
)
from connectors.erp.dynamics_sl.ar_schema import ARDoc
from connectors.erp.dynamics_sl.base import Batch, fiscal_period, pad, text, tptPaytraceXref
from connectors.erp.dynamics_sl.ledger_checks import read_setup
from connectors.erp.dynamics_sl.receipts import Payment, write_payment
from connectors.erp.dynamics_sl.release import is_released, lock_batch, release_batch
from connectors.erp.dynamics_sl.settings import SlSettings, detail, local_now
from connectors.erp.errors import DocumentNotFoundError, ErpBusinessError
from connectors.erp.guard import erp_guard
from connectors.erp.locks import lock_rows, write_transaction
from connectors.erp.procedures import Runner, execute_call, run_autocommit
from connectors.erp.protocol import PostingStrategy
from connectors.erp.xref import (
    documents_by_keys,
    documents_dated,
    mark_posted,
    read_xref,
    rows_for_transaction,
    to_document,
)
from domain.erp_documents import (
    AccountState,
    CreditMemo,
    CustomerChanges,
    CustomerDetail,
    CustomerProfile,
    Deposit,
    DocumentKind,
    DocumentStatus,
    ErpDocument,
    FiscalPeriod,
    FlaggedMemo,
    InvoiceWriteOff,
    JournalEntry,
    Reapplication,
    ReceiptReversal,
    SalesOrder,
)
from domain.models import (
    CashReceipt,
    ErpCustomer,
    OpenInvoice,
    PaymentSource,
    ReceiptRecord,
    ReceiptStatus,
    receipt_key,
)

ZERO = Decimal(0)
AR_KINDS = (
    DocumentKind.RECEIPT,
    DocumentKind.CREDIT_MEMO,
    DocumentKind.REVERSAL,
    DocumentKind.REAPPLICATION,
    DocumentKind.WRITE_OFF,
)
LABEL = codes.ERP_LABEL


class DynamicsSlConnector:
    """The ``ErpConnector`` for Microsoft Dynamics SL (and its SQLite/PostgreSQL stand-in).

    Args:
        engine: the SL application database.
        company_id: ``CpnyID`` of the documents written.
        strategy: how written batches get released.
        user_id: written into ``Crtd_User``/``LUpd_User`` (char 10).
        paytrace_id_field: the ``Customer`` user field holding the PayTrace customer id
            (``User1``, ``User2``, ``User5`` or ``User6``).
        autopay_field: the ``Customer`` user field holding the autopay enrollment (blank:
            ``User5``, or the next free one when that holds the PayTrace id).
        card_field: the ``Customer`` user field holding the masked card on file (blank:
            ``User2``, likewise).
        invoice_prefixes: prefixes dropped when normalizing invoice numbers.
        cash_account: bank ``Acct`` or ``Acct/Sub`` of receipts; blank: ``ARSetup.ChkAcct``.
        accounts: GL accounts by purpose (``write_off``, ``refunds``, ``bank``, ``card_fees`` ...).
        clock: the audit timestamp; local time to the second by default.
        procedure_runner: executes one stored procedure call of the ``procedures`` strategy
            (tests pass a recorder; the default runs it on SQL Server).

    Raises:
        ValueError: if ``paytrace_id_field``, ``autopay_field`` or ``card_field`` is not a
            character user field of ``Customer``, or two of them are the same.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        company_id: str = codes.DEFAULT_COMPANY,
        strategy: PostingStrategy = PostingStrategy.EMULATED,
        user_id: str = "tracepost",
        paytrace_id_field: str = "User1",
        autopay_field: str = "",
        card_field: str = "",
        invoice_prefixes: tuple[str, ...] = (),
        cash_account: str = "",
        accounts: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = local_now,
        procedure_runner: Runner = execute_call,
    ) -> None:
        if paytrace_id_field not in lookups.PAYTRACE_ID_FIELDS:
            raise ValueError(
                f"Customer.{paytrace_id_field} cannot hold the PayTrace id: use one of"
                f" {', '.join(lookups.PAYTRACE_ID_FIELDS)}"
            )
        autopay, card = lookups.customer_user_fields(paytrace_id_field, autopay_field, card_field)
        self._engine = engine
        self._runner = procedure_runner
        self._s = SlSettings(
            cpny_id=company_id,
            strategy=PostingStrategy(strategy),
            user_id=user_id,
            paytrace_id_field=paytrace_id_field,
            autopay_field=autopay,
            card_field=card,
            invoice_prefixes=tuple(invoice_prefixes),
            cash_account=cash_account,
            accounts=dict(accounts or {}),
            clock=clock,
        )

    @property
    def erp_name(self) -> str:
        """``dynamics_sl``."""
        return codes.ERP_NAME

    @property
    def strategy(self) -> PostingStrategy:
        """The configured posting strategy."""
        return self._s.strategy

    # --- customers -----------------------------------------------------------------------------

    def find_customer(
        self, *, customer_id: str = "", paytrace_customer_id: str = ""
    ) -> ErpCustomer | None:
        """Find a customer by ``CustId``, else by the PayTrace id in the configured user field.

        Raises:
            ErpBusinessError: the PayTrace id is on more than one customer.
            ErpUnavailableError: the database cannot be reached.
        """
        with erp_guard(LABEL, "find_customer"), self._engine.connect() as conn:
            row = lookups.find_customer_row(
                conn,
                self._s.paytrace_id_field,
                customer_id=customer_id,
                paytrace_customer_id=paytrace_customer_id,
            )
        return lookups.to_customer(row, self._s.paytrace_id_field) if row is not None else None

    def get_customer(self, customer_id: str) -> CustomerDetail | None:
        """A customer with every ERP-owned field, by ``CustId``."""
        with erp_guard(LABEL, "get_customer"), self._engine.connect() as conn:
            row = lookups.find_customer_row(
                conn, self._s.paytrace_id_field, customer_id=customer_id
            )
        return detail(self._s, row) if row is not None else None

    def find_customers(
        self, *, paytrace_customer_id: str = "", email: str = "", name: str = ""
    ) -> list[CustomerDetail]:
        """Customers matching the first criterion given (PayTrace id, else e-mail, else name)."""
        with erp_guard(LABEL, "find_customers"), self._engine.connect() as conn:
            rows = customers.search(
                conn,
                self._s.paytrace_id_field,
                paytrace_customer_id=paytrace_customer_id,
                email=email,
                name=name,
            )
        return [detail(self._s, r) for r in rows]

    def upsert_customer(self, profile: CustomerProfile) -> CustomerDetail:
        """Create the customer, or update its ERP-owned fields (Customer + default SOAddress)."""
        with erp_guard(LABEL, "upsert_customer"):
            try:
                with write_transaction(self._engine) as conn:
                    customers.upsert(conn, profile, self._s)
            except sa.exc.IntegrityError:
                # A racing writer created it first: update what it wrote.
                with write_transaction(self._engine) as conn:
                    customers.upsert(conn, profile, self._s)
        found = self.get_customer(profile.customer_id)
        assert found is not None
        return found

    def link_paytrace_customer(self, customer_id: str, paytrace_customer_id: str) -> CustomerDetail:
        """Store the PayTrace customer id in the configured user field (idempotent)."""
        with erp_guard(LABEL, "link_paytrace_customer"), write_transaction(self._engine) as conn:
            customers.link(conn, customer_id, paytrace_customer_id, self._s)
        found = self.get_customer(customer_id)
        assert found is not None
        return found

    def customers_changed_since(self, cursor: str, limit: int = 500) -> CustomerChanges:
        """Customers changed after the cursor (``LUpd_DateTime``, ``CustId``), oldest first."""
        with erp_guard(LABEL, "customers_changed_since"), self._engine.connect() as conn:
            return customers.changed_since(conn, cursor, limit, self._s)

    def set_credit_hold(self, customer_id: str, on_hold: bool) -> CustomerDetail:
        """Set ``Customer.Status`` ``H`` or back to ``A`` (idempotent; ``R`` is left alone).

        Raises:
            CustomerNotUsableError: unknown, or inactive and a hold is asked for.
        """
        return self._customer_change(
            "set_credit_hold",
            customer_id,
            lambda c: customer_flags.set_credit_hold(c, customer_id, on_hold, self._s),
        )

    def autopay_customers(self) -> list[CustomerDetail]:
        """Active customers whose autopay field says yes, by ``CustId``."""
        with erp_guard(LABEL, "autopay_customers"), self._engine.connect() as conn:
            rows = customer_flags.autopay_customers(conn, self._s)
        return [detail(self._s, r) for r in rows]

    def set_autopay(self, customer_id: str, on: bool) -> CustomerDetail:
        """Write ``Y`` or blank to the autopay field (idempotent).

        Raises:
            CustomerNotUsableError: the customer does not exist.
        """
        return self._customer_change(
            "set_autopay",
            customer_id,
            lambda c: customer_flags.set_autopay(c, customer_id, on, self._s),
        )

    def set_card_on_file(self, customer_id: str, text: str) -> CustomerDetail:
        """Write the masked card and expiry to the card field, without stamping ``LUpd_*``.

        Raises:
            CustomerNotUsableError: the customer does not exist.
            ErpBusinessError: the text could hold a card number or does not fit the field.
        """
        return self._customer_change(
            "set_card_on_file",
            customer_id,
            lambda c: customer_flags.set_card_on_file(c, customer_id, text, self._s),
        )

    def _customer_change(
        self, operation: str, customer_id: str, change: Callable[[sa.Connection], None]
    ) -> CustomerDetail:
        """Run a customer update in a write transaction and read the customer back."""
        with erp_guard(LABEL, operation), write_transaction(self._engine) as conn:
            change(conn)
        found = self.get_customer(customer_id)
        assert found is not None
        return found

    # --- open documents ------------------------------------------------------------------------

    def invoice_by_number(self, number: str) -> OpenInvoice | None:
        """A released debit document by number (normalized; zero-padded forms tried); paid too.

        Raises:
            ErpBusinessError: the number matches documents of several customers.
        """
        candidates = lookups.ref_candidates(number, self._s.invoice_prefixes)
        if not candidates:
            return None
        with erp_guard(LABEL, "invoice_by_number"), self._engine.connect() as conn:
            rows = conn.execute(
                lookups.invoice_select().where(ARDoc.c.RefNbr.in_(candidates))
            ).all()
        if len(rows) > 1:
            found = ", ".join(
                f"{text(r.DocType)} {text(r.RefNbr)} ({text(r.CustId)})" for r in rows
            )
            raise ErpBusinessError(f"invoice number {number!r} matches several documents: {found}")
        return lookups.to_open_invoice(rows[0]) if rows else None

    def open_invoices(self, customer_id: str) -> list[OpenInvoice]:
        """Released debit documents with a payable balance above zero, oldest due first."""
        d = ARDoc.c
        if not lookups.fits(customer_id, lookups.CUST_ID_WIDTH):
            return []
        with erp_guard(LABEL, "open_invoices"), self._engine.connect() as conn:
            rows = conn.execute(
                lookups.invoice_select()
                .where(d.CustId == lookups.cust_key(customer_id), d.DocBal > 0)
                .order_by(d.DueDate, d.RefNbr)
            ).all()
        invoices = [lookups.to_open_invoice(r) for r in rows]
        return [i for i in invoices if i.balance > ZERO]

    def open_balance(self, customer_id: str) -> Decimal:
        """What the customer still owes on open invoices, unreleased applications deducted."""
        return sum((i.balance for i in self.open_invoices(customer_id)), Decimal("0.00"))

    # --- periods and read-back -----------------------------------------------------------------

    def fiscal_period(self, day: date) -> FiscalPeriod | None:
        """The fiscal period of a date; open when not before ``ARSetup.PerNbr``."""
        with erp_guard(LABEL, "fiscal_period"), self._engine.connect() as conn:
            setup = read_setup(conn)
            ar = lookups.ar_setup(conn)
        try:
            return fiscal_period(setup, day, text(ar.PerNbr))
        except ValueError:
            return None

    def find_receipt(
        self, paytrace_transaction_id: int, source: PaymentSource = PaymentSource.CARD
    ) -> ReceiptRecord | None:
        """The receipt written for a card or ACH payment (``tptPaytraceXref``)."""
        key = receipt_key(paytrace_transaction_id, source)
        doc = self.find_document(DocumentKind.RECEIPT, key)
        return _record(doc, source) if doc is not None else None

    def find_document(self, kind: DocumentKind, key: str) -> ErpDocument | None:
        """The document of a kind written for a business key."""
        with erp_guard(LABEL, "find_document"), self._engine.connect() as conn:
            row = read_xref(conn, tptPaytraceXref, kind, key)
        return to_document(row, codes.ERP_NAME) if row is not None else None

    def documents_for_transaction(
        self, paytrace_transaction_id: int, source: PaymentSource = PaymentSource.CARD
    ) -> list[ErpDocument]:
        """Every document written for a card or ACH payment, oldest first."""
        with erp_guard(LABEL, "documents_for_transaction"), self._engine.connect() as conn:
            rows = rows_for_transaction(conn, tptPaytraceXref, paytrace_transaction_id, source)
        return [to_document(r, codes.ERP_NAME) for r in rows]

    def documents_by_keys(self, kind: DocumentKind, keys: Sequence[str]) -> list[ErpDocument]:
        """The documents of a kind written for any of the keys, in their order (chunked)."""
        with erp_guard(LABEL, "documents_by_keys"), self._engine.connect() as conn:
            return documents_by_keys(conn, tptPaytraceXref, codes.ERP_NAME, kind, keys)

    def documents_dated(self, kind: DocumentKind, start: date, end: date) -> list[ErpDocument]:
        """The company's documents of a kind dated start to end inclusive, by date then key."""
        with erp_guard(LABEL, "documents_dated"), self._engine.connect() as conn:
            return documents_dated(
                conn, tptPaytraceXref, codes.ERP_NAME, kind, start, end, company_id=self._s.cpny_id
            )

    # --- configuration checks and ERP-initiated work --------------------------------------------

    def gl_account_states(self, accounts: Sequence[str]) -> dict[str, AccountState]:
        """Whether each ``Acct`` (and the ``Sub`` of an ``Acct/Sub``) exists and is active."""
        with erp_guard(LABEL, "gl_account_states"), self._engine.connect() as conn:
            return account_states.gl_account_states(conn, accounts)

    def flagged_refund_memos(self, marker: str, since: date) -> list[FlaggedMemo]:
        """Released credit memos (``ARDoc`` CM) an SL user flagged in ``DocDesc``.

        Raises:
            ErpBusinessError: the marker is blank.
        """
        with erp_guard(LABEL, "flagged_refund_memos"), self._engine.connect() as conn:
            return flagged_memos.flagged_refund_memos(conn, self._s.cpny_id, marker, since)

    # --- AR writes -----------------------------------------------------------------------------

    def write_receipt(self, receipt: CashReceipt) -> ReceiptRecord:
        """Write an unreleased 08.030 payment batch with its applications, exactly once.

        Raises:
            ClosedPeriodError: the receipt date's AR period is closed.
            CustomerNotUsableError: unknown, inactive or on hold.
            InvoiceNotOpenError: an invoice is missing, another customer's, paid or too small.
            ErpBusinessError: the amounts do not add up or setup rows are missing.
            ErpUnavailableError: connection trouble or deadlock victim (retryable).
        """
        payment = Payment(
            kind=DocumentKind.RECEIPT,
            key=receipt.key,
            paytrace_transaction_id=receipt.paytrace_transaction_id,
            customer_id=receipt.customer_id,
            amount=receipt.amount,
            day=receipt.receipt_date,
            reference=receipt.reference,
            payment_method=receipt.payment_method,
            applications=receipt.applications,
            on_account=receipt.on_account,
            cash_account=receipt.cash_account,
            source=receipt.source,
            sales_order=receipt.sales_order,
        )
        return _record(
            self._write(payment.kind, payment.key, lambda c: write_payment(c, payment, self._s)),
            receipt.source,
        )

    def write_credit_memo(self, memo: CreditMemo) -> ErpDocument:
        """Write an unreleased 08.010 credit memo, applied to the invoice when still open."""
        key = str(memo.paytrace_transaction_id)
        return self._write(
            DocumentKind.CREDIT_MEMO, key, lambda c: memos.write_credit_memo(c, memo, self._s)
        )

    def reverse_receipt(self, reversal: ReceiptReversal) -> ErpDocument:
        """Write an NSF reversal (NS) of the payment in force; releasing it reopens what it paid."""
        return self._write(
            DocumentKind.REVERSAL,
            reversal.key,
            lambda c: reversals.write_reversal(c, reversal, self._s),
        )

    def reapply_receipt(self, reapplication: Reapplication) -> ErpDocument:
        """Apply a reversed payment again: a new payment to what it paid, the rest on account."""
        return self._write(
            DocumentKind.REAPPLICATION,
            reapplication.key,
            lambda c: reversals.write_reapplication(c, reapplication, self._s),
        )

    def write_off_invoice(self, write_off: InvoiceWriteOff) -> ErpDocument:
        """Write an unreleased small-balance write-off (SB) applied to the invoice, once per key.

        Raises:
            ErpBusinessError: the amount is not positive whole cents.
            InvoiceNotOpenError: the invoice is missing, another customer's, or owes less.
            ClosedPeriodError: the write-off date's AR period is closed.
            MissingGlAccountError: the write-off account is missing or inactive.
        """
        return self._write(
            DocumentKind.WRITE_OFF,
            write_off.key,
            lambda c: write_offs.write_off_invoice(c, write_off, self._s),
        )

    # --- ledger writes (delegated) -------------------------------------------------------------

    def write_journal(self, entry: JournalEntry) -> ErpDocument:
        """Write a balanced GL journal entry (ledger module)."""
        return self._delegate(
            DocumentKind.JOURNAL,
            entry.key,
            lambda c, ctx: ledger.write_journal(c, entry, ctx),
            "01010",
        )

    def write_deposit(self, deposit: Deposit) -> ErpDocument:
        """Write one bank deposit for a settled PayTrace batch (ledger module)."""
        return self._delegate(
            DocumentKind.DEPOSIT,
            str(deposit.batch_number),
            lambda c, ctx: ledger.write_deposit(c, deposit, ctx),
            "20010",
        )

    def write_sales_order(self, order: SalesOrder) -> ErpDocument:
        """Write a sales order with its lines (sales order module)."""
        return self._delegate(
            DocumentKind.SALES_ORDER,
            order.order_id,
            lambda c, ctx: sales_orders.write_sales_order(c, order, ctx),
            "40100",
        )

    # --- posting -------------------------------------------------------------------------------

    def post_receipt(
        self, paytrace_transaction_id: int, source: PaymentSource = PaymentSource.CARD
    ) -> ReceiptRecord:
        """Release the receipt's batch with the configured strategy; idempotent."""
        key = receipt_key(paytrace_transaction_id, source)
        return _record(self.post_document(DocumentKind.RECEIPT, key), source)

    def post_document(self, kind: DocumentKind, key: str) -> ErpDocument:
        """Release (AR) or post (GL) a written document's batch with the strategy; idempotent.

        ``emulated`` releases in one transaction; ``manual`` leaves the batch for an SL user and
        reports the document posted once they released it; ``procedures`` commits, runs SL's
        release procedures on a connection of their own (they manage their own transactions, as
        when SL's screens call them), then checks the batch in a new transaction. Sales orders
        have no batch: returned as read back.

        Raises:
            DocumentNotFoundError: nothing was written for the key, or its batch is gone.
            InvoiceNotOpenError: release would take an invoice below zero.
            ErpBusinessError: SL's release procedures left the batch unreleased.
            ErpUnavailableError: connection trouble (retryable).
        """
        doc, release = self._post_step(kind, key, release_allowed=True)
        if release is None:
            return doc
        module, bat_nbr = release
        ctx = self._s.context(codes.PROG_RELEASE if module == codes.MODULE_AR else "01520")
        with erp_guard(LABEL, "post_document"):
            run_autocommit(
                self._engine,
                procedures.release_calls(module, bat_nbr, ctx),
                erp_label=LABEL,
                runner=self._runner,
            )
        doc, _ = self._post_step(kind, key, release_allowed=False)
        if doc.status is not DocumentStatus.POSTED:
            raise ErpBusinessError(
                f"Dynamics SL's release procedures left {module} batch {bat_nbr} unreleased;"
                " see WrkReleaseBad and the SL event log, fix the batch in SL, then retry"
            )
        return doc

    def _post_step(
        self, kind: DocumentKind, key: str, *, release_allowed: bool
    ) -> tuple[ErpDocument, tuple[str, str] | None]:
        """One posting transaction: record a released batch, emulate, or say what to release.

        Returns:
            The document as it stands, and ``(Module, BatNbr)`` when SL's procedures must run.
        """
        with erp_guard(LABEL, "post_document"), write_transaction(self._engine) as conn:
            x = tptPaytraceXref.c
            conn.execute(
                lock_rows(
                    sa.select(x.DocKind).where(x.DocKind == kind.value, x.SourceKey == key),
                    tptPaytraceXref,
                )
            ).first()
            row = read_xref(conn, tptPaytraceXref, kind, key)
            if row is None:
                raise DocumentNotFoundError(f"no {kind.value} was written for {key!r}")
            if row.Status == DocumentStatus.POSTED.value or kind is DocumentKind.SALES_ORDER:
                return to_document(row, codes.ERP_NAME), None
            bat_nbr = text(row.BatchID)
            batch = self._lock_batch(conn, kind, bat_nbr)
            module = text(batch.Module)
            strategy = self._s.strategy
            released = is_released(batch)
            if not released and strategy is PostingStrategy.PROCEDURES and release_allowed:
                return to_document(row, codes.ERP_NAME), (module, bat_nbr)
            if not released and strategy is PostingStrategy.EMULATED:
                if module == codes.MODULE_AR:
                    release_batch(conn, bat_nbr, self._s.context(codes.PROG_RELEASE))
                else:
                    ledger.release_gl_batch(conn, bat_nbr, self._s.context("01520"))
                released = True
            if released:
                mark_posted(conn, tptPaytraceXref, kind, key, self._s.clock())
            after = read_xref(conn, tptPaytraceXref, kind, key)
            assert after is not None
            return to_document(after, codes.ERP_NAME), None

    def _lock_batch(self, conn: sa.Connection, kind: DocumentKind, bat_nbr: str) -> Any:
        """Lock and re-read the document's batch (AR for AR documents, else GL/CA).

        Raises:
            ErpBusinessError: the batch was voided in SL.
            DocumentNotFoundError: the batch is gone.
        """
        if kind in AR_KINDS:
            batch = lock_batch(conn, bat_nbr)
            if text(batch.Status) == codes.BATCH_VOIDED:
                raise ErpBusinessError(f"AR batch {bat_nbr} was voided in Dynamics SL")
            return batch
        c = Batch.c
        where = (c.BatNbr == pad(bat_nbr, codes.BAT_WIDTH), c.Module != codes.MODULE_AR)
        conn.execute(lock_rows(sa.select(c.Module).where(*where), Batch)).all()
        gl_batch = conn.execute(sa.select(Batch).where(*where)).first()
        if gl_batch is None:
            raise DocumentNotFoundError(f"batch {bat_nbr} no longer exists in Dynamics SL")
        return gl_batch

    # --- internals -----------------------------------------------------------------------------

    def _write(
        self, kind: DocumentKind, key: str, write: Callable[[sa.Connection], bool]
    ) -> ErpDocument:
        """Run one AR write in a write transaction; read back the document it wrote or found.

        Raises:
            ErpBusinessError: the key is blank or does not fit ``tptPaytraceXref.SourceKey``.
        """
        if not key.strip() or len(key) > ledger.SOURCE_KEY_WIDTH:
            raise ErpBusinessError(
                f"{kind.value} key {key!r} is blank or longer than {ledger.SOURCE_KEY_WIDTH}"
                " characters"
            )
        try:
            with erp_guard(LABEL, f"write {kind.value}"), write_transaction(self._engine) as conn:
                created = write(conn)
                row = read_xref(conn, tptPaytraceXref, kind, key)
                assert row is not None
                return to_document(row, codes.ERP_NAME, created=created)
        except sa.exc.IntegrityError as exc:
            existing = self.find_document(kind, key)
            if existing is not None:
                return existing
            raise ErpBusinessError(
                f"{kind.value} {key} was refused by a database constraint: {exc.orig}"
            ) from exc

    def _delegate(
        self,
        kind: DocumentKind,
        key: str,
        write: Callable[[sa.Connection, Any], ErpDocument],
        prog: str,
    ) -> ErpDocument:
        """Run a ledger write in a write transaction; read back a racing winner."""
        existing = self.find_document(kind, key)
        if existing is not None:
            return existing
        try:
            with erp_guard(LABEL, f"write {kind.value}"), write_transaction(self._engine) as conn:
                return write(conn, self._s.context(prog))
        except sa.exc.IntegrityError as exc:
            existing = self.find_document(kind, key)
            if existing is not None:
                return existing
            raise ErpBusinessError(
                f"{kind.value} {key} was refused by a database constraint: {exc.orig}"
            ) from exc


def _record(doc: ErpDocument, source: PaymentSource) -> ReceiptRecord:
    """A receipt document (of a card or ACH payment) as the posting workflow's ``ReceiptRecord``."""
    return ReceiptRecord(
        paytrace_transaction_id=doc.paytrace_transaction_id or 0,
        erp=doc.erp,
        customer_id=doc.customer_id,
        erp_document=doc.erp_document,
        batch=doc.batch,
        amount=doc.amount,
        status=ReceiptStatus(doc.status.value),
        created=doc.created,
        source=source,
    )
