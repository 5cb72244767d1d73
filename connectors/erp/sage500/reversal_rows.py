"""The rows of a receipt reversal: a negative cash receipt that takes back every application.

Built from the posted original (``tarCustPmt`` and its ``tarCustPmtAppl`` rows): a type-503 batch
with a pending receipt of ``-TranAmt`` (unapplied ``-UnappliedAmt``) and, for every application
of the original, a pending application of the negated payment, discount and write-off to the
same invoice. Posting it raises each invoice's balance by what the original took (reopens it)
and nets the customer's unapplied credit to zero. Pure; golden-tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from connectors.erp.sage500 import codes
from connectors.erp.sage500.lookups import dec
from connectors.erp.sage500.receipt_rows import COMMENT_WIDTH
from connectors.erp.tags import paytrace_tag
from connectors.erp.xref import xref_row
from domain.erp_documents import DocumentKind, ReceiptReversal
from domain.money import quantize

ZERO3 = Decimal("0.000")


@dataclass(frozen=True)
class ReversalKeys:
    """Keys and numbers taken for one reversal."""

    batch_key: int
    batch_no: int
    batch_type_id: str
    cust_pmt_key: int
    tran_no: int
    tran_type_id: str
    appl_keys: tuple[int, ...]


@dataclass(frozen=True)
class ReversalRows:
    """Everything one reversal writes, table by table."""

    batch_log: dict[str, Any]
    batch: dict[str, Any]
    pend_cust_pmt: dict[str, Any]
    pend_appls: list[dict[str, Any]]
    xref: dict[str, Any]


def reversal_comment(reversal: ReceiptReversal, original_tran_id: str) -> str:
    """``REV <original TranID> <reason> PT [ACH] <id> <reference>``, at most 50 characters."""
    tag = paytrace_tag(reversal.paytrace_transaction_id, reversal.source)
    text = f"REV {original_tran_id} {reversal.reason.value} {tag} {reversal.reference.strip()}"
    return text.strip()[:COMMENT_WIDTH]


def build_reversal_rows(
    reversal: ReceiptReversal,
    *,
    original: dict[str, Any],
    original_appls: list[dict[str, Any]],
    invoice_numbers: tuple[str, ...],
    cust_id: str,
    keys: ReversalKeys,
    user_id: str,
    now: datetime,
) -> ReversalRows:
    """Build the rows of a reversal of a posted receipt.

    Args:
        reversal: what to reverse and why.
        original: the posted ``tarCustPmt`` row.
        original_appls: its ``tarCustPmtAppl`` rows, by SeqNo.
        invoice_numbers: the visible numbers of the invoices reopened (xref ``AppliedTo``).
        cust_id: the customer's ``CustID``.
        keys: keys and numbers already taken.
        user_id: the Sage user tracepost writes as.
        now: the audit timestamp.

    Returns:
        The rows, ready for ``insert``.
    """
    post_date = datetime.combine(reversal.reversal_date, time())
    comment = reversal_comment(reversal, str(original["TranID"]))
    batch_id = codes.batch_id("AR", keys.batch_type_id, keys.batch_no)
    number = codes.tran_no(keys.tran_no)
    tran_id = codes.tran_id(number, keys.tran_type_id)
    audit = {"CreateDate": now, "CreateUserID": user_id, "UpdateCounter": 0}
    amount = quantize(dec(original["TranAmt"]), 3)
    unapplied = quantize(dec(original["UnappliedAmt"]), 3)
    batch_log = {
        "BatchKey": keys.batch_key,
        "BatchID": batch_id,
        "BatchNo": keys.batch_no,
        "BatchType": codes.BATCH_TYPE_CASH_RECEIPT,
        "Status": codes.BATCH_STATUS_BALANCED,
        "PostStatus": codes.POST_STATUS_OPEN,
        "SourceCompanyID": original["CompanyID"],
        "PostCompanyID": original["CompanyID"],
        "BatchCmnt": comment,
        "PostDate": post_date,
        "NextSeqNo": len(original_appls) + 1,
        "RgstrPrinted": 0,
        **audit,
    }
    batch = {
        "BatchKey": keys.batch_key,
        "CashAcctKey": original["CashAcctKey"],
        "BatchCmnt": comment,
        "PostDate": post_date,
        "Hold": 0,
        "Private": 0,
        "SourceModule": codes.MODULE_AR,
    }
    pend_cust_pmt = {
        **{k: original[k] for k in ("CompanyID", "CustKey", "CashAcctKey", "CurrID")},
        "CustPmtKey": keys.cust_pmt_key,
        "BatchKey": keys.batch_key,
        "TranID": tran_id,
        "TranNo": number,
        "TranType": codes.TRAN_TYPE_CUST_PMT,
        "TranDate": post_date,
        "PostDate": post_date,
        "TranAmt": -amount,
        "TranAmtHC": -amount,
        "UnappliedAmt": -unapplied,
        "UnappliedAmtHC": -unapplied,
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
    for seq, (appl, appl_key) in enumerate(zip(original_appls, keys.appl_keys, strict=True), 1):
        negated = {
            name: -quantize(dec(appl[name]), 3)
            for name in (
                "PmtAmt",
                "PmtAmtIC",
                "DiscTakenAmt",
                "DiscTakenAmtIC",
                "WriteOffAmt",
                "WriteOffAmtIC",
            )
        }
        pend_appls.append(
            {
                "CustPmtApplKey": appl_key,
                "BatchKey": keys.batch_key,
                "SeqNo": seq,
                "AppliedAtCreation": 1,
                "ApplyFromPmtKey": keys.cust_pmt_key,
                "ApplyFromTranID": tran_id,
                "ApplyFromTranDate": post_date,
                "ApplyToInvcKey": appl["ApplyToInvcKey"],
                "ApplyToTranID": appl["ApplyToTranID"],
                "ApplyToTranDate": appl["ApplyToTranDate"],
                "CurrExchRate": 1,
                **negated,
                "RealGainLossAmt": ZERO3,
                **audit,
            }
        )
    xref = xref_row(
        kind=DocumentKind.REVERSAL,
        key=reversal.key,
        company_id=str(original["CompanyID"]),
        doc_no=tran_id,
        batch_id=batch_id,
        amount=amount,
        now=now,
        paytrace_transaction_id=reversal.paytrace_transaction_id,
        customer_id=cust_id,
        doc_key=keys.cust_pmt_key,
        batch_key=keys.batch_key,
        doc_date=reversal.reversal_date,
        applied_to=invoice_numbers,
        source=reversal.source,
    )
    return ReversalRows(batch_log, batch, pend_cust_pmt, pend_appls, xref)
