"""A credit memo for a PayTrace refund, as SL's Invoice and Memo screen (08.010) leaves it.

An unreleased AR batch (EditScrnNbr 08010, Status B) with the memo (``ARDoc`` CM, RefNbr from
``ARSetup.LastCrMemoNbr`` when AutoRef is on, else the PayTrace refund id), its detail line
(``ARTran`` DrCr D, the refunds account) and, when the refunded invoice is still open, an
application row (``ARTran`` DrCr U) applying up to the invoice's payable balance; the rest of the
memo stays open as a credit.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from connectors.erp.amounts import check_cents
from connectors.erp.dynamics_sl import codes, lookups, numbering, validation
from connectors.erp.dynamics_sl.base import text, tptPaytraceXref
from connectors.erp.dynamics_sl.batches import insert_ar_batch
from connectors.erp.dynamics_sl.rows import Account, ardoc_row, artran_row, batch_row, describe
from connectors.erp.dynamics_sl.settings import SlSettings
from connectors.erp.xref import read_xref, xref_row
from domain.erp_documents import CreditMemo, DocumentKind
from domain.money import quantize

ZERO = Decimal(0)


def write_credit_memo(conn: sa.Connection, memo: CreditMemo, settings: SlSettings) -> bool:
    """Write the memo batch unless the cross-reference says it exists; True when written.

    Raises:
        ClosedPeriodError, CustomerNotUsableError, InvoiceNotOpenError, ErpBusinessError.
    """
    kind, key = DocumentKind.CREDIT_MEMO, str(memo.paytrace_transaction_id)
    if read_xref(conn, tptPaytraceXref, kind, key) is not None:
        return False
    label = f"credit memo for PayTrace transaction {memo.paytrace_transaction_id}"
    validation.check_positive(label, memo.amount)
    check_cents(label, memo.amount)
    posting = validation.open_posting(conn, memo.memo_date)
    customer = validation.usable_customer(
        conn, settings.paytrace_id_field, memo.customer_id, allow_hold=True
    )
    cust_id = text(customer.CustId)
    prefixes = settings.invoice_prefixes
    target = None
    if memo.apply_to_invoice.strip():
        locked = validation.lock_debit_docs(conn, [memo.apply_to_invoice], prefixes)
        target = validation.pick_invoice(memo.apply_to_invoice, locked, prefixes, cust_id)
    setup = numbering.lock_setup(conn)
    if read_xref(conn, tptPaytraceXref, kind, key) is not None:
        return False
    amount = quantize(memo.amount, 2)
    apply = ZERO
    if target is not None:
        apply = max(min(amount, lookups.available_balance(target)), ZERO)
    ctx = settings.context(codes.SCREEN_INVOICES)
    bat_nbr = numbering.next_batch(conn)
    number = str(memo.paytrace_transaction_id)
    if int(setup.AutoRef) == 1 or len(number) > codes.REF_WIDTH:
        number = numbering.next_number(
            conn, "LastCrMemoNbr", numbering.ref_taken((codes.DOC_CREDIT_MEMO,))
        )
    descr = describe(f"PT {memo.paytrace_transaction_id}", memo.reference, "refund")
    ar = Account(
        text(customer.ArAcct) or text(setup.ArAcct), text(customer.ArSub) or text(setup.ArSub)
    )
    refunds = settings.account("refunds", setup, "RfndAcct", "RfndSub")
    validation.check_gl_accounts(conn, {"refunds": refunds, f"customer {cust_id}'s AR account": ar})
    trans = [
        artran_row(
            ctx,
            cust_id=cust_id,
            tran_type=codes.DOC_CREDIT_MEMO,
            ref_nbr=number,
            bat_nbr=bat_nbr,
            line_index=0,
            posting=posting,
            account=refunds,
            amount=amount,
            drcr=codes.DRCR_DEBIT,
            descr=descr,
            ext_ref=str(memo.paytrace_transaction_id),
        )
    ]
    if apply > ZERO and target is not None:
        trans.append(
            artran_row(
                ctx,
                cust_id=cust_id,
                tran_type=codes.DOC_CREDIT_MEMO,
                ref_nbr=number,
                bat_nbr=bat_nbr,
                line_index=1,
                posting=posting,
                account=ar,
                amount=apply,
                drcr=codes.DRCR_APPLICATION,
                descr=descr,
                adjd_doc_type=text(target.DocType),
                adjd_ref_nbr=text(target.RefNbr),
                ext_ref=str(memo.paytrace_transaction_id),
            )
        )
    insert_ar_batch(
        conn,
        batch_row(
            ctx,
            bat_nbr=bat_nbr,
            screen=codes.SCREEN_INVOICES,
            posting=posting,
            descr=descr,
            ctrl_tot=amount,
            dr_tot=ZERO,
            cr_tot=amount,
        ),
        [
            ardoc_row(
                ctx,
                cust_id=cust_id,
                doc_type=codes.DOC_CREDIT_MEMO,
                ref_nbr=number,
                bat_nbr=bat_nbr,
                bat_seq=0,
                posting=posting,
                amount=amount,
                applied=apply,
                descr=descr,
                terms=text(customer.Terms),
                orig_doc_nbr=text(target.RefNbr) if target is not None else "",
                line_cntr=1,
            )
        ],
        trans,
        xref_row(
            kind=kind,
            key=key,
            company_id=settings.cpny_id,
            doc_no=number,
            batch_id=bat_nbr,
            amount=amount,
            now=ctx.now,
            paytrace_transaction_id=memo.paytrace_transaction_id,
            customer_id=cust_id,
            doc_date=memo.memo_date,
            applied_to=(text(target.RefNbr),) if apply > ZERO and target is not None else (),
        ),
    )
    return True
