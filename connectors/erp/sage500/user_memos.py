"""A credit memo a Sage user enters and posts (stand-in helper for tests and the demo).

What Enter Invoices (a TranType 502 memo) and its posting leave in the stand-in: the posted
memo in ``tarInvoice`` (negative ``TranAmt``/``Balance``, keyed by ``tciSurrogateKey``, in the
company's posted demo invoice batch) and, when it is applied to an open invoice, the posted
application (``tarCustPmtAppl``, apply-from = the memo) with the invoice's ``Balance`` lowered
by it. The same shape tracepost's own memos take once posted (``posting_memo``), entered by the
user ``admin`` instead of ``tracepost``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.locks import lock_rows, write_transaction
from connectors.erp.sage500 import codes, lookups
from connectors.erp.sage500.demo import DEFAULT_COMPANY, SEED_USER, invoice_batch, invoice_row
from connectors.erp.sage500.numbering import next_surrogate_block
from connectors.erp.sage500.periods import midnight
from connectors.erp.sage500.receipt_rows import COMMENT_WIDTH
from connectors.erp.sage500.schema import (
    tarCustomer,
    tarCustPmtAppl,
    tarInvoice,
    tarPendInvoice,
    tciBatchLog,
    tciTranTypeCompany,
)
from connectors.erp.sage500.settings import local_now
from domain.money import quantize

ZERO3 = Decimal("0.000")
MEMO_TYPE_ID = "CM"  # tciTranTypeCompany.TranTypeID of 502 when the company has none


def add_credit_memo(
    engine: sa.Engine,
    *,
    company_id: str,
    customer_id: str,
    number: str,
    amount: Decimal,
    memo_date: date,
    comment: str,
    apply_to: str = "",
) -> None:
    """Add a posted credit memo, applied to an open invoice when ``apply_to`` names one.

    Args:
        engine: the stand-in database.
        company_id: the Sage company; blank: ``SOA``.
        customer_id: ``CustID`` of the customer credited.
        number: the memo's ``TranNo`` as keyed (digits are zero-padded to 10).
        amount: the memo amount, positive, whole cents.
        memo_date: ``TranDate``/``PostDate``.
        comment: ``TranCmnt`` (cut to 50).
        apply_to: the visible number of the customer's open invoice it pays, or blank.

    Raises:
        ValueError: the amount is not positive whole cents, the number is longer than
            ``TranNo`` or another document's already, the customer or the invoice does not
            exist, or the invoice is not open.
    """
    if amount <= 0 or quantize(amount, 2) != amount:
        raise ValueError(f"credit memo amount must be positive whole cents, not {amount}")
    tran_no = codes.tran_no(number.strip())
    if not tran_no or len(tran_no) > codes.TRAN_NO_WIDTH:
        raise ValueError(f"credit memo number {number!r} does not fit TranNo (10)")
    company = company_id or DEFAULT_COMPANY
    now = local_now()
    with write_transaction(engine) as conn:
        cust_key = conn.execute(
            sa.select(tarCustomer.c.CustKey).where(
                tarCustomer.c.CompanyID == company, tarCustomer.c.CustID == customer_id
            )
        ).scalar()
        if cust_key is None:
            raise ValueError(f"customer {customer_id!r} does not exist in company {company}")
        target = _open_invoice(conn, company, int(cust_key), apply_to) if apply_to.strip() else None
        applied = min(amount, lookups.dec(target.Balance)) if target is not None else Decimal(0)
        batch_key = _posted_invoice_batch(conn, company, now)
        tran_id = codes.tran_id(tran_no, _type_id(conn, company))
        _refuse_taken(conn, company, tran_id)
        invc_key = next_surrogate_block(conn, "tarInvoice", 1)
        conn.execute(
            sa.insert(tarInvoice),
            [
                memo_row(
                    company_id=company,
                    invc_key=invc_key,
                    tran_no=tran_no,
                    tran_id=tran_id,
                    cust_key=int(cust_key),
                    batch_key=batch_key,
                    memo_date=memo_date,
                    amount=amount,
                    applied=applied,
                    comment=comment,
                    now=now,
                )
            ],
        )
        if target is not None:
            _apply(conn, target, batch_key, invc_key, tran_id, memo_date, applied, now)
        if tran_no.isdigit():
            tt = tciTranTypeCompany.c
            conn.execute(
                sa.update(tciTranTypeCompany)
                .where(
                    tt.CompanyID == company,
                    tt.TranType == codes.TRAN_TYPE_CREDIT_MEMO,
                    tt.NextTranNo <= int(tran_no),
                )
                .values(NextTranNo=int(tran_no) + 1)
            )


def memo_row(
    *,
    company_id: str,
    invc_key: int,
    tran_no: str,
    tran_id: str,
    cust_key: int,
    batch_key: int,
    memo_date: date,
    amount: Decimal,
    applied: Decimal,
    comment: str,
    now: datetime,
) -> dict[str, Any]:
    """The posted ``tarInvoice`` row of a user's memo: negative amounts, Balance = -(rest)."""
    credit = -quantize(amount, 3)
    balance = -quantize(amount - applied, 3)
    row = invoice_row(
        company_id=company_id,
        invc_key=invc_key,
        number=tran_no,
        cust_key=cust_key,
        batch_key=batch_key,
        tran_date=memo_date,
        due=memo_date,
        total=amount,
        balance=amount,
        comment=comment[:COMMENT_WIDTH],
        now=now,
        user_id=SEED_USER,
    )
    return row | {
        "TranID": tran_id,
        "TranType": codes.TRAN_TYPE_CREDIT_MEMO,
        "TranAmt": credit,
        "TranAmtHC": credit,
        "Balance": balance,
        "BalanceHC": balance,
        "SalesAmt": credit,
        "CustPONo": None,
    }


