"""Reversing a released payment (void, chargeback, ACH return) and applying it again.

SL reverses a bounced or charged-back payment with an NSF reversal: an ``ARDoc`` of type NS with
the payment's RefNbr, entered in the payment screens' batch (EditScrnNbr 08030). Its release
reopens every invoice the payment paid and closes the payment; tracepost uses the same document
for a void of a released payment and for a chargeback (the reason is in ``DocDesc``). A payment
still in an unreleased batch is not reversed: that batch is deleted or voided in SL instead.

Applying it again (dispute won) is a new payment (``ARDoc`` PA, RefNbr from
``ARSetup.LastRefNbr``, into the first one's bank account) applied to what the first one paid,
where still open; the rest on account.

Disputes flip (won, lost, won ...): a reversal reverses the payment in force, the receipt or the
latest reapplication (its NS reopens what that one paid and closes its on-account rest); a
reapplication is refused unless the payment in force is reversed by a released NS. Each step is
exactly once by its key. A prepayment (PP) is reversed like a payment.

A reversal reverses the payment of its ``source``: an ACH return the ACH receipt
(``ach-<id>``), never the card payment PayTrace numbered the same (and the other way round).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import sqlalchemy as sa

from connectors.erp.dynamics_sl import codes, lookups, numbering, validation
from connectors.erp.dynamics_sl.ar_schema import ARAdjust, ARDoc
from connectors.erp.dynamics_sl.base import Batch, money, pad, text, tptPaytraceXref
from connectors.erp.dynamics_sl.batches import insert_ar_batch
from connectors.erp.dynamics_sl.receipts import Payment, write_payment
from connectors.erp.dynamics_sl.release import is_released
from connectors.erp.dynamics_sl.rows import Account, ardoc_row, artran_row, batch_row, describe
from connectors.erp.dynamics_sl.settings import SlSettings
from connectors.erp.errors import DocumentNotFoundError, ErpBusinessError
from connectors.erp.locks import lock_rows
from connectors.erp.tags import paytrace_tag
from connectors.erp.xref import read_xref, rows_for_transaction, xref_row
from domain.erp_documents import DocumentKind, Reapplication, ReceiptReversal
from domain.models import Application, PaymentSource, receipt_key

ZERO = Decimal(0)
PAYMENT_KINDS = (DocumentKind.RECEIPT.value, DocumentKind.REAPPLICATION.value)


def _latest_payment(
    conn: sa.Connection, pt_id: int, source: PaymentSource = PaymentSource.CARD
) -> lookups.AnyRow:
    """The receipt or reapplication of a PayTrace payment that is still in force.

    A transaction has its receipt and, after each won dispute, a reapplication; the one to
    reverse is the payment no released-or-pending NS reversal has reversed yet (the newest when
    several qualify, the newest overall when all are reversed). Only the documents of the
    payment's source count (``tptPaytraceXref.PaymentSource``).

    Raises:
        DocumentNotFoundError: when none was written.
    """
    rows: list[lookups.AnyRow] = [
        r
        for r in rows_for_transaction(conn, tptPaytraceXref, pt_id, source)
        if r.DocKind in PAYMENT_KINDS
    ]
    if not rows:
        raise DocumentNotFoundError(
            f"no receipt was written for PayTrace transaction {pt_id}"
            f" ({paytrace_tag(pt_id, source)})"
        )
    # Oldest first; flips within one second are ordered by their (increasing) batch numbers.
    rows.sort(
        key=lambda r: (
            r.CreateDate,
            r.DocKind == DocumentKind.REAPPLICATION.value,
            len(text(r.BatchID)),
            text(r.BatchID),
        )
    )
    d = ARDoc.c
    candidate: lookups.AnyRow
    for candidate in reversed(rows):
        payment = conn.execute(
            sa.select(ARDoc.c.RefNbr).where(
                d.CustId == lookups.cust_key(str(candidate.CustID)),
                d.DocType.in_(lookups.doc_types(*codes.PAYMENT_TYPES)),
                d.RefNbr == lookups.ref_key(str(candidate.DocNo)),
            )
        ).first()
        if payment is not None and not _is_reversed(conn, candidate):
            return candidate
    return rows[-1]


def _is_reversed(conn: sa.Connection, xref: lookups.AnyRow) -> bool:
    """Whether an NS (released or pending, batch not voided) reverses a payment's document."""
    d = ARDoc.c
    payment = conn.execute(
        sa.select(ARDoc).where(
            d.CustId == lookups.cust_key(str(xref.CustID)),
            d.DocType.in_(lookups.doc_types(*codes.PAYMENT_TYPES)),
            d.RefNbr == lookups.ref_key(str(xref.DocNo)),
        )
    ).first()
    return payment is not None and _nsf_of(conn, payment) is not None


