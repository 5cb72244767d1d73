"""A cash receipt as SL's Payment Application screen (08.030) leaves it before release.

One unreleased AR batch (``Batch`` Module AR, EditScrnNbr 08030, Status B, Rlsed 0) holding the
payment (``ARDoc`` PA, BankAcct/BankSub, Rlsed 0), one small-balance write-off (``ARDoc`` SB, from
``ARSetup.LastWORefNbr``) per short-paid invoice, and one application row per invoice
(``ARTran`` DrCr 'U': CostType = the invoice's DocType, SiteId = its RefNbr). What is not applied
stays on the payment's ``DocBal`` after release (on account). The cross-reference row commits in
the same transaction.

An ACH payment is the same document, tagged ``PT ACH <check transaction id>`` in ``DocDesc`` /
``TranDesc`` and ``ach-<id>`` in ``ExtRefNbr`` (card: ``PT <id>`` and ``<id>``); its ``RefNbr``
is the check transaction id unless the customer already has a payment of that number (a card
payment with the same PayTrace number, a check keyed by hand), then the next
``ARSetup.LastRefNbr`` (``payment_ref``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from connectors.erp.amounts import check_cents
from connectors.erp.dynamics_sl import codes, numbering, validation
from connectors.erp.dynamics_sl.ar_schema import ARDoc
from connectors.erp.dynamics_sl.base import pad, text, tptPaytraceXref
from connectors.erp.dynamics_sl.batches import insert_ar_batch
from connectors.erp.dynamics_sl.rows import (
    Account,
    ardoc_row,
    artran_row,
    batch_row,
    describe,
)
from connectors.erp.dynamics_sl.settings import SlSettings
from connectors.erp.errors import DocumentNotFoundError, ErpBusinessError
from connectors.erp.tags import paytrace_tag
from connectors.erp.xref import read_xref, xref_row
from domain.erp_documents import DocumentKind
from domain.models import Application, PaymentSource, receipt_key
from domain.money import quantize

ZERO = Decimal(0)


@dataclass(frozen=True)
class Payment:
    """A payment to write: a PayTrace receipt, or a reversed payment applied again.

    Attributes:
        cash_account: the bank ``Acct`` or ``Acct/Sub`` of this payment; blank: the configured
            one (``SlSettings.bank``).
        source: card or ACH: the tag and external reference the payment carries.
        sales_order: the store's order id of a prepayment (``ARDoc`` PP, wholly unapplied).
    """

    kind: DocumentKind
    key: str
    paytrace_transaction_id: int
    customer_id: str
    amount: Decimal
    day: date
    reference: str
    payment_method: str
    applications: tuple[Application, ...]
    on_account: Decimal
    numbered_ref: bool = False
    cash_account: str = ""
    source: PaymentSource = PaymentSource.CARD
    sales_order: str = ""


def check_amounts(payment: Payment) -> None:
    """Positive amount; applications + on account = amount; no negative parts.

    Raises:
        ErpBusinessError: when they do not add up.
    """
    label = f"receipt for PayTrace transaction {payment.paytrace_transaction_id}"
    validation.check_positive(label, payment.amount)
    check_cents(
        label,
        payment.amount,
        payment.on_account,
        *(a.amount for a in payment.applications),
        *(a.write_off for a in payment.applications),
    )
    if payment.on_account < ZERO:
        raise ErpBusinessError(f"{label}: on-account amount is negative")
    for app in payment.applications:
        if app.amount < ZERO or app.write_off < ZERO or app.amount + app.write_off <= ZERO:
            raise ErpBusinessError(
                f"{label}: application to invoice {app.invoice_number} must have a positive"
                " amount and no negative write-off"
            )
    applied = sum((a.amount for a in payment.applications), ZERO)
    if quantize(applied + payment.on_account, 2) != quantize(payment.amount, 2):
        raise ErpBusinessError(
            f"{label}: applications {applied} + on account {payment.on_account} do not add up"
            f" to the amount {payment.amount}"
        )


def payment_ref(conn: sa.Connection, payment: Payment) -> str:
    """The payment's ``RefNbr``: the PayTrace transaction id, as a clerk keys the check number.

    SL knows a payment by customer, type and ``RefNbr`` (``ARAdjust`` carries no batch), so a
    number the customer's payments already use (a check keyed by hand with the same number)
    is never reused; it, and ids longer than ``RefNbr`` (10), take the next
    ``ARSetup.LastRefNbr`` instead.
    """
    number = str(payment.paytrace_transaction_id)
    # A payment and a prepayment share the number range: an NS reversal names only RefNbr.
    kinds = (codes.DOC_PAYMENT, codes.DOC_PREPAYMENT)
    if len(number) <= codes.REF_WIDTH and not payment.numbered_ref:
        c = ARDoc.c
        used = conn.execute(
            sa.select(c.RefNbr)
            .where(
                c.CustId == pad(payment.customer_id.strip(), 15),
                c.DocType.in_(kinds),
                c.RefNbr == pad(number, codes.REF_WIDTH),
            )
            .limit(1)
        ).first()
        if used is None:
            return number
    return numbering.next_number(conn, "LastRefNbr", numbering.ref_taken(kinds))


def prepaid_order(conn: sa.Connection, payment: Payment, cust_id: str) -> str:
    """The SL order number (``SOHeader.OrdNbr``) a prepayment is for, checked.

    Raises:
        ErpBusinessError: the payment applies to invoices, or the order is another customer's.
        DocumentNotFoundError: no sales order was written for the store's order id.
    """
    order_id = payment.sales_order.strip()
    pt_id = payment.paytrace_transaction_id
    if payment.applications:
        raise ErpBusinessError(
            f"receipt for PayTrace transaction {pt_id} prepays sales order {order_id}: a"
            " prepayment (PP) stays wholly unapplied, it cannot apply to invoices"
        )
    order = read_xref(conn, tptPaytraceXref, DocumentKind.SALES_ORDER, order_id)
    if order is None:
        raise DocumentNotFoundError(
            f"receipt for PayTrace transaction {pt_id} prepays sales order {order_id}, which was"
            " never written; write the sales order first"
        )
    if text(order.CustID) != cust_id:
        raise ErpBusinessError(
            f"sales order {order_id} belongs to customer {text(order.CustID)}, not to {cust_id};"
            " a prepayment is the order's customer's"
        )
    return text(order.DocNo)


def write_payment(conn: sa.Connection, payment: Payment, settings: SlSettings) -> bool:
    """Write the payment batch unless the cross-reference says it exists.

    Args:
        conn: a connection inside ``write_transaction``.
        payment: what to write.
        settings: the connector settings.

    Returns:
        True when this call wrote it; False when it was already there.

    Raises:
        ClosedPeriodError, CustomerNotUsableError, InvoiceNotOpenError, ErpBusinessError: the
            checks; nothing is written then.
    """
    if read_xref(conn, tptPaytraceXref, payment.kind, payment.key) is not None:
        return False
    check_amounts(payment)
    prefixes = settings.invoice_prefixes
    validation.normalized_numbers(payment.applications, prefixes)  # refuses duplicates
    posting = validation.open_posting(conn, payment.day)
    customer = validation.usable_customer(
        conn, settings.paytrace_id_field, payment.customer_id, allow_hold=payment.numbered_ref
    )
    cust_id = text(customer.CustId)
    ord_nbr = prepaid_order(conn, payment, cust_id) if payment.sales_order.strip() else ""
    locked = validation.lock_debit_docs(
        conn, [a.invoice_number for a in payment.applications], prefixes
    )
    setup = numbering.lock_setup(conn)
    # Both locks may have waited for a racing writer of this same payment: read back again.
    if read_xref(conn, tptPaytraceXref, payment.kind, payment.key) is not None:
        return False
    targets = []
    for app in payment.applications:
        row = validation.pick_invoice(app.invoice_number, locked, prefixes, cust_id)
        validation.check_application(
            app.invoice_number, row, quantize(app.amount + app.write_off, 2)
        )
        targets.append(row)
    ctx = settings.context(codes.SCREEN_PAYMENTS)
    bank = settings.bank(setup, payment.cash_account)
    ar = Account(
        text(customer.ArAcct) or text(setup.ArAcct), text(customer.ArSub) or text(setup.ArSub)
    )
    write_off_acct = settings.account("write_off", setup, "DfltSBWOAcct", "DfltSBWOSub")
    cash_purpose = (
        "the receipt's own cash account"
        if payment.cash_account.strip()
        else "the receipts' cash account"
    )
    used = {cash_purpose: bank, f"customer {cust_id}'s AR account": ar}
    if any(app.write_off > ZERO for app in payment.applications):
        used["short-pay write-offs"] = write_off_acct
    validation.check_gl_accounts(conn, used)
    bat_nbr = numbering.next_batch(conn)
    ref_nbr = payment_ref(conn, payment)
    tag = paytrace_tag(payment.paytrace_transaction_id, payment.source)
    ext_ref = receipt_key(payment.paytrace_transaction_id, payment.source)
    reference = f"PP {ord_nbr} {payment.reference}" if ord_nbr else payment.reference
    descr = describe(tag, reference, payment.payment_method)
    amount = quantize(payment.amount, 2)
    applied = sum((quantize(a.amount, 2) for a in payment.applications), ZERO)
    doc = ardoc_row(
        ctx,
        cust_id=cust_id,
        doc_type=codes.DOC_PREPAYMENT if ord_nbr else codes.DOC_PAYMENT,
        ref_nbr=ref_nbr,
        bat_nbr=bat_nbr,
        bat_seq=0,
        posting=posting,
        amount=amount,
        applied=applied,
        descr=descr,
        bank=bank,
    )
    if ord_nbr:
        # The stand-in's ARDoc has no OrdNbr column: the order number goes to CustOrdNbr.
        doc["CustOrdNbr"] = pad(ord_nbr, 25)
    docs = [doc]
    trans = []
    line = 0
    for app, target in zip(payment.applications, targets, strict=True):
        if app.amount > ZERO:
            trans.append(
                artran_row(
                    ctx,
                    cust_id=cust_id,
                    tran_type=codes.DOC_PAYMENT,
                    ref_nbr=ref_nbr,
                    bat_nbr=bat_nbr,
                    line_index=line,
                    posting=posting,
                    account=ar,
                    amount=quantize(app.amount, 2),
                    drcr=codes.DRCR_APPLICATION,
                    descr=descr,
                    adjd_doc_type=text(target.DocType),
                    adjd_ref_nbr=text(target.RefNbr),
                    ext_ref=ext_ref,
                )
            )
            line += 1
    for app, target in zip(payment.applications, targets, strict=True):
        if app.write_off <= ZERO:
            continue
        wo_ref = numbering.next_number(
            conn, "LastWORefNbr", numbering.ref_taken((codes.DOC_SMALL_BALANCE,))
        )
        wo = quantize(app.write_off, 2)
        wo_descr = describe(tag, "short pay write-off")
        docs.append(
            ardoc_row(
                ctx,
                cust_id=cust_id,
                doc_type=codes.DOC_SMALL_BALANCE,
                ref_nbr=wo_ref,
                bat_nbr=bat_nbr,
                bat_seq=len(docs),
                posting=posting,
                amount=wo,
                applied=wo,
                descr=wo_descr,
                orig_doc_nbr=ref_nbr,
                line_cntr=1,
            )
        )
        trans.append(
            artran_row(
                ctx,
                cust_id=cust_id,
                tran_type=codes.DOC_SMALL_BALANCE,
                ref_nbr=wo_ref,
                bat_nbr=bat_nbr,
                line_index=0,
                posting=posting,
                account=write_off_acct,
                amount=wo,
                drcr=codes.DRCR_DEBIT,
                descr=wo_descr,
            )
        )
        trans.append(
            artran_row(
                ctx,
                cust_id=cust_id,
                tran_type=codes.DOC_SMALL_BALANCE,
                ref_nbr=wo_ref,
                bat_nbr=bat_nbr,
                line_index=1,
                posting=posting,
                account=ar,
                amount=wo,
                drcr=codes.DRCR_APPLICATION,
                descr=wo_descr,
                adjd_doc_type=text(target.DocType),
                adjd_ref_nbr=text(target.RefNbr),
            )
        )
    insert_ar_batch(
        conn,
        batch_row(
            ctx,
            bat_nbr=bat_nbr,
            screen=codes.SCREEN_PAYMENTS,
            posting=posting,
            descr=descr,
            ctrl_tot=amount,
            dr_tot=ZERO,
            cr_tot=amount,
        ),
        docs,
        trans,
        xref_row(
            kind=payment.kind,
            key=payment.key,
            company_id=settings.cpny_id,
            doc_no=ref_nbr,
            batch_id=bat_nbr,
            amount=amount,
            now=ctx.now,
            paytrace_transaction_id=payment.paytrace_transaction_id,
            customer_id=cust_id,
            doc_date=payment.day,
            applied_to=tuple(text(t.RefNbr) for t in targets),
            source=payment.source,
        ),
    )
    return True
