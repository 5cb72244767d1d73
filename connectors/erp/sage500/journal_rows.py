"""The rows of a GL journal entry: a type-301 batch with one ``tglPosting`` row per line.

Sign convention (see ``docs/erp/sage500.md``): ``PostAmt`` is the debit as a positive amount and
the credit as a negative amount, so a balanced batch sums to zero. Pure; golden-tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from connectors.erp.sage500 import codes
from connectors.erp.xref import xref_row
from domain.erp_documents import DocumentKind, JournalEntry
from domain.money import quantize

COMMENT_WIDTH = 50
EXT_COMMENT_WIDTH = 255


@dataclass(frozen=True)
class JournalKeys:
    """Keys and numbers taken for one journal entry."""

    batch_key: int
    batch_no: int
    batch_type_id: str
    tran_no: int
    tran_type_id: str
    posting_keys: tuple[int, ...]
    gl_acct_keys: tuple[int, ...]


@dataclass(frozen=True)
class JournalRows:
    """Everything one journal entry writes."""

    batch_log: dict[str, Any]
    postings: list[dict[str, Any]]
    xref: dict[str, Any]


def build_journal_rows(
    entry: JournalEntry,
    *,
    company_id: str,
    keys: JournalKeys,
    user_id: str,
    now: datetime,
    kind: DocumentKind = DocumentKind.JOURNAL,
    xref_amount: Decimal | None = None,
) -> JournalRows:
    """Build the GL batch, its ``tglPosting`` rows and the cross-reference row.

    Args:
        entry: the validated, balanced entry; ``keys.gl_acct_keys[i]`` is line i's account.
        company_id: the Sage company.
        keys: keys and numbers already taken.
        user_id: the Sage user tracepost writes as.
        now: the audit timestamp.
        kind: the document kind of the xref row (a deposit is a GL transfer too).
        xref_amount: the xref amount; default the entry's total debits.

    Returns:
        The rows, ready for ``insert``.
    """
    post_date = datetime.combine(entry.entry_date, time())
    batch_id = codes.batch_id("GL", keys.batch_type_id, keys.batch_no)
    number = codes.tran_no(keys.tran_no)
    description = entry.description.strip()
    batch_log = {
        "BatchKey": keys.batch_key,
        "BatchID": batch_id,
        "BatchNo": keys.batch_no,
        "BatchType": codes.BATCH_TYPE_GL_JOURNAL,
        "Status": codes.BATCH_STATUS_BALANCED,
        "PostStatus": codes.POST_STATUS_OPEN,
        "SourceCompanyID": company_id,
        "PostCompanyID": company_id,
        "BatchCmnt": description[:COMMENT_WIDTH],
        "PostDate": post_date,
        "NextSeqNo": len(entry.lines) + 1,
        "RgstrPrinted": 0,
        "CreateDate": now,
        "CreateUserID": user_id,
        "UpdateCounter": 0,
    }
    postings = []
    for line, posting_key, acct_key in zip(
        entry.lines, keys.posting_keys, keys.gl_acct_keys, strict=True
    ):
        amount = quantize(line.debit, 3) - quantize(line.credit, 3)
        postings.append(
            {
                "PostingKey": posting_key,
                "BatchKey": keys.batch_key,
                "GLAcctKey": acct_key,
                "CurrID": "USD",
                "PostAmt": amount,
                "PostAmtHC": amount,
                "PostQty": 0,
                "PostCmnt": (line.memo.strip() or description)[:COMMENT_WIDTH],
                "ExtCmnt": description[:EXT_COMMENT_WIDTH],
                "JrnlNo": None,
                "TranDate": post_date,
                "TranKey": None,
                "TranNo": number,
                "TranType": codes.TRAN_TYPE_GL_JOURNAL,
                "PostDate": post_date,
                "SourceModuleNo": codes.MODULE_GL,
            }
        )
    total = sum((quantize(line.debit, 3) for line in entry.lines), Decimal("0.000"))
    xref = xref_row(
        kind=kind,
        key=entry.key,
        company_id=company_id,
        doc_no=codes.tran_id(number, keys.tran_type_id),
        batch_id=batch_id,
        amount=total if xref_amount is None else xref_amount,
        now=now,
        paytrace_transaction_id=entry.paytrace_transaction_id,
        batch_key=keys.batch_key,
        doc_date=entry.entry_date,
    )
    return JournalRows(batch_log, postings, xref)
