"""Bank deposits: one per settled PayTrace batch in Cash Management, linking its receipts.

A ``tcmDeposit`` row on the bank cash account (``accounts["bank"]``) with one ``tcmDepositDetl``
row per receipt, written exactly once for the business key ``str(batch_number)``. Receipts must
have been written by tracepost (their xref rows are locked, so a receipt cannot land in two
deposits) and must not be in another deposit yet. Table names are UNSURE (docs).
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.errors import DocumentNotFoundError, ErpBusinessError
from connectors.erp.locks import lock_rows
from connectors.erp.procedures import require_mssql
from connectors.erp.protocol import PostingStrategy
from connectors.erp.sage500 import codes, lookups
from connectors.erp.sage500.numbering import next_surrogate_block, next_surrogate_keys
from connectors.erp.sage500.once import write_once
from connectors.erp.sage500.periods import require_open
from connectors.erp.sage500.posting import dec
from connectors.erp.sage500.schema import tcmDeposit, tcmDepositDetl, tptPaytraceXref
from connectors.erp.sage500.settings import ERP_LABEL, SageSettings
from connectors.erp.sage500.validation import cash_acct_key
from connectors.erp.xref import to_document, xref_row
from domain.erp_documents import Deposit, DocumentKind, ErpDocument
from domain.money import quantize

ZERO = Decimal(0)
COMMENT_WIDTH = 50


def deposit_id(batch_number: int) -> str:
    """``DepositID`` of a PayTrace settlement batch: ``PT-<batch number>``."""
    return f"PT-{batch_number}"[:15]


def write_deposit(engine: sa.Engine, s: SageSettings, deposit: Deposit) -> ErpDocument:
    """Write the deposit of a settled batch exactly once.

    Raises:
        ErpBusinessError: no receipts, a non-positive amount, or a receipt already deposited.
        DocumentNotFoundError: a receipt was never written by tracepost.
        ClosedPeriodError: the deposit date's period is closed or missing.
        ErpUnavailableError: connection trouble or deadlock victim (retryable).
    """
    key = str(deposit.batch_number)

    def write(conn: sa.Connection) -> bool:
        return _write(conn, s, deposit)

    row, created = write_once(engine, DocumentKind.DEPOSIT, key, "write_deposit", write)
    return to_document(row, lookups.ERP_NAME, created=created)


def _write(conn: sa.Connection, s: SageSettings, deposit: Deposit) -> bool:
    ids = list(dict.fromkeys(deposit.receipt_transaction_ids))
    if deposit.amount <= ZERO or not ids:
        raise ErpBusinessError(
            f"deposit of PayTrace batch {deposit.batch_number}: needs a positive amount and at"
            " least one receipt"
        )
    require_open(conn, s.company_id, deposit.deposit_date)
    receipts = _locked_receipts(conn, deposit.batch_number, ids)
    if conn.execute(
        sa.select(tptPaytraceXref.c.SourceKey).where(
            tptPaytraceXref.c.DocKind == DocumentKind.DEPOSIT.value,
            tptPaytraceXref.c.SourceKey == str(deposit.batch_number),
        )
    ).first():
        return False  # a racing writer of this deposit held the receipt locks
    _refuse_deposited(conn, deposit.batch_number, receipts)
    cash_key = cash_acct_key(conn, s.company_id, s.account("bank"))
    dep_key = next_surrogate_block(conn, "tcmDeposit", 1)
    detl_keys = next_surrogate_keys(conn, "tcmDepositDetl", len(receipts))
    now = s.clock()
    receipts_total = quantize(sum((dec(r.Amount) for r in receipts), ZERO), 3)
    comment = (deposit.reference.strip() or f"PayTrace batch {deposit.batch_number}")[
        :COMMENT_WIDTH
    ]
    conn.execute(
        sa.insert(tcmDeposit),
        [
            {
                "DepositKey": dep_key,
                "CompanyID": s.company_id,
                "CashAcctKey": cash_key,
                "DepositID": deposit_id(deposit.batch_number),
                "DepositDate": datetime.combine(deposit.deposit_date, time()),
                "DepositAmt": quantize(deposit.amount, 3),
                "ReceiptsAmt": receipts_total,
                "Status": codes.DEPOSIT_STATUS_ENTERED,
                "TranCmnt": comment,
                "CreateDate": now,
                "CreateUserID": s.user,
                "UpdateDate": None,
                "UpdateUserID": None,
                "UpdateCounter": 0,
            }
        ],
    )
    conn.execute(
        sa.insert(tcmDepositDetl),
        [
            {
                "DepositDetlKey": detl_key,
                "DepositKey": dep_key,
                "SeqNo": seq,
                "CustPmtKey": int(r.DocKey),
                "TranID": str(r.DocNo).strip(),
                "TranAmt": quantize(dec(r.Amount), 3),
            }
            for seq, (r, detl_key) in enumerate(zip(receipts, detl_keys, strict=True), 1)
        ],
    )
    conn.execute(
        sa.insert(tptPaytraceXref),
        [
            xref_row(
                kind=DocumentKind.DEPOSIT,
                key=str(deposit.batch_number),
                company_id=s.company_id,
                doc_no=deposit_id(deposit.batch_number),
                batch_id="",
                amount=deposit.amount,
                now=now,
                doc_key=dep_key,
                doc_date=deposit.deposit_date,
            )
        ],
    )
    return True


def _locked_receipts(conn: sa.Connection, batch_number: int, ids: list[int]) -> list[Any]:
    x = tptPaytraceXref.c
    rows = conn.execute(
        lock_rows(
            sa.select(tptPaytraceXref)
            .where(x.DocKind == DocumentKind.RECEIPT.value, x.SourceKey.in_([str(i) for i in ids]))
            .order_by(x.SourceKey),
            tptPaytraceXref,
        )
    ).all()
    found = {str(r.SourceKey): r for r in rows}
    missing = [i for i in ids if str(i) not in found]
    if missing:
        raise DocumentNotFoundError(
            f"deposit of PayTrace batch {batch_number}: no receipt was written for PayTrace"
            f" transaction(s) {', '.join(str(i) for i in missing)}"
        )
    return [found[str(i)] for i in ids]


def _refuse_deposited(conn: sa.Connection, batch_number: int, receipts: list[Any]) -> None:
    detl = tcmDepositDetl.c
    taken = conn.execute(
        sa.select(detl.TranID, tcmDeposit.c.DepositID)
        .join(tcmDeposit, tcmDeposit.c.DepositKey == detl.DepositKey)
        .where(detl.CustPmtKey.in_([int(r.DocKey) for r in receipts]))
        .order_by(detl.TranID)
    ).first()
    if taken is not None:
        raise ErpBusinessError(
            f"deposit of PayTrace batch {batch_number}: receipt {str(taken.TranID).strip()} is"
            f" already in deposit {str(taken.DepositID).strip()}"
        )


def finish_deposit(conn: sa.Connection, xref: sa.Row[Any], settings: SageSettings) -> bool:
    """``post_document`` of a deposit: mark it deposited (emulated) or report what Sage shows."""
    dep = tcmDeposit.c
    status = conn.execute(
        lock_rows(sa.select(dep.Status).where(dep.DepositKey == xref.DocKey), tcmDeposit)
    ).scalar()
    if status is None:
        raise ErpBusinessError(
            f"deposit {str(xref.DocNo).strip()} no longer exists in Sage 500 (deleted?)"
        )
    if int(status) == codes.DEPOSIT_STATUS_POSTED:
        return True
    if settings.strategy is PostingStrategy.MANUAL:
        return False
    if settings.strategy is PostingStrategy.PROCEDURES:
        require_mssql(conn, ERP_LABEL)
        raise ErpBusinessError(
            "posting strategy 'procedures' is not supported yet for Sage 500 deposits"
        )
    conn.execute(
        sa.update(tcmDeposit)
        .where(dep.DepositKey == xref.DocKey)
        .values(
            Status=codes.DEPOSIT_STATUS_POSTED,
            UpdateDate=settings.clock(),
            UpdateUserID=settings.user,
            UpdateCounter=dep.UpdateCounter + 1,
        )
    )
    return True
