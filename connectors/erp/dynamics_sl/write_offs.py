"""Writing off an open invoice's balance (a chargeback lost) as SL's small-balance write-off.

What SL's Small Balance Write-Off (08.520) leaves before release: one unreleased AR batch (Status
B) holding a small-balance write-off document (``ARDoc`` SB, RefNbr from
``ARSetup.LastWORefNbr``, ``OrigDocNbr`` the invoice), its detail line (``ARTran`` DrCr D) to the
write-off account (``accounts["write_off"]``, else ``ARSetup.DfltSBWOAcct/Sub``) and one
application row (``ARTran`` DrCr U) applying it to the invoice. Release (``release_batch``)
turns the application into an ``ARAdjust`` row and lowers the invoice's ``DocBal``; the SB itself
is then fully applied. The same document a receipt's short-pay write-off writes, in a batch of
its own. The cross-reference row (DocKind ``write_off``) commits in the same transaction.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from connectors.erp.amounts import check_cents
from connectors.erp.dynamics_sl import codes, numbering, validation
from connectors.erp.dynamics_sl.base import text, tptPaytraceXref
from connectors.erp.dynamics_sl.batches import insert_ar_batch
from connectors.erp.dynamics_sl.rows import Account, ardoc_row, artran_row, batch_row, describe
from connectors.erp.dynamics_sl.settings import SlSettings
from connectors.erp.tags import paytrace_tag
from connectors.erp.xref import read_xref, xref_row
from domain.erp_documents import DocumentKind, InvoiceWriteOff
from domain.money import quantize

ZERO = Decimal(0)
SCREEN_WRITE_OFF = "08520"


def write_off_invoice(conn: sa.Connection, w: InvoiceWriteOff, settings: SlSettings) -> bool:
    """Write the SB batch unless the cross-reference says it exists; True when written.

    Raises:
        ErpBusinessError: the amount is not positive whole cents.
        ClosedPeriodError: the write-off date's AR period is closed.
        CustomerNotUsableError: unknown or inactive (credit hold is no bar).
        InvoiceNotOpenError: the invoice is missing, another customer's, or owes less.
        MissingGlAccountError: the write-off or AR account is missing or inactive.
    """
    kind = DocumentKind.WRITE_OFF
    if read_xref(conn, tptPaytraceXref, kind, w.key) is not None:
        return False
    label = f"write-off {w.key} of invoice {w.invoice_number}"
    validation.check_positive(label, w.amount)
    check_cents(label, w.amount)
    posting = validation.open_posting(conn, w.write_off_date)
    customer = validation.usable_customer(
        conn, settings.paytrace_id_field, w.customer_id, allow_hold=True
    )
    cust_id = text(customer.CustId)
    prefixes = settings.invoice_prefixes
    locked = validation.lock_debit_docs(conn, [w.invoice_number], prefixes)
    setup = numbering.lock_setup(conn)
    # The locks may have waited for a racing writer of this same key: read back again.
    if read_xref(conn, tptPaytraceXref, kind, w.key) is not None:
        return False
    target = validation.pick_invoice(w.invoice_number, locked, prefixes, cust_id)
    amount = quantize(w.amount, 2)
    validation.check_application(w.invoice_number, target, amount)
    ar = Account(
        text(customer.ArAcct) or text(setup.ArAcct), text(customer.ArSub) or text(setup.ArSub)
    )
    write_off_acct = settings.account("write_off", setup, "DfltSBWOAcct", "DfltSBWOSub")
    validation.check_gl_accounts(
        conn, {"write-offs": write_off_acct, f"customer {cust_id}'s AR account": ar}
    )
    ctx = settings.context(SCREEN_WRITE_OFF)
    bat_nbr = numbering.next_batch(conn)
    ref_nbr = numbering.next_number(
        conn, "LastWORefNbr", numbering.ref_taken((codes.DOC_SMALL_BALANCE,))
    )
    invoice_ref = text(target.RefNbr)
    tag = (
        paytrace_tag(w.paytrace_transaction_id)
        if w.paytrace_transaction_id is not None
        else f"WO {invoice_ref}"
    )
    descr = describe(tag, w.reference, "write-off")
    trans = [
        artran_row(
            ctx,
            cust_id=cust_id,
            tran_type=codes.DOC_SMALL_BALANCE,
            ref_nbr=ref_nbr,
            bat_nbr=bat_nbr,
            line_index=index,
            posting=posting,
            account=account,
            amount=amount,
            drcr=drcr,
            descr=descr,
            adjd_doc_type=adjd_type,
            adjd_ref_nbr=adjd_ref,
        )
        for index, (account, drcr, adjd_type, adjd_ref) in enumerate(
            (
                (write_off_acct, codes.DRCR_DEBIT, "", ""),
                (ar, codes.DRCR_APPLICATION, text(target.DocType), invoice_ref),
            )
        )
    ]
    insert_ar_batch(
        conn,
        batch_row(
            ctx,
            bat_nbr=bat_nbr,
            screen=SCREEN_WRITE_OFF,
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
                doc_type=codes.DOC_SMALL_BALANCE,
                ref_nbr=ref_nbr,
                bat_nbr=bat_nbr,
                bat_seq=0,
                posting=posting,
                amount=amount,
                applied=amount,
                descr=descr,
                orig_doc_nbr=invoice_ref,
                line_cntr=1,
            )
        ],
        trans,
        xref_row(
            kind=kind,
            key=w.key,
            company_id=settings.cpny_id,
            doc_no=ref_nbr,
            batch_id=bat_nbr,
            amount=amount,
            now=ctx.now,
            paytrace_transaction_id=w.paytrace_transaction_id,
            customer_id=cust_id,
            doc_date=w.write_off_date,
            applied_to=(invoice_ref,),
        ),
    )
    return True
