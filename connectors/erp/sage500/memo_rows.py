"""The rows Sage 500's Enter Invoices screen leaves for one credit memo (pure, golden-tested).

A credit memo is an AR document of TranType 502 (``CM``) entered in a type-501 batch: a
``tarPendInvoice`` row with negative amounts (credit semantics: Sage sums ``Balance`` over all AR
documents for the customer's balance), plus, when it is applied at entry to the refunded
invoice, a pending application (``tarPendCustPmtAppl``) whose "apply from" is the memo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from connectors.erp.sage500 import codes
from connectors.erp.sage500.periods import midnight
from connectors.erp.sage500.receipt_rows import InvoiceTarget, tagged_comment
from connectors.erp.xref import xref_row
from domain.erp_documents import CreditMemo, DocumentKind
from domain.money import quantize

ZERO3 = Decimal("0.000")


@dataclass(frozen=True)
class MemoKeys:
    """Keys and numbers taken for one credit memo."""

    batch_key: int
    batch_no: int
    batch_type_id: str
    invc_key: int
    tran_no: int
    tran_type_id: str
    appl_key: int | None


@dataclass(frozen=True)
class MemoRows:
    """Everything one credit memo writes, table by table."""

    batch_log: dict[str, Any]
    batch: dict[str, Any]
    pend_invoice: dict[str, Any]
    pend_appls: list[dict[str, Any]]
    xref: dict[str, Any]


def memo_comment(memo: CreditMemo) -> str:
    """``PT <refund id> <reference>``, at most 50 characters."""
    return tagged_comment(memo.paytrace_transaction_id, memo.reference)


def build_memo_rows(
    memo: CreditMemo,
    *,
    company_id: str,
    cust_key: int,
    cust_id: str,
    target: InvoiceTarget | None,
    applied: Decimal,
    keys: MemoKeys,
    user_id: str,
    now: datetime,
) -> MemoRows:
    """Build the batch, pending memo, pending application and cross-reference rows.

    Args:
        memo: the validated memo.
        company_id: the Sage company.
        cust_key: ``CustKey`` of the customer credited.
        cust_id: its ``CustID``.
        target: the open invoice it applies to, or None (left open as a credit).
        applied: how much of the memo applies to ``target`` (0 without a target).
        keys: keys and numbers already taken.
        user_id: the Sage user tracepost writes as.
        now: the audit timestamp.

    Returns:
        The rows, ready for ``insert``.
    """
    post_date = midnight(memo.memo_date)
    comment = memo_comment(memo)
    batch_id = codes.batch_id("AR", keys.batch_type_id, keys.batch_no)
    number = codes.tran_no(keys.tran_no)
    tran_id = codes.tran_id(number, keys.tran_type_id)
    credit = -quantize(memo.amount, 3)
    audit = {"CreateDate": now, "CreateUserID": user_id, "UpdateCounter": 0}
    batch_log = {
        "BatchKey": keys.batch_key,
        "BatchID": batch_id,
        "BatchNo": keys.batch_no,
        "BatchType": codes.BATCH_TYPE_AR_INVOICE,
        "Status": codes.BATCH_STATUS_BALANCED,
        "PostStatus": codes.POST_STATUS_OPEN,
        "SourceCompanyID": company_id,
        "PostCompanyID": company_id,
        "BatchCmnt": comment,
        "PostDate": post_date,
        "NextSeqNo": 2 if target is not None else 1,
        "RgstrPrinted": 0,
        **audit,
    }
    batch = {
        "BatchKey": keys.batch_key,
        "CashAcctKey": None,
        "BatchCmnt": comment,
        "PostDate": post_date,
        "Hold": 0,
        "Private": 0,
        "SourceModule": codes.MODULE_AR,
    }
    pend_invoice = {
        "InvcKey": keys.invc_key,
        "CompanyID": company_id,
        "TranID": tran_id,
        "TranNo": number,
        "TranType": codes.TRAN_TYPE_CREDIT_MEMO,
        "CustKey": cust_key,
        "BatchKey": keys.batch_key,
        "TranDate": post_date,
        "PostDate": post_date,
        "DueDate": post_date,
        "DiscDate": None,
        "TranAmt": credit,
        "TranAmtHC": credit,
        "Balance": credit,
        "BalanceHC": credit,
        "SalesAmt": credit,
        "STaxAmt": ZERO3,
        "DiscAmt": ZERO3,
        "CurrID": "USD",
        "CurrExchRate": 1,
        "Status": codes.DOC_STATUS_OPEN,
        "SourceModule": codes.MODULE_AR,
        "CustPONo": None,
        "TranCmnt": comment,
        **audit,
        "UpdateDate": None,
        "UpdateUserID": None,
        "CreateType": codes.CREATE_TYPE_STANDARD,
    }
    pend_appls = []
    if target is not None and keys.appl_key is not None:
        amount = quantize(applied, 3)
        pend_appls.append(
            {
                "CustPmtApplKey": keys.appl_key,
                "BatchKey": keys.batch_key,
                "SeqNo": 1,
                "AppliedAtCreation": 1,
                "ApplyFromPmtKey": keys.invc_key,
                "ApplyFromTranID": tran_id,
                "ApplyFromTranDate": post_date,
                "ApplyToInvcKey": target.invc_key,
                "ApplyToTranID": target.tran_id,
                "ApplyToTranDate": target.tran_date,
                "CurrExchRate": 1,
                "PmtAmt": amount,
                "PmtAmtIC": amount,
                "DiscTakenAmt": ZERO3,
                "DiscTakenAmtIC": ZERO3,
                "WriteOffAmt": ZERO3,
                "WriteOffAmtIC": ZERO3,
                "RealGainLossAmt": ZERO3,
                **audit,
            }
        )
    xref = xref_row(
        kind=DocumentKind.CREDIT_MEMO,
        key=str(memo.paytrace_transaction_id),
        company_id=company_id,
        doc_no=tran_id,
        batch_id=batch_id,
        amount=quantize(memo.amount, 3),
        now=now,
        paytrace_transaction_id=memo.paytrace_transaction_id,
        customer_id=cust_id,
        doc_key=keys.invc_key,
        batch_key=keys.batch_key,
        doc_date=memo.memo_date,
        applied_to=(target.number,) if target is not None else (),
    )
    return MemoRows(batch_log, batch, pend_invoice, pend_appls, xref)
