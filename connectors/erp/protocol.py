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

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from domain.erp_documents import (
    CreditMemo,
    CustomerChanges,
    CustomerDetail,
    CustomerProfile,
    Deposit,
    DocumentKind,
    ErpDocument,
    FiscalPeriod,
    JournalEntry,
    Reapplication,
    ReceiptReversal,
    SalesOrder,
)
from domain.models import CashReceipt, ErpCustomer, OpenInvoice, ReceiptRecord


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
        """Customers whose ERP-owned fields changed after the cursor, oldest change first."""
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

    def find_receipt(self, paytrace_transaction_id: int) -> ReceiptRecord | None:
        """Read back the cash receipt written for a PayTrace transaction."""
        ...

    def find_document(self, kind: DocumentKind, key: str) -> ErpDocument | None:
        """Read back the document of a kind written for a business key."""
        ...

    def documents_for_transaction(self, paytrace_transaction_id: int) -> list[ErpDocument]:
        """Every document written for a PayTrace transaction (receipt, memo, reversal, ...)."""
        ...

    # --- writes --------------------------------------------------------------------------------

    def write_receipt(self, receipt: CashReceipt) -> ReceiptRecord:
        """Write a pending cash receipt with its applications, on-account rest and write-offs."""
        ...

    def write_credit_memo(self, memo: CreditMemo) -> ErpDocument:
        """Write a pending credit memo, applied to the original invoice when it is still open."""
        ...

    def reverse_receipt(self, reversal: ReceiptReversal) -> ErpDocument:
        """Reverse a posted receipt and reopen every invoice it paid."""
        ...

    def reapply_receipt(self, reapplication: Reapplication) -> ErpDocument:
        """Apply a reversed payment again to what it first paid, the rest on account."""
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

    def post_receipt(self, paytrace_transaction_id: int) -> ReceiptRecord:
        """Finish the receipt's batch with the configured posting strategy; idempotent."""
        ...

    def post_document(self, kind: DocumentKind, key: str) -> ErpDocument:
        """Finish a written document's batch with the configured posting strategy; idempotent."""
        ...