def _payment_doc(conn: sa.Connection, xref: lookups.AnyRow) -> lookups.AnyRow:
    """Lock and read the released PA of a receipt's xref row.

    Raises:
        DocumentNotFoundError: the payment is gone.
        ErpBusinessError: it is not released yet.
    """
    d = ARDoc.c
    where = (
        d.CustId == lookups.cust_key(str(xref.CustID)),
        d.DocType.in_(lookups.doc_types(*codes.PAYMENT_TYPES)),
        d.RefNbr == lookups.ref_key(str(xref.DocNo)),
        d.BatNbr == pad(str(xref.BatchID).strip(), codes.BAT_WIDTH),
    )
    conn.execute(lock_rows(sa.select(d.RefNbr).where(*where), ARDoc)).first()
    doc = conn.execute(sa.select(ARDoc).where(*where)).first()
    if doc is None:
        raise DocumentNotFoundError(
            f"payment {text(xref.DocNo)} of batch {text(xref.BatchID)} no longer exists in SL"
        )
    batch = conn.execute(
        sa.select(Batch).where(Batch.c.Module == codes.MODULE_AR, Batch.c.BatNbr == doc.BatNbr)
    ).first()
    if int(doc.Rlsed) != 1 or batch is None or not is_released(batch):
        raise ErpBusinessError(
            f"payment {text(doc.RefNbr)} in batch {text(doc.BatNbr)} is not released yet; delete or"
            " void its batch in Dynamics SL instead of reversing it, or release it first"
        )
    return doc


def _nsf_of(conn: sa.Connection, doc: lookups.AnyRow) -> lookups.AnyRow | None:
    """An NS document already reversing the payment (in a batch that is not voided)."""
    d = ARDoc.c
    return conn.execute(
        sa.select(ARDoc.c.BatNbr)
        .join(Batch, sa.and_(Batch.c.Module == codes.MODULE_AR, Batch.c.BatNbr == d.BatNbr))
        .where(
            d.CustId == doc.CustId,
            d.DocType == pad(codes.DOC_NSF_REVERSAL, 2),
            d.RefNbr == doc.RefNbr,
            Batch.c.Status != codes.BATCH_VOIDED,
        )
    ).first()


def _first_payment(conn: sa.Connection, pt_id: int) -> lookups.AnyRow | None:
    """The released document of the payment's receipt (card), if it is still there."""
    receipt = read_xref(conn, tptPaytraceXref, DocumentKind.RECEIPT, receipt_key(pt_id))
    if receipt is None:
        return None
    d = ARDoc.c
    return conn.execute(
        sa.select(ARDoc).where(
            d.CustId == lookups.cust_key(str(receipt.CustID)),
            d.DocType.in_(lookups.doc_types(*codes.PAYMENT_TYPES)),
            d.RefNbr == lookups.ref_key(str(receipt.DocNo)),
            d.Rlsed == 1,
        )
    ).first()


def paid_by(conn: sa.Connection, doc: lookups.AnyRow) -> dict[tuple[str, str], Decimal]:
    """What a released payment applied, by (DocType, RefNbr) of the documents it paid."""
    a = ARAdjust.c
    rows = conn.execute(
        sa.select(a.AdjdDocType, a.AdjdRefNbr, a.AdjAmt).where(
            a.CustId == doc.CustId,
            a.AdjgDocType == pad(codes.DOC_PAYMENT, 2),
            a.AdjgRefNbr == doc.RefNbr,
        )
    ).all()
    paid: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for r in rows:
        paid[(text(r.AdjdDocType), text(r.AdjdRefNbr))] += money(r.AdjAmt)
    return dict(paid)