def _refuse_taken(conn: sa.Connection, company: str, tran_id: str) -> None:
    """ValueError when a posted or pending document of the company has the ``TranID``."""
    for table in (tarInvoice, tarPendInvoice):
        found = conn.execute(
            sa.select(table.c.InvcKey).where(
                table.c.CompanyID == company, table.c.TranID == tran_id
            )
        ).first()
        if found is not None:
            raise ValueError(f"credit memo {tran_id} exists already in company {company}")


def _open_invoice(conn: sa.Connection, company: str, cust_key: int, number: str) -> Any:
    """The customer's invoice by visible number, locked; it must have a balance."""
    inv = tarInvoice.c
    candidates = lookups.tran_no_candidates(number, ())
    row = (
        conn.execute(
            lock_rows(
                sa.select(inv.InvcKey, inv.TranID, inv.TranDate, inv.Balance, inv.BalanceHC).where(
                    inv.CompanyID == company,
                    inv.CustKey == cust_key,
                    inv.TranType == codes.TRAN_TYPE_INVOICE,
                    inv.TranNo.in_(candidates),
                ),
                tarInvoice,
            )
        ).first()
        if candidates
        else None
    )
    if row is None:
        raise ValueError(f"invoice {number!r} of the customer does not exist in company {company}")
    if lookups.dec(row.Balance) <= 0:
        raise ValueError(f"invoice {number!r} is not open (balance {row.Balance})")
    return row


def _apply(
    conn: sa.Connection,
    target: Any,
    batch_key: int,
    invc_key: int,
    tran_id: str,
    memo_date: date,
    applied: Decimal,
    now: datetime,
) -> None:
    """The posted application of the memo to the invoice, and the invoice's lower balance."""
    appl = tarCustPmtAppl.c
    seq = conn.execute(
        sa.select(sa.func.coalesce(sa.func.max(appl.SeqNo), 0)).where(appl.BatchKey == batch_key)
    ).scalar_one()
    paid = quantize(applied, 3)
    conn.execute(
        sa.insert(tarCustPmtAppl),
        [
            {
                "CustPmtApplKey": next_surrogate_block(conn, "tarCustPmtAppl", 1),
                "BatchKey": batch_key,
                "SeqNo": int(seq) + 1,
                "AppliedAtCreation": 1,
                "ApplyFromPmtKey": invc_key,
                "ApplyFromTranID": tran_id,
                "ApplyFromTranDate": midnight(memo_date),
                "ApplyToInvcKey": int(target.InvcKey),
                "ApplyToTranID": str(target.TranID),
                "ApplyToTranDate": target.TranDate,
                "CurrExchRate": 1,
                "PmtAmt": paid,
                "PmtAmtIC": paid,
                "DiscTakenAmt": ZERO3,
                "DiscTakenAmtIC": ZERO3,
                "WriteOffAmt": ZERO3,
                "WriteOffAmtIC": ZERO3,
                "RealGainLossAmt": ZERO3,
                "CreateDate": now,
                "CreateUserID": SEED_USER,
                "UpdateCounter": 0,
            }
        ],
    )
    inv = tarInvoice.c
    conn.execute(
        sa.update(tarInvoice)
        .where(inv.InvcKey == int(target.InvcKey))
        .values(
            Balance=quantize(lookups.dec(target.Balance), 3) - paid,
            BalanceHC=quantize(lookups.dec(target.BalanceHC), 3) - paid,
            UpdateDate=now,
            UpdateUserID=SEED_USER,
            UpdateCounter=inv.UpdateCounter + 1,
        )
    )


def _posted_invoice_batch(conn: sa.Connection, company: str, now: datetime) -> int:
    """The company's posted demo invoice batch (``ARIN-0000001``), created when missing."""
    key = conn.execute(
        sa.select(tciBatchLog.c.BatchKey).where(
            tciBatchLog.c.SourceCompanyID == company,
            tciBatchLog.c.BatchID == codes.batch_id("AR", "IN", 1),
        )
    ).scalar()
    return int(key) if key is not None else invoice_batch(conn, company, now)


def _type_id(conn: sa.Connection, company: str) -> str:
    tt = tciTranTypeCompany.c
    value = conn.execute(
        sa.select(tt.TranTypeID).where(
            tt.CompanyID == company, tt.TranType == codes.TRAN_TYPE_CREDIT_MEMO
        )
    ).scalar()
    return str(value).strip() if value else MEMO_TYPE_ID
