"""Writing off an open invoice's balance (a chargeback lost): a type-506 Write Offs batch.

Sage 500 has a Write Offs batch type (506, confirmed); the rows its write-off task leaves are
not documented (UNSURE, see ``docs/erp/sage500.md``). tracepost writes what the stand-in's
posting already understands and what the payment-application layout holds: one balanced
type-506 batch (``tciBatchLog`` Status 4 + ``tarBatch``) with one pending application
(``tarPendCustPmtAppl``) of the invoice to itself whose ``WriteOffAmt`` is the amount written
off (``PmtAmt`` 0). The pending application already lowers what the invoice can be paid
(``lookups.pending_applied``); posting lowers ``tarInvoice.Balance`` by it and moves it to
``tarCustPmtAppl`` (``posting.post_receipt_batch``). The write-off account
(``accounts["write_off"]``, default 6950) is checked like a receipt's short-pay write-off.
Exactly once per business key (``write_once``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.amounts import check_cents
from connectors.erp.errors import ErpBusinessError, InvoiceNotOpenError
from connectors.erp.sage500 import codes, lookups
from connectors.erp.sage500.numbering import next_batch_no, next_surrogate_block
from connectors.erp.sage500.once import write_once
from connectors.erp.sage500.periods import midnight, require_open
from connectors.erp.sage500.receipt_rows import COMMENT_WIDTH, tagged_comment
from connectors.erp.sage500.receipts import lock_invoice_keys
from connectors.erp.sage500.schema import (
    tarBatch,
    tarInvoice,
    tarPendCustPmtAppl,
    tciBatchLog,
    tptPaytraceXref,
)
from connectors.erp.sage500.settings import SageSettings
from connectors.erp.sage500.validation import check_write_off_account, usable_customer
from connectors.erp.xref import read_xref, to_document, xref_row
from domain.erp_documents import DocumentKind, ErpDocument, InvoiceWriteOff
from domain.money import quantize

ZERO = Decimal(0)
ZERO3 = Decimal("0.000")


def write_off_invoice(
    engine: sa.Engine, s: SageSettings, write_off: InvoiceWriteOff
) -> ErpDocument:
    """Write off part or all of an invoice's payable balance, exactly once per key.

    Raises:
        ErpBusinessError: the amount is not positive whole cents.
        ClosedPeriodError: the write-off date's period is closed or missing.
        CustomerNotUsableError: the customer is unknown or inactive (credit hold is no bar).
        InvoiceNotOpenError: the invoice is missing, another customer's, or owes less.
        MissingGlAccountError: the write-off account is missing or inactive.
    """

    def write(conn: sa.Connection) -> bool:
        return _write(conn, s, write_off)

    row, created = write_once(
        engine, DocumentKind.WRITE_OFF, write_off.key, "write_off_invoice", write
    )
    return to_document(row, lookups.ERP_NAME, created=created)


def _write(conn: sa.Connection, s: SageSettings, w: InvoiceWriteOff) -> bool:
    label = f"write-off {w.key} of invoice {w.invoice_number}"
    check_cents(label, w.amount)
    if w.amount <= ZERO:
        raise ErpBusinessError(f"{label}: amount must be positive, not {w.amount}")
    require_open(conn, s.company_id, w.write_off_date)
    customer = usable_customer(
        conn, s.company_id, s.paytrace_id_field, w.customer_id, "write-offs", allow_hold=True
    )
    candidates = lookups.tran_no_candidates(w.invoice_number, s.invoice_prefixes)
    if not candidates:
        raise InvoiceNotOpenError(f"{label}: {w.invoice_number!r} is not a usable invoice number")
    keys = lock_invoice_keys(conn, s.company_id, candidates)
    # The invoice lock may have waited for a racing writer of this same key.
    if read_xref(conn, tptPaytraceXref, DocumentKind.WRITE_OFF, w.key) is not None:
        return False
    invoice = _invoice(conn, label, w, customer, keys)
    check_write_off_account(conn, s.company_id, s.account("write_off"))
    batch_no, batch_type_id = next_batch_no(conn, s.company_id, codes.BATCH_TYPE_WRITE_OFF)
    batch_key = next_surrogate_block(conn, "tciBatchLog", 1)
    appl_key = next_surrogate_block(conn, "tarCustPmtAppl", 1)
    now = s.clock()
    batch_id = codes.batch_id("AR", batch_type_id, batch_no)
    number = codes.display_number(str(invoice.TranNo), s.invoice_prefixes)
    rows = build_write_off_rows(
        w,
        company_id=s.company_id,
        invoice=dict(invoice._mapping),
        number=number,
        batch_key=batch_key,
        batch_no=batch_no,
        batch_id=batch_id,
        appl_key=appl_key,
        user_id=s.user,
        now=now,
    )
    conn.execute(sa.insert(tciBatchLog), [rows["batch_log"]])
    conn.execute(sa.insert(tarBatch), [rows["batch"]])
    conn.execute(sa.insert(tarPendCustPmtAppl), [rows["appl"]])
    conn.execute(
        sa.insert(tptPaytraceXref),
        [
            xref_row(
                kind=DocumentKind.WRITE_OFF,
                key=w.key,
                company_id=s.company_id,
                doc_no=str(invoice.TranID).strip(),
                batch_id=batch_id,
                amount=w.amount,
                now=now,
                paytrace_transaction_id=w.paytrace_transaction_id,
                customer_id=str(customer.CustID).strip(),
                doc_key=appl_key,
                batch_key=batch_key,
                doc_date=w.write_off_date,
                applied_to=(number,),
            )
        ],
    )
    return True


def _invoice(
    conn: sa.Connection,
    label: str,
    w: InvoiceWriteOff,
    customer: lookups.AnyRow,
    keys: list[int],
) -> lookups.AnyRow:
    """The locked invoice, checked: the customer's, and owing at least the amount."""
    inv = tarInvoice.c
    rows = conn.execute(lookups.invoice_select().where(inv.InvcKey.in_(keys))).all() if keys else []
    if not rows:
        raise InvoiceNotOpenError(f"{label}: invoice {w.invoice_number} does not exist")
    if len(rows) > 1:
        raise lookups.several_invoices(w.invoice_number, list(rows))
    row = rows[0]
    if int(row.CustKey) != int(customer.CustKey):
        raise InvoiceNotOpenError(
            f"{label}: invoice {w.invoice_number} belongs to customer"
            f" {str(row.CustID).strip()}, not to {str(customer.CustID).strip()}"
        )
    available = lookups.available_balance(row)
    if quantize(w.amount, 3) > available:
        raise InvoiceNotOpenError(
            f"{label}: writing off {w.amount} exceeds the invoice's open balance"
            f" {quantize(max(available, ZERO), 2)}"
        )
    return row


