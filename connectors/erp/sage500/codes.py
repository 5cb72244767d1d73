"""Sage 500 code values and document-number formats the stand-in and the connector share.

Values marked UNSURE in ``docs/erp/sage500.md`` are kept here, in one place, so a real database
that disagrees needs one edit.
"""

from __future__ import annotations

from domain.matching import normalize_invoice_number

# Modules (tsmModule numbers).
MODULE_AR = 5

# Batch types (tciBatchType).
BATCH_TYPE_AR_INVOICE = 501
BATCH_TYPE_CASH_RECEIPT = 503
BATCH_TYPE_WRITE_OFF = 506  # confirmed [ref C]; what Sage's own write-off rows look like is UNSURE

# Batch status (tciBatchLog.Status) and post status (tciBatchLog.PostStatus).
BATCH_STATUS_IN_USE = 1
BATCH_STATUS_BALANCED = 4
BATCH_STATUS_POSTED = 6
POST_STATUS_OPEN = 0
POST_STATUS_COMPLETE = 500

# Document types (tciTranType). UNSURE: see docs/erp/sage500.md.
TRAN_TYPE_INVOICE = 501
TRAN_TYPE_CUST_PMT = 510

# Customer status (tarCustomer.Status): 1 active is confirmed, 2 inactive is UNSURE.
CUST_STATUS_ACTIVE = 1
CUST_STATUS_INACTIVE = 2

# Document status (tarInvoice.Status, tarCustPmt.Status). UNSURE beyond "1 = open".
DOC_STATUS_OPEN = 1

# CreateType of rows tracepost writes (1 = standard, as if keyed on an entry screen).
CREATE_TYPE_STANDARD = 1

# GLAcctNo of the seeded cash account card receipts go to (tcmCashAcct CARD-CLEARING).
DEFAULT_CASH_ACCOUNT = "1010"

TRAN_NO_WIDTH = 10
BATCH_NO_WIDTH = 7


def tran_no(number: int | str) -> str:
    """Format a document number the way Sage 500 stores ``TranNo``: zero-padded to 10.

    Args:
        number: the number, e.g. ``1001`` or ``"1001"``.

    Returns:
        ``"0000001001"``; a value that is not all digits is returned unchanged.
    """
    text = str(number)
    return text.zfill(TRAN_NO_WIDTH) if text.isdigit() else text


def tran_id(number: str, tran_type_id: str) -> str:
    """Compose ``TranID`` (varchar 13) from ``TranNo`` and the 2-letter ``TranTypeID``.

    Args:
        number: the stored ``TranNo`` (already zero-padded).
        tran_type_id: ``tciTranTypeCompany.TranTypeID``, e.g. ``"IN"``.

    Returns:
        ``"0000001001-IN"``.
    """
    return f"{number}-{tran_type_id}"


def batch_id(module_id: str, batch_type_id: str, batch_no: int) -> str:
    """Compose a ``BatchID`` like the client mask ``APVO-0000000``: ``ARCR-0000123``.

    Args:
        module_id: two-letter module, ``"AR"``.
        batch_type_id: ``tciBatchTypCompany.BatchTypeID``, e.g. ``"CR"``.
        batch_no: the batch number taken from ``tciBatchTypCompany.NextBatchNo``.

    Returns:
        The batch id.
    """
    return f"{module_id}{batch_type_id}-{batch_no:0{BATCH_NO_WIDTH}d}"


def display_number(stored_tran_no: str, prefixes: tuple[str, ...] = ()) -> str:
    """The number a person sees and types into PayTrace: ``"0000001001"`` → ``"1001"``.

    Args:
        stored_tran_no: ``TranNo`` as stored.
        prefixes: invoice prefixes configured for normalization.

    Returns:
        The normalized, human-facing number.
    """
    return normalize_invoice_number(stored_tran_no, prefixes)


# tglFiscalPeriod.Status
PERIOD_STATUS_OPEN = 1
PERIOD_STATUS_CLOSED = 2

# tciContact.EntityType of a customer's contact (501 = the AR customer entity). UNSURE.
ENTITY_TYPE_CUSTOMER = 501

# Document type of an AR credit memo (tciTranType); entered in a 501 batch. UNSURE (see docs).
TRAN_TYPE_CREDIT_MEMO = 502
# tarInvoice.Status of a posted document (1 open, 2 ... closed/paid is UNSURE; see docs).
DOC_STATUS_CLOSED = 2

# GL journals: batch type 301 (confirmed); the journal entry document type. UNSURE.
MODULE_GL = 3
BATCH_TYPE_GL_JOURNAL = 301
TRAN_TYPE_GL_JOURNAL = 301

# Sales orders: document type 801 (confirmed [ref C]); line/dist Status 1 = open.
TRAN_TYPE_SALES_ORDER = 801
SO_STATUS_OPEN = 1
