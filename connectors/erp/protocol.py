"""The ``ErpConnector`` protocol: what tracepost reads from and writes to an ERP.

Every method takes and returns domain models; no SQLAlchemy row leaks out. Methods are synchronous
(the ERP drivers are), so activities that call them run in the worker's thread pool.

Every write is exactly once: it first reads back by its business key (``find_document``), and the
document, its applications and tracepost's cross-reference row commit in one transaction. Writes
leave a pending batch; ``post_document`` finishes it with the configured ``PostingStrategy``.

Errors: ``connectors.erp.errors``. Business rejections (closed period, missing GL account,
inactive or on-hold customer, invoice not open) are final; lost connections and deadlocks raise
the retryable ``ErpUnavailableError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from domain.erp_documents import (
    AccountState,
    CreditMemo,
    CustomerChanges,
    CustomerDetail,
    CustomerProfile,
    Deposit,
    DocumentKind,
    ErpDocument,
    FiscalPeriod,
    FlaggedMemo,
    InvoiceWriteOff,
    JournalEntry,
    Reapplication,
    ReceiptReversal,
    SalesOrder,
)
from domain.models import CashReceipt, ErpCustomer, OpenInvoice, PaymentSource, ReceiptRecord


class PostingStrategy(StrEnum):
    """How a balanced pending batch becomes posted."""

    MANUAL = "manual"
    EMULATED = "emulated"
    PROCEDURES = "procedures"


@runtime_checkable
class ErpConnector(Protocol):
    """An ERP adapter (Sage 500, Dynamics SL)."""

    @property
    def erp_name(self) -> str:
        """Short name of the ERP: ``sage500`` or ``dynamics_sl``."""
        ...

    @property
    def strategy(self) -> PostingStrategy:
        """The configured posting strategy."""
        ...

    # --- customers -----------------------------------------------------------------------------

    def find_customer(
        self, *, customer_id: str = "", paytrace_customer_id: str = ""
    ) -> ErpCustomer | None:
        """Find a customer by ERP id, else by the linked PayTrace customer id."""
        ...

    def get_customer(self, customer_id: str) -> CustomerDetail | None:
        """A customer with every ERP-owned field, by ERP id."""
        ...

    def find_customers(
        self, *, paytrace_customer_id: str = "", email: str = "", name: str = ""
    ) -> list[CustomerDetail]:
        """Customers matching the first criterion given (PayTrace id, else e-mail, else name).

        E-mail and name compare case-insensitively and ignore surrounding blanks.
        """
        ...

    def upsert_customer(self, profile: CustomerProfile) -> CustomerDetail:
        """Create the customer, or update its ERP-owned fields when it exists."""
        ...

    def link_paytrace_customer(self, customer_id: str, paytrace_customer_id: str) -> CustomerDetail:
        """Store the PayTrace customer id in the configured user field (idempotent).

        Raises ``ErpBusinessError`` if another customer already holds that PayTrace id.
        """
        ...

    def customers_changed_since(self, cursor: str, limit: int = 500) -> CustomerChanges:
        """Customers whose ERP-owned fields changed after the cursor, oldest change first.

        Writing the card on file (``set_card_on_file``, PayTrace-owned) does not count as a
        change.
        """
        ...

    def set_credit_hold(self, customer_id: str, on_hold: bool) -> CustomerDetail:
        """Put a customer on credit hold or release the hold (idempotent).

        Sage 500 ``tarCustomer.Hold`` 1/0; Dynamics SL ``Customer.Status`` ``H`` / ``A`` (an
        administrative hold ``R`` is an SL user's and is left alone). Returns the customer as it
        stands after the call (``on_hold`` reflects it).

        Raises:
            CustomerNotUsableError: the customer does not exist (Dynamics SL: or is inactive and
                a hold is asked for).
        """
        ...

    def autopay_customers(self) -> list[CustomerDetail]:
        """Active customers of the company enrolled in autopay, by customer id.

        Enrolled: the configured autopay user field holds Y, YES, 1, TRUE or AUTOPAY (any case,
        blanks trimmed). Customers on credit hold are active and listed (``on_hold`` says so).
        """
        ...

    def set_autopay(self, customer_id: str, on: bool) -> CustomerDetail:
        """Enroll a customer in autopay (writes ``Y``) or take it out (blank); idempotent.

        Raises:
            CustomerNotUsableError: the customer does not exist.
        """
        ...

    def set_card_on_file(self, customer_id: str, text: str) -> CustomerDetail:
        """Write the masked card and expiry (``x1111 12/2028``) to the card user field.

        Idempotent; blank clears it. PayTrace-owned: it is written without the change stamp
        ``customers_changed_since`` pages by.

        Raises:
            CustomerNotUsableError: the customer does not exist.
            ErpBusinessError: the text holds 5 or more consecutive digits once spaces and dashes
                (also slashes, dots) are removed, a trailing expiry ``MM/YY(YY)`` aside (it
                could be a card number), or does not fit the column.
        """
        ...

    # --- open documents ------------------------------------------------------------------------

    def invoice_by_number(self, number: str) -> OpenInvoice | None:
        """Find an AR invoice by the number PayTrace carried (normalized); paid ones too."""
        ...

    def open_invoices(self, customer_id: str) -> list[OpenInvoice]:
        """All invoices of a customer with a balance above zero, oldest due first."""
        ...

    def open_balance(self, customer_id: str) -> Decimal:
        """What the customer still owes on open invoices (pending applications deducted)."""
        ...

    # --- periods and read-back -----------------------------------------------------------------

    def fiscal_period(self, day: date) -> FiscalPeriod | None:
        """The fiscal period a date falls in, with whether it is open; None when none covers it."""
        ...

    def find_receipt(
        self, paytrace_transaction_id: int, source: PaymentSource = PaymentSource.CARD
    ) -> ReceiptRecord | None:
        """Read back the cash receipt written for a PayTrace payment.

        The receipt is the document of kind ``receipt`` keyed ``receipt_key(id, source)``: a card
        transaction and an ACH check transaction with the same number are two payments.
        ``ReceiptRecord.source`` says which one was found.
        """
        ...

    def find_document(self, kind: DocumentKind, key: str) -> ErpDocument | None:
        """Read back the document of a kind written for a business key."""
        ...

    def documents_for_transaction(
        self, paytrace_transaction_id: int, source: PaymentSource = PaymentSource.CARD
    ) -> list[ErpDocument]:
        """Every document written for a PayTrace payment (receipt, memo, reversal, ...).

        Oldest first, also within one second (a dispute's reversals and reapplications, in the
        order they were written; write-offs carrying the id are listed too). Only the documents
        of the ``source`` payment: an ACH payment's receipt and
        reversal are not listed under the card transaction with the same number, nor the other
        way round (memos, journals and deposits belong to card transactions).
        """
        ...

    def documents_by_keys(self, kind: DocumentKind, keys: Sequence[str]) -> list[ErpDocument]:
        """Bulk read-back: the documents of a kind written for any of the business keys.

        For reconciling a settlement batch of any size (tens of thousands of keys): keys go to
        the database in chunks of at most 500. The documents come in the order of the keys;
        keys nothing was written for are left out; a key given twice is returned once. Like
        ``find_document``, a document is found whatever company it was written for.
        """
        ...

    def documents_dated(self, kind: DocumentKind, start: date, end: date) -> list[ErpDocument]:
        """The documents of a kind this connector's company wrote, dated start to end inclusive.

        The document date is the receipt, memo, reversal or entry date (``ErpDocument
        .document_date``). Ordered by date, then business key; empty when ``end < start``.
        """
        ...

    # --- configuration checks and ERP-initiated work --------------------------------------------

    def gl_account_states(self, accounts: Sequence[str]) -> dict[str, AccountState]:
        """Whether each GL account exists and is active in the ERP (``tracepost mapping check``).

        Each string is an account as the ``accounts`` and ``cash_account`` options take it (Sage
        500 ``GLAcctNo``; Dynamics SL ``Acct`` or ``Acct/Sub``, whose subaccount is checked as
        well). The result has one entry per distinct string given, keyed by that string:
        ``MISSING`` when the account (or the subaccount it names) does not exist or the string
        is blank, ``INACTIVE`` when it exists but cannot take postings, else ``ACTIVE``.
        """
        ...

    def flagged_refund_memos(self, marker: str, since: date) -> list[FlaggedMemo]:
        """Posted credit memos an ERP user flagged for a card refund in PayTrace.

        A memo is flagged when its comment (Sage 500 ``TranCmnt``, Dynamics SL ``DocDesc``)
        starts with ``marker``, compared case-insensitively after leading blanks. Only memos of
        the connector's company dated ``since`` or later; memos tracepost wrote itself
        (cross-referenced in ``tptPaytraceXref``) are never listed. ``amount`` is positive,
        ``applied_to`` lists the invoices the posted applications credit, ``comment`` is
        trimmed. Ordered by memo date, then memo number.

        Raises:
            ErpBusinessError: the marker is blank (it would flag every memo).
        """
        ...

    # --- writes --------------------------------------------------------------------------------

    def write_receipt(self, receipt: CashReceipt) -> ReceiptRecord:
        """Write a pending cash receipt with its applications, on-account rest and write-offs.

        Exactly once per ``receipt.key`` (card ``1000123``, ACH ``ach-5000001``); the ERP
        document's comment leads with ``paytrace_tag(id, source)`` (``PT ACH 5000001``). A
        non-blank ``receipt.cash_account`` replaces the configured cash account for this receipt
        and is validated the same way (missing or inactive: ``MissingGlAccountError``).

        A non-blank ``receipt.sales_order`` (the store's order id ``write_sales_order`` wrote)
        makes it a prepayment of that order, wholly unapplied (Dynamics SL ``ARDoc`` PP; Sage
        500 an unapplied receipt naming the order): applications are refused
        (``ErpBusinessError``), an order never written is ``DocumentNotFoundError``. It is read
        back by ``receipt.key`` like any receipt.
        """
        ...

    def write_credit_memo(self, memo: CreditMemo) -> ErpDocument:
        """Write a pending credit memo, applied to the original invoice when it is still open."""
        ...

    def reverse_receipt(self, reversal: ReceiptReversal) -> ErpDocument:
        """Reverse the payment in force and reopen every invoice it paid.

        The payment is the one keyed ``receipt_key(reversal.paytrace_transaction_id,
        reversal.source)`` (an ACH return: ``ReversalReason.ACH_RETURN``, ``source=ACH``); the
        other source's payment with the same number is left alone. A payment cycles (dispute
        flips): receipt, reversal, reapplication, reversal, reapplication ... The payment in
        force is the receipt, or the latest reapplication; a reversal reverses what it applied
        (invoices reopen, its on-account rest is taken back too).

        Exactly once per ``reversal.key`` (the same key again reads back, ``created`` False).
        Refused (``ErpBusinessError``) while the payment is reversed, i.e. its latest reversal
        is not followed by a reapplication: a second reversal under another key of a payment
        never reapplied is refused.
        """
        ...

    def reapply_receipt(self, reapplication: Reapplication) -> ErpDocument:
        """Apply a reversed payment again to what it first paid where still open, rest on account.

        Exactly once per ``reapplication.key``. Refused (``ErpBusinessError``) unless the payment
        is currently reversed (never reversed, or already reapplied since its latest reversal);
        the latest reversal must be posted first (Sage 500 ``DocumentNotFoundError``, Dynamics SL
        ``ErpBusinessError``).
        """
        ...

    def write_off_invoice(self, write_off: InvoiceWriteOff) -> ErpDocument:
        """Write off (part of) an open invoice's balance to the write-off account, exactly once.

        The account is ``accounts["write_off"]``, else the ERP default receipt write-offs use.
        Sage 500: a type-506 (Write Offs) batch whose pending application writes the amount off
        the invoice; Dynamics SL: a small-balance ``SB`` document applied to the invoice. Read
        back with ``find_document(WRITE_OFF, key)``, posted with ``post_document``; posting
        lowers the invoice's balance. A customer on credit hold is accepted.

        Raises:
            ErpBusinessError: the amount is not positive whole cents, or the key is unusable.
            InvoiceNotOpenError: the invoice is missing, another customer's, or owes less.
            ClosedPeriodError: the write-off date's period is closed or missing.
            MissingGlAccountError: the write-off account is missing or inactive.
        """
        ...

    def write_journal(self, entry: JournalEntry) -> ErpDocument:
        """Write a balanced GL journal entry in the entry date's (open) period."""
        ...

    def write_deposit(self, deposit: Deposit) -> ErpDocument:
        """Write one bank deposit for a settled PayTrace batch, linking its receipts."""
        ...

    def write_sales_order(self, order: SalesOrder) -> ErpDocument:
        """Write a sales order with its lines (eCommerce ``order.paid``)."""
        ...

    def post_receipt(
        self, paytrace_transaction_id: int, source: PaymentSource = PaymentSource.CARD
    ) -> ReceiptRecord:
        """Finish the receipt's batch with the configured posting strategy; idempotent.

        The receipt is the one ``find_receipt(paytrace_transaction_id, source)`` reads back.
        """
        ...

    def post_document(self, kind: DocumentKind, key: str) -> ErpDocument:
        """Finish a written document's batch with the configured posting strategy; idempotent."""
        ...