def write_off_comment(w: InvoiceWriteOff, number: str) -> str:
    """``PT <id> WO <invoice> <reference>`` (``WO <invoice> ...`` without a PayTrace id)."""
    text = f"WO {number} {w.reference.strip()}".strip()
    if w.paytrace_transaction_id is not None:
        return tagged_comment(w.paytrace_transaction_id, text)
    return text[:COMMENT_WIDTH]


def build_write_off_rows(
    w: InvoiceWriteOff,
    *,
    company_id: str,
    invoice: dict[str, Any],
    number: str,
    batch_key: int,
    batch_no: int,
    batch_id: str,
    appl_key: int,
    user_id: str,
    now: datetime,
) -> dict[str, Any]:
    """The batch log, batch and pending application rows of one write-off (pure).

    Args:
        w: the write-off.
        company_id: the Sage company.
        invoice: the locked ``invoice_select`` row of the invoice.
        number: the invoice's visible number.
        batch_key: the new batch's key.
        batch_no: its number.
        batch_id: its ``BatchID``.
        appl_key: the application's ``CustPmtApplKey``.
        user_id: the Sage user tracepost writes as.
        now: the audit timestamp.

    Returns:
        ``{"batch_log": ..., "batch": ..., "appl": ...}``.
    """
    post_date = midnight(w.write_off_date)
    comment = write_off_comment(w, number)
    amount = quantize(w.amount, 3)
    audit = {"CreateDate": now, "CreateUserID": user_id, "UpdateCounter": 0}
    return {
        "batch_log": {
            "BatchKey": batch_key,
            "BatchID": batch_id,
            "BatchNo": batch_no,
            "BatchType": codes.BATCH_TYPE_WRITE_OFF,
            "Status": codes.BATCH_STATUS_BALANCED,
            "PostStatus": codes.POST_STATUS_OPEN,
            "SourceCompanyID": company_id,
            "PostCompanyID": company_id,
            "BatchCmnt": comment,
            "PostDate": post_date,
            "NextSeqNo": 2,
            "RgstrPrinted": 0,
            **audit,
        },
        "batch": {
            "BatchKey": batch_key,
            "CashAcctKey": None,
            "BatchCmnt": comment,
            "PostDate": post_date,
            "Hold": 0,
            "Private": 0,
            "SourceModule": codes.MODULE_AR,
        },
        "appl": {
            "CustPmtApplKey": appl_key,
            "BatchKey": batch_key,
            "SeqNo": 1,
            "AppliedAtCreation": 1,
            "ApplyFromPmtKey": invoice["InvcKey"],
            "ApplyFromTranID": invoice["TranID"],
            "ApplyFromTranDate": invoice["TranDate"],
            "ApplyToInvcKey": invoice["InvcKey"],
            "ApplyToTranID": invoice["TranID"],
            "ApplyToTranDate": invoice["TranDate"],
            "CurrExchRate": 1,
            "PmtAmt": ZERO3,
            "PmtAmtIC": ZERO3,
            "DiscTakenAmt": ZERO3,
            "DiscTakenAmtIC": ZERO3,
            "WriteOffAmt": amount,
            "WriteOffAmtIC": amount,
            "RealGainLossAmt": ZERO3,
            **audit,
        },
    }
