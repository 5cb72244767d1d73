"""A credit memo an SL user enters in Invoice and Memo (08.010) and releases (stand-in helper).

Built the way the screen saves it (an AR batch from ``ARSetup.LastBatNbr``, the ``ARDoc`` CM
with the number the user keyed, its detail line to the refunds account and, when applied to an
open invoice, the application line ``DrCr = 'U'``), then released by the same emulated release
tracepost's own batches go through (``release.release_batch``): ``ARAdjust`` rows, ``DocBal``
of the memo and the invoice, offsets, ``AR_Balances``, the batch released. Entered by
``SYSADMIN``. A memo dated in a period AR has closed posts to the current AR period, as SL
lets a user enter it (the document date stays).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from connectors.erp.dynamics_sl import codes, lookups, numbering, validation
from connectors.erp.dynamics_sl.ar_schema import ARDoc, ARTran, with_record_ids
from connectors.erp.dynamics_sl.base import Batch, SlContext, pad, period_of, text
from connectors.erp.dynamics_sl.ledger_checks import read_setup
from connectors.erp.dynamics_sl.release import release_batch
from connectors.erp.dynamics_sl.rows import (
    Account,
    Posting,
    ardoc_row,
    artran_row,
    batch_row,
)
from connectors.erp.dynamics_sl.settings import local_now
from connectors.erp.errors import InvoiceNotOpenError
from connectors.erp.locks import write_transaction
from connectors.erp.protocol import PostingStrategy
from domain.money import quantize

USER_ID = "SYSADMIN"  # the SL user the demo data is entered as (demo.SEED_USER)
ZERO = Decimal(0)


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
    """Enter and release a credit memo, applied to an open invoice when ``apply_to`` names one.

    Args:
        engine: the stand-in database.
        company_id: ``CpnyID``; blank: ``0010``.
        customer_id: ``CustId`` of the customer credited.
        number: the memo's ``RefNbr`` as keyed (at most 10 characters).
        amount: the memo amount, positive, whole cents.
        memo_date: ``DocDate``.
        comment: ``DocDesc`` (cut to 30).
        apply_to: the ``RefNbr`` (or its unpadded number) of the customer's open invoice, or blank.

    Raises:
        ValueError: the amount is not positive whole cents, the number does not fit ``RefNbr``
            or is the customer's memo already, the customer or invoice does not exist, or the
            invoice is not open.
    """
    if amount <= 0 or quantize(amount, 2) != amount:
        raise ValueError(f"credit memo amount must be positive whole cents, not {amount}")
    ref_nbr = number.strip()
    if not ref_nbr or len(ref_nbr) > codes.REF_WIDTH:
        raise ValueError(f"credit memo number {number!r} does not fit RefNbr (10)")
    cpny = company_id or codes.DEFAULT_COMPANY
    now = local_now()
    ctx = SlContext(
        cpny_id=cpny,
        user_id=USER_ID,
        prog=codes.SCREEN_INVOICES,
        now=now,
        strategy=PostingStrategy.EMULATED,
    )
    with write_transaction(engine) as conn:
        customer = lookups.find_customer_row(conn, "User1", customer_id=customer_id)
        if customer is None:
            raise ValueError(f"customer {customer_id!r} does not exist in Dynamics SL")
        cust_id = text(customer.CustId)
        _refuse_taken(conn, cust_id, ref_nbr)
        target = _open_invoice(conn, cust_id, apply_to) if apply_to.strip() else None
        applied = min(amount, lookups.available_balance(target)) if target is not None else ZERO
        setup = numbering.lock_setup(conn)
        posting = _posting(conn, memo_date, text(setup.PerNbr))
        bat_nbr = numbering.next_batch(conn)
        refunds = Account(text(setup.RfndAcct), text(setup.RfndSub))
        ar = Account(
            text(customer.ArAcct) or text(setup.ArAcct), text(customer.ArSub) or text(setup.ArSub)
        )
        lines = [
            artran_row(
                ctx,
                cust_id=cust_id,
                tran_type=codes.DOC_CREDIT_MEMO,
                ref_nbr=ref_nbr,
                bat_nbr=bat_nbr,
                line_index=0,
                posting=posting,
                account=refunds,
                amount=amount,
                drcr=codes.DRCR_DEBIT,
                descr=comment,
            )
        ]
        if target is not None:
            lines.append(
                artran_row(
                    ctx,
                    cust_id=cust_id,
                    tran_type=codes.DOC_CREDIT_MEMO,
                    ref_nbr=ref_nbr,
                    bat_nbr=bat_nbr,
                    line_index=1,
                    posting=posting,
                    account=ar,
                    amount=applied,
                    drcr=codes.DRCR_APPLICATION,
                    descr=comment,
                    adjd_doc_type=text(target.DocType),
                    adjd_ref_nbr=text(target.RefNbr),
                )
            )
        conn.execute(
            sa.insert(Batch),
            [
                batch_row(
                    ctx,
                    bat_nbr=bat_nbr,
                    screen=codes.SCREEN_INVOICES,
                    posting=posting,
                    descr=comment,
                    ctrl_tot=amount,
                    dr_tot=ZERO,
                    cr_tot=amount,
                )
            ],
        )
        conn.execute(
            sa.insert(ARDoc),
            [
                ardoc_row(
                    ctx,
                    cust_id=cust_id,
                    doc_type=codes.DOC_CREDIT_MEMO,
                    ref_nbr=ref_nbr,
                    bat_nbr=bat_nbr,
                    bat_seq=0,
                    posting=posting,
                    amount=amount,
                    applied=applied,
                    descr=comment,
                    terms=text(customer.Terms),
                    orig_doc_nbr=text(target.RefNbr) if target is not None else "",
                    line_cntr=1,
                )
            ],
        )
        conn.execute(sa.insert(ARTran), with_record_ids(conn, ARTran, lines))
        release_batch(
            conn,
            bat_nbr,
            SlContext(
                cpny_id=cpny,
                user_id=USER_ID,
                prog=codes.PROG_RELEASE,
                now=now,
                strategy=PostingStrategy.EMULATED,
            ),
        )


def _refuse_taken(conn: sa.Connection, cust_id: str, ref_nbr: str) -> None:
    """ValueError when the customer has a credit memo of this number already."""
    d = ARDoc.c
    found = conn.execute(
        sa.select(d.RefNbr).where(
            d.CustId == lookups.cust_key(cust_id),
            d.DocType == pad(codes.DOC_CREDIT_MEMO, 2),
            d.RefNbr == lookups.ref_key(ref_nbr),
        )
    ).first()
    if found is not None:
        raise ValueError(f"customer {cust_id} already has credit memo {ref_nbr}")


def _open_invoice(conn: sa.Connection, cust_id: str, number: str) -> lookups.AnyRow:
    """The customer's released debit document of that number, locked; it must be open."""
    locked = validation.lock_debit_docs(conn, [number], ())
    try:
        row = validation.pick_invoice(number, locked, (), cust_id)
    except InvoiceNotOpenError as exc:
        raise ValueError(str(exc)) from exc
    if lookups.available_balance(row) <= ZERO:
        raise ValueError(f"invoice {number} of customer {cust_id} is not open")
    return row


def _posting(conn: sa.Connection, memo_date: date, current: str) -> Posting:
    """The memo's date in its period, or in the current AR period when that one is closed."""
    gl = read_setup(conn)
    per_post = max(period_of(gl, memo_date)[0], current)
    return Posting(
        per_post=per_post, per_ent=current, ledger_id=text(gl.LedgerID), doc_date=memo_date
    )