def write_reversal(conn: sa.Connection, reversal: ReceiptReversal, settings: SlSettings) -> bool:
    """Write the NS reversal batch of a released receipt; True when written.

    Raises:
        DocumentNotFoundError: no receipt for the transaction.
        ErpBusinessError: the receipt is not released, or already reversed.
        ClosedPeriodError: the reversal date's period is closed.
    """
    kind = DocumentKind.REVERSAL
    if read_xref(conn, tptPaytraceXref, kind, reversal.key) is not None:
        return False
    pt_id = reversal.paytrace_transaction_id
    original = _latest_payment(conn, pt_id, reversal.source)
    posting = validation.open_posting(conn, reversal.reversal_date)
    doc = _payment_doc(conn, original)
    numbering.lock_setup(conn)
    if read_xref(conn, tptPaytraceXref, kind, reversal.key) is not None:
        return False
    if _nsf_of(conn, doc) is not None:
        raise ErpBusinessError(
            f"payment {text(doc.RefNbr)} of PayTrace transaction {pt_id} is already reversed"
        )
    ctx = settings.context(codes.SCREEN_PAYMENTS)
    bat_nbr = numbering.next_batch(conn)
    amount = money(doc.OrigDocAmt)
    ref_nbr = text(doc.RefNbr)
    cust_id = text(doc.CustId)
    tag = paytrace_tag(pt_id, reversal.source)
    descr = describe(tag, reversal.reference, reversal.reason.value.replace("_", " "))
    bank = Account(text(doc.BankAcct), text(doc.BankSub))
    line = artran_row(
        ctx,
        cust_id=cust_id,
        tran_type=codes.DOC_NSF_REVERSAL,
        ref_nbr=ref_nbr,
        bat_nbr=bat_nbr,
        line_index=0,
        posting=posting,
        account=bank,
        amount=amount,
        drcr=codes.DRCR_CREDIT,
        descr=descr,
        ext_ref=receipt_key(pt_id, reversal.source),
    )
    reopened = tuple(ref for (_, ref) in sorted(paid_by(conn, doc)))
    insert_ar_batch(
        conn,
        batch_row(
            ctx,
            bat_nbr=bat_nbr,
            screen=codes.SCREEN_PAYMENTS,
            posting=posting,
            descr=descr,
            ctrl_tot=amount,
            dr_tot=amount,
            cr_tot=ZERO,
        ),
        [
            ardoc_row(
                ctx,
                cust_id=cust_id,
                doc_type=codes.DOC_NSF_REVERSAL,
                ref_nbr=ref_nbr,
                bat_nbr=bat_nbr,
                bat_seq=0,
                posting=posting,
                amount=amount,
                applied=ZERO,
                descr=descr,
                bank=bank,
                orig_doc_nbr=ref_nbr,
                line_cntr=1,
            )
        ],
        [line],
        xref_row(
            kind=kind,
            key=reversal.key,
            company_id=settings.cpny_id,
            doc_no=ref_nbr,
            batch_id=bat_nbr,
            amount=amount,
            now=ctx.now,
            paytrace_transaction_id=pt_id,
            customer_id=cust_id,
            doc_date=reversal.reversal_date,
            applied_to=reopened,
            source=reversal.source,
        ),
    )
    return True


def write_reapplication(
    conn: sa.Connection, reapplication: Reapplication, settings: SlSettings
) -> bool:
    """Write a new payment re-applying a reversed one; True when written.

    Raises:
        DocumentNotFoundError: no receipt for the transaction.
        ErpBusinessError: the payment in force is not reversed (released NS): never reversed,
            its reversal not released yet, or already reapplied since.
    """
    kind = DocumentKind.REAPPLICATION
    if read_xref(conn, tptPaytraceXref, kind, reapplication.key) is not None:
        return False
    pt_id = reapplication.paytrace_transaction_id
    original = _latest_payment(conn, pt_id)
    if original.DocKind == DocumentKind.REAPPLICATION.value and not _is_reversed(conn, original):
        raise ErpBusinessError(
            f"PayTrace transaction {pt_id} was already reapplied ({text(original.DocNo)}, key"
            f" {original.SourceKey}) and not reversed since; nothing to apply again"
        )
    doc = _payment_doc(conn, original)
    ns = _nsf_of(conn, doc)
    batch = (
        conn.execute(
            sa.select(Batch).where(Batch.c.Module == codes.MODULE_AR, Batch.c.BatNbr == ns.BatNbr)
        ).first()
        if ns is not None
        else None
    )
    if batch is None or not is_released(batch):
        raise ErpBusinessError(
            f"payment {text(doc.RefNbr)} of PayTrace transaction {pt_id} is not reversed (no"
            " released NSF reversal); nothing to apply again"
        )
    amount = money(doc.OrigDocAmt)
    # What the payment first paid: the receipt's applications (a reapplication applied a part
    # of them only when invoices were paid meanwhile).
    paid_before = paid_by(conn, _first_payment(conn, pt_id) or doc)
    # Lock what it paid before reading the balances: what is applied again is decided on the
    # balances the write then checks, so a racing payment cannot turn it into a refusal.
    locked = validation.lock_debit_docs(conn, [ref for _, ref in paid_before], ())
    by_key = {(text(r.DocType), text(r.RefNbr)): r for r in locked if r.CustId == doc.CustId}
    applications = []
    remaining = amount
    for (doc_type, ref), paid in sorted(paid_before.items()):
        row = by_key.get((doc_type, ref))
        if row is None:
            continue
        apply = min(paid, lookups.available_balance(row), remaining)
        if apply > ZERO:
            applications.append(Application(invoice_number=ref, amount=apply))
            remaining -= apply
    payment = Payment(
        kind=kind,
        key=reapplication.key,
        paytrace_transaction_id=pt_id,
        customer_id=text(doc.CustId),
        amount=amount,
        day=reapplication.reapply_date,
        reference=reapplication.reference or f"PT {pt_id} reapplied",
        payment_method="",
        applications=tuple(applications),
        on_account=remaining,
        numbered_ref=True,
        cash_account=f"{text(doc.BankAcct)}/{text(doc.BankSub)}" if text(doc.BankAcct) else "",
    )
    return write_payment(conn, payment, settings)
