"""ERP error taxonomy: business rejections are final, connection trouble is retryable."""

from __future__ import annotations


class ErpError(Exception):
    """Base class of every error an ERP connector raises on purpose."""

    retryable: bool = False
    kind: str = "erp_error"


class ErpBusinessError(ErpError):
    """The ERP refuses the document for a business reason; retrying cannot help."""

    kind = "erp_business_rule"


class ClosedPeriodError(ErpBusinessError):
    """The document's date falls in a closed or missing fiscal period."""

    kind = "erp_closed_period"


class CustomerNotUsableError(ErpBusinessError):
    """The customer is unknown, inactive or on hold."""

    kind = "erp_customer"


class InvoiceNotOpenError(ErpBusinessError):
    """An invoice to apply to is missing, already paid, or would go below zero."""

    kind = "erp_invoice_not_open"


class ErpUnavailableError(ErpError):
    """The ERP database could not be reached or the transaction was a deadlock victim."""

    retryable = True
    kind = "erp_unavailable"


class MissingGlAccountError(ErpBusinessError):
    """A GL account a document needs does not exist, or is inactive, in the ERP."""

    kind = "erp_gl_account"


class UnbalancedEntryError(ErpBusinessError):
    """A journal entry or batch whose debits and credits differ, or amounts that do not add up."""

    kind = "erp_unbalanced"


class DocumentNotFoundError(ErpBusinessError):
    """The document an operation refers to (a receipt to reverse, a batch to post) is missing."""

    kind = "erp_document_missing"
