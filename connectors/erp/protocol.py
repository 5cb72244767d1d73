"""The ``ErpConnector`` protocol: what tracepost reads from and writes to an ERP.

Every method takes and returns domain models; no SQLAlchemy row leaks out. Methods are synchronous
(the ERP drivers are), so activities that call them run in the worker's thread pool.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol, runtime_checkable

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
        """Short name of the ERP, e.g. ``sage500``."""
        ...

    def find_customer(
        self, *, customer_id: str = "", paytrace_customer_id: str = ""
    ) -> ErpCustomer | None:
        """Find a customer by ERP id, else by the linked PayTrace customer id."""
        ...

    def invoice_by_number(self, number: str) -> OpenInvoice | None:
        """Find an AR invoice by the number PayTrace carried (normalized); paid ones too."""
        ...

    def open_invoices(self, customer_id: str) -> list[OpenInvoice]:
        """All invoices of a customer with a balance above zero."""
        ...

    def find_receipt(self, paytrace_transaction_id: int) -> ReceiptRecord | None:
        """Read back what was already written for a PayTrace transaction."""
        ...

    def write_receipt(self, receipt: CashReceipt) -> ReceiptRecord:
        """Write a pending cash receipt with its applications, exactly once.

        Reads back by PayTrace transaction id first; the batch, the receipt, its applications and
        the cross-reference row commit in one database transaction.
        """
        ...

    def post_receipt(self, paytrace_transaction_id: int) -> ReceiptRecord:
        """Finish the receipt's batch with the configured posting strategy; idempotent."""
        ...
