"""The rows Sage 500's Enter Cash Receipts screen leaves behind for one receipt, built as dicts.

Pure functions: the connector takes keys and numbers first, then asks for the rows, so the exact
columns and values written are reviewable in one place (and golden-tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from connectors.erp.sage500 import codes
from connectors.erp.sage500.periods import midnight
from connectors.erp.tags import paytrace_tag, tagged_text
from connectors.erp.xref import xref_row
from domain.erp_documents import DocumentKind
from domain.models import CashReceipt, PaymentSource
from domain.money import quantize

ZERO3 = Decimal("0.000")
COMMENT_WIDTH = 50


@dataclass(frozen=True)
class InvoiceTarget:
    """An invoice an application goes to, as read (and locked) from tarInvoice."""

    invc_key: int
    tran_id: str
    tran_date: datetime
    number: str = ""


@dataclass(frozen=True)
class ReceiptKeys:
    """Keys and numbers taken for one receipt before its rows are built."""

    batch_key: int
    batch_no: int
    batch_type_id: str
    cust_pmt_key: int
    tran_no: int
    tran_type_id: str
    appl_keys: tuple[int, ...]
    cash_acct_key: int


@dataclass(frozen=True)
class ReceiptRows:
    """Everything one receipt writes, table by table."""

    batch_log: dict[str, Any]
    batch: dict[str, Any]
    pend_cust_pmt: dict[str, Any]
    pend_appls: list[dict[str, Any]]
    xref: dict[str, Any]

    @property
    def batch_id(self) -> str:
        """The batch's ``BatchID``."""
        return str(self.batch_log["BatchID"])

    @property
    def tran_id(self) -> str:
        """The receipt's ``TranID``."""
        return str(self.pend_cust_pmt["TranID"])


def tagged_comment(
    paytrace_transaction_id: int,
    reference: str,
    suffix: str = "",
    source: PaymentSource = PaymentSource.CARD,
) -> str:
    """A comment starting with ``PT <id>``: what a Sage user searches receipts and memos by.

    The tag leads even when the reference carries it further back (a long reference would cut
    it off at 50 characters), and ``PT 10001234`` in a reference is not the tag of 1000123.

    Args:
        paytrace_transaction_id: the document's PayTrace transaction id.
        reference: free text that follows the tag (its own copy of the tag is dropped).
        suffix: appended after the reference, e.g. ``"(VISA)"``.
        source: card (``PT 1000123``) or ACH (``PT ACH 5000001``).

    Returns:
        At most 50 characters.
    """
    tag = paytrace_tag(paytrace_transaction_id, source)
    return tagged_text(tag, reference, suffix, COMMENT_WIDTH)


def receipt_comment(receipt: CashReceipt) -> str:
    """The comment a Sage user sees on the receipt: ``PT [ACH] <id> <reference> (<method>)``."""
    method = f"({receipt.payment_method})" if receipt.payment_method else ""
    return tagged_comment(
        receipt.paytrace_transaction_id, receipt.reference, method, receipt.source
    )


