"""``Sage500Connector``: tracepost's reads and writes against a Sage 500 ERP database.

A thin class: each operation lives in a module named for what it does (``receipts``,
``customers``, ``memos``, ``reversals``, ``journals``, ``deposits``, ``sales_orders``,
``post_flow``); this class holds the settings and delegates. Writes leave pending batches the
way Sage's entry screens do; a posting strategy finishes them (see ``docs/erp/sage500.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from connectors.erp.protocol import PostingStrategy
from connectors.erp.sage500 import (
    account_states,
    codes,
    customer_flags,
    customers,
    deposits,
    documents,
    flagged_memos,
    journals,
    lookups,
    memos,
    reads,
    receipts,
    reversals,
    sales_orders,
    write_offs,
)
from connectors.erp.sage500.documents import find_document, post_document
from connectors.erp.sage500.settings import DEFAULT_ACCOUNTS, SageSettings, local_now
from connectors.erp.xref import to_document
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
from domain.models import (
    CashReceipt,
    ErpCustomer,
    OpenInvoice,
    PaymentSource,
    ReceiptRecord,
    receipt_key,
)


class Sage500Connector:
    """The ``ErpConnector`` for Sage 500 ERP (and its SQLite/PostgreSQL stand-in).

    Args:
        engine: the Sage company database.
        company_id: ``CompanyID`` whose customers and invoices are used.
        strategy: how a written document's batch gets posted.
        user_id: the user written into audit columns (``CreateUserID``).
        cash_account: ``tglAccount.GLAcctNo`` of the ``tcmCashAcct`` receipts are deposited to.
        paytrace_id_field: the ``tarCustomer`` column holding the PayTrace customer id.
        autopay_field: the user field holding the autopay enrollment (blank: ``UserFld2``).
        card_field: the user field holding the masked card on file (blank: ``UserFld3``); a
            blank field whose default holds the PayTrace id takes the highest free user field.
        invoice_prefixes: prefixes dropped when normalizing invoice numbers (``("INV-",)``).
        accounts: GL account numbers by purpose (``bank``, ``undeposited``, ``card_fees``,
            ``chargeback_fees``, ``write_off``); missing ones use ``DEFAULT_ACCOUNTS``, except
            ``undeposited`` (what deposits clear), which defaults to ``cash_account``.
        clock: returns the audit timestamp; local time by default.

    Raises:
        ValueError: if ``paytrace_id_field``, ``autopay_field`` or ``card_field`` is not a
            ``tarCustomer`` user field, or two of them are the same.
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
        autopay_field: str = "",
        card_field: str = "",
        invoice_prefixes: tuple[str, ...] = (),
        accounts: dict[str, str] | None = None,
        clock: Callable[[], datetime] = local_now,
    ) -> None:
        self._engine = engine
        self._s = SageSettings(
            company_id=company_id,
            strategy=PostingStrategy(strategy),
            user_id=user_id,
            paytrace_id_field=paytrace_id_field,
            autopay_field=autopay_field,
            card_field=card_field,
            invoice_prefixes=tuple(invoice_prefixes),
            cash_account=cash_account,
            # Deposits clear the account receipts went to, unless told otherwise.
            accounts={
                **DEFAULT_ACCOUNTS,
                "undeposited": cash_account,
                **{k: v for k, v in (accounts or {}).items() if v},
            },
            clock=clock,
        )

    @property
    def erp_name(self) -> str:
        """Short name of the ERP: ``sage500``."""
        return lookups.ERP_NAME

    @property
    def strategy(self) -> PostingStrategy:
        """The configured posting strategy."""
        return self._s.strategy

    @property
    def settings(self) -> SageSettings:
        """The settings every operation reads."""
        return self._s

    # --- customers -----------------------------------------------------------------------------

    def find_customer(
        self, *, customer_id: str = "", paytrace_customer_id: str = ""
    ) -> ErpCustomer | None:
        """Find a customer by ``CustID``, else by the PayTrace id kept in ``paytrace_id_field``.

        Raises:
            ErpBusinessError: if the PayTrace id is linked to more than one customer.
            ErpUnavailableError: if the database cannot be reached.
        """
        return reads.find_customer(
            self._engine,
            self._s,
            customer_id=customer_id,
            paytrace_customer_id=paytrace_customer_id,
        )

    def get_customer(self, customer_id: str) -> CustomerDetail | None:
        """A customer with every ERP-owned field, by ``CustID``."""
        return customers.get_customer(self._engine, self._s, customer_id)

    def find_customers(
        self, *, paytrace_customer_id: str = "", email: str = "", name: str = ""
    ) -> list[CustomerDetail]:
        """Customers matching the first criterion given (PayTrace id, else e-mail, else name)."""
        return customers.find_customers(
            self._engine,
            self._s,
            paytrace_customer_id=paytrace_customer_id,
            email=email,
            name=name,
        )

    def upsert_customer(self, profile: CustomerProfile) -> CustomerDetail:
        """Create the customer, or update its ERP-owned fields when it exists."""
        return customers.upsert_customer(self._engine, self._s, profile)

    def link_paytrace_customer(self, customer_id: str, paytrace_customer_id: str) -> CustomerDetail:
        """Store the PayTrace customer id in the configured user field (idempotent)."""
        return customers.link_paytrace_customer(
            self._engine, self._s, customer_id, paytrace_customer_id
        )

    def customers_changed_since(self, cursor: str, limit: int = 500) -> CustomerChanges:
        """Customers whose ERP-owned fields changed after the cursor, oldest change first."""
        return customers.customers_changed_since(self._engine, self._s, cursor, limit)

    def set_credit_hold(self, customer_id: str, on_hold: bool) -> CustomerDetail:
        """Set or clear ``tarCustomer.Hold`` (idempotent); the customer after the change.

        Raises:
            CustomerNotUsableError: the customer does not exist.
        """
        return customer_flags.set_credit_hold(self._engine, self._s, customer_id, on_hold)

    def autopay_customers(self) -> list[CustomerDetail]:
        """Active customers of the company whose autopay field says yes, by ``CustID``."""
        return customer_flags.autopay_customers(self._engine, self._s)

    def set_autopay(self, customer_id: str, on: bool) -> CustomerDetail:
        """Write ``Y`` or blank to the autopay field (idempotent).

        Raises:
            CustomerNotUsableError: the customer does not exist.
        """
        return customer_flags.set_autopay(self._engine, self._s, customer_id, on)

    def set_card_on_file(self, customer_id: str, text: str) -> CustomerDetail:
        """Write the masked card and expiry to the card field, without an ERP change stamp.

        Raises:
            CustomerNotUsableError: the customer does not exist.
            ErpBusinessError: the text could hold a card number or is over 15 characters.
        """
        return customer_flags.set_card_on_file(self._engine, self._s, customer_id, text)

    # --- open documents ------------------------------------------------------------------------

    def invoice_by_number(self, number: str) -> OpenInvoice | None:
        """Find an AR invoice by the number PayTrace carried, paid ones included.

        Raises:
            ErpBusinessError: if the number matches more than one invoice.
            ErpUnavailableError: if the database cannot be reached.
        """
        return reads.invoice_by_number(self._engine, self._s, number)

    def open_invoices(self, customer_id: str) -> list[OpenInvoice]:
        """All invoices of a customer with a payable balance above zero, oldest due first."""
        return reads.open_invoices(self._engine, self._s, customer_id)

    def open_balance(self, customer_id: str) -> Decimal:
        """What the customer still owes on open invoices (pending applications deducted)."""
        return reads.open_balance(self._engine, self._s, customer_id)

    def fiscal_period(self, day: date) -> FiscalPeriod | None:
        """The fiscal period a date falls in, with whether it is open; None when none covers it."""
        return reads.fiscal_period(self._engine, self._s, day)

    def find_receipt(
        self, paytrace_transaction_id: int, source: PaymentSource = PaymentSource.CARD
    ) -> ReceiptRecord | None:
        """Read back the receipt of a card or ACH payment (``tptPaytraceXref``)."""
        return reads.find_receipt(self._engine, paytrace_transaction_id, source)

    def find_document(self, kind: DocumentKind, key: str) -> ErpDocument | None:
        """Read back the document of a kind written for a business key."""
        return find_document(self._engine, kind, key)

    def documents_for_transaction(
        self, paytrace_transaction_id: int, source: PaymentSource = PaymentSource.CARD
    ) -> list[ErpDocument]:
        """Every document written for a card or ACH payment, oldest first."""
        return documents.documents_for_transaction(self._engine, paytrace_transaction_id, source)

    def documents_by_keys(self, kind: DocumentKind, keys: Sequence[str]) -> list[ErpDocument]:
        """The documents of a kind written for any of the keys, in their order (chunked)."""
        return documents.documents_by_keys(self._engine, kind, keys)

    def documents_dated(self, kind: DocumentKind, start: date, end: date) -> list[ErpDocument]:
        """The company's documents of a kind dated start to end inclusive, by date then key."""
        return documents.documents_dated(self._engine, self._s, kind, start, end)

    # --- configuration checks and ERP-initiated work --------------------------------------------

    def gl_account_states(self, accounts: Sequence[str]) -> dict[str, AccountState]:
        """Whether each ``GLAcctNo`` exists in the company and is active (``tglAccount``)."""
        return account_states.gl_account_states(self._engine, self._s, accounts)

    def flagged_refund_memos(self, marker: str, since: date) -> list[FlaggedMemo]:
        """Posted credit memos (TranType 502) a Sage user flagged in ``TranCmnt``.

        Raises:
            ErpBusinessError: the marker is blank.
        """
        return flagged_memos.flagged_refund_memos(self._engine, self._s, marker, since)

    # --- writes --------------------------------------------------------------------------------

    def write_receipt(self, receipt: CashReceipt) -> ReceiptRecord:
        """Write a balanced cash receipt batch with its applications, exactly once.

        Raises:
            CustomerNotUsableError: the customer is unknown, inactive or on hold.
            InvoiceNotOpenError: an invoice is missing, another customer's, paid, or too small.
            ClosedPeriodError: the receipt date's fiscal period is closed or missing.
            ErpBusinessError: the amounts do not add up, or setup rows are missing.
            ErpUnavailableError: connection trouble or deadlock victim (retryable).
        """
        return receipts.write_receipt(self._engine, self._s, receipt)

    def write_credit_memo(self, memo: CreditMemo) -> ErpDocument:
        """Write a pending credit memo, applied to the original invoice when it is still open."""
        return memos.write_credit_memo(self._engine, self._s, memo)

    def reverse_receipt(self, reversal: ReceiptReversal) -> ErpDocument:
        """Reverse the payment in force (receipt or latest reapplication), reopen what it paid."""
        return reversals.reverse_receipt(self._engine, self._s, reversal)

    def reapply_receipt(self, reapplication: Reapplication) -> ErpDocument:
        """Apply a reversed payment again to what it first paid, the rest on account.

        Refused unless the payment is reversed now (its latest reversal posted, not reapplied).
        """
        return reversals.reapply_receipt(self._engine, self._s, reapplication)

    def write_off_invoice(self, write_off: InvoiceWriteOff) -> ErpDocument:
        """Write off (part of) an invoice's balance in a type-506 batch, exactly once per key.

        Raises:
            ErpBusinessError: the amount is not positive whole cents.
            InvoiceNotOpenError: the invoice is missing, another customer's, or owes less.
            ClosedPeriodError: the write-off date's period is closed or missing.
            MissingGlAccountError: the write-off account is missing or inactive.
        """
        return write_offs.write_off_invoice(self._engine, self._s, write_off)

    def write_journal(self, entry: JournalEntry) -> ErpDocument:
        """Write a balanced GL journal entry in the entry date's (open) period."""
        return journals.write_journal(self._engine, self._s, entry)

    def write_deposit(self, deposit: Deposit) -> ErpDocument:
        """Write one bank deposit for a settled PayTrace batch, linking its receipts."""
        return deposits.write_deposit(self._engine, self._s, deposit)

    def write_sales_order(self, order: SalesOrder) -> ErpDocument:
        """Write a sales order with its lines (eCommerce ``order.paid``)."""
        return sales_orders.write_sales_order(self._engine, self._s, order)

    def post_receipt(
        self, paytrace_transaction_id: int, source: PaymentSource = PaymentSource.CARD
    ) -> ReceiptRecord:
        """Finish the receipt's batch with the configured posting strategy; idempotent.

        Raises:
            DocumentNotFoundError: nothing was written for the transaction.
            ErpBusinessError: the batch was deleted, or ``procedures`` is not available.
            InvoiceNotOpenError: posting would take an invoice below zero.
            ErpUnavailableError: the database could not be reached (retryable).
        """
        key = receipt_key(paytrace_transaction_id, source)
        row = post_document(self._engine, self._s, DocumentKind.RECEIPT, key)
        return lookups.to_record(row)

    def post_document(self, kind: DocumentKind, key: str) -> ErpDocument:
        """Finish a written document's batch with the configured posting strategy; idempotent."""
        row = post_document(self._engine, self._s, kind, key)
        return to_document(row, lookups.ERP_NAME)