def build_receipt_rows(
    receipt: CashReceipt,
    *,
    company_id: str,
    cust_key: int,
    cust_id: str,
    targets: list[InvoiceTarget],
    keys: ReceiptKeys,
    user_id: str,
    now: datetime,
) -> ReceiptRows:
    """Build the batch, pending receipt, pending application and cross-reference rows.

    Args:
        receipt: the validated receipt; ``targets[i]`` is the invoice of ``applications[i]``.
        company_id: the Sage company.
        cust_key: ``tarCustomer.CustKey`` of the paying customer.
        cust_id: its ``CustID``.
        targets: the invoices, in the order of the receipt's applications.
        keys: keys and numbers already taken.
        user_id: the Sage user id tracepost writes as.
        now: the audit timestamp.

    Returns:
        The rows, ready for ``insert``.
    """
    post_date = midnight(receipt.receipt_date)
    comment = receipt_comment(receipt)
    batch_id = codes.batch_id("AR", keys.batch_type_id, keys.batch_no)
    number = codes.tran_no(keys.tran_no)
    tran_id = codes.tran_id(number, keys.tran_type_id)
    amount = quantize(receipt.amount, 3)
    unapplied = quantize(receipt.on_account, 3)
    audit = {"CreateDate": now, "CreateUserID": user_id, "UpdateCounter": 0}
    batch_log = {
        "BatchKey": keys.batch_key,
        "BatchID": batch_id,
        "BatchNo": keys.batch_no,
        "BatchType": codes.BATCH_TYPE_CASH_RECEIPT,
        "Status": codes.BATCH_STATUS_BALANCED,
        "PostStatus": codes.POST_STATUS_OPEN,
        "SourceCompanyID": company_id,
        "PostCompanyID": company_id,
        "BatchCmnt": comment,
        "PostDate": post_date,
        "NextSeqNo": len(receipt.applications) + 1,
        "RgstrPrinted": 0,
        **audit,
    }
    batch = {
        "BatchKey": keys.batch_key,
        "CashAcctKey": keys.cash_acct_key,
        "BatchCmnt": comment,
        "PostDate": post_date,
        "Hold": 0,
        "Private": 0,
        "SourceModule": codes.MODULE_AR,
    }
    pend_cust_pmt = {
        "CustPmtKey": keys.cust_pmt_key,
        "CompanyID": company_id,
        "CustKey": cust_key,
        "BatchKey": keys.batch_key,
        "CashAcctKey": keys.cash_acct_key,
        "TranID": tran_id,
        "TranNo": number,
        "TranType": codes.TRAN_TYPE_CUST_PMT,
        "TranDate": post_date,
        "PostDate": post_date,
        "TranAmt": amount,
        "TranAmtHC": amount,
        "UnappliedAmt": unapplied,
        "UnappliedAmtHC": unapplied,
        "CurrID": "USD",
        "CurrExchRate": 1,
        "Status": codes.DOC_STATUS_OPEN,
        "SourceModule": codes.MODULE_AR,
        "TranCmnt": comment,
        **audit,
        "UpdateDate": None,
        "UpdateUserID": None,
        "CreateType": codes.CREATE_TYPE_STANDARD,
    }
    pend_appls = []
    for seq, (app, target, appl_key) in enumerate(
        zip(receipt.applications, targets, keys.appl_keys, strict=True), start=1
    ):
        paid = quantize(app.amount, 3)
        written_off = quantize(app.write_off, 3)
        pend_appls.append(
            {
                "CustPmtApplKey": appl_key,
                "BatchKey": keys.batch_key,
                "SeqNo": seq,
                "AppliedAtCreation": 1,
                "ApplyFromPmtKey": keys.cust_pmt_key,
                "ApplyFromTranID": tran_id,
                "ApplyFromTranDate": post_date,
                "ApplyToInvcKey": target.invc_key,
                "ApplyToTranID": target.tran_id,
                "ApplyToTranDate": target.tran_date,
                "CurrExchRate": 1,
                "PmtAmt": paid,
                "PmtAmtIC": paid,
                "DiscTakenAmt": ZERO3,
                "DiscTakenAmtIC": ZERO3,
                "WriteOffAmt": written_off,
                "WriteOffAmtIC": written_off,
                "RealGainLossAmt": ZERO3,
                **audit,
            }
        )
    xref = xref_row(
        kind=DocumentKind.RECEIPT,
        key=receipt.key,
        company_id=company_id,
        doc_no=tran_id,
        batch_id=batch_id,
        amount=amount,
        now=now,
        paytrace_transaction_id=receipt.paytrace_transaction_id,
        customer_id=cust_id,
        doc_key=keys.cust_pmt_key,
        batch_key=keys.batch_key,
        doc_date=receipt.receipt_date,
        applied_to=tuple(t.number for t in targets),
        source=receipt.source,
    )
    return ReceiptRows(batch_log, batch, pend_cust_pmt, pend_appls, xref)
