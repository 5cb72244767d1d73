"""Credit memos for PayTrace refunds: a pending AR memo (type-501 batch), exactly once.

Applied at entry to the refunded invoice when it is still open (up to its open balance, pending
applications deducted); otherwise, or for the rest, left open as a credit on the account.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from connectors.erp.amounts import check_cents
from connectors.erp.errors import ErpBusinessError, InvoiceNotOpenError
from connectors.erp.sage500 import codes, lookups
from connectors.erp.sage500.memo_rows import MemoKeys, build_memo_rows
from connectors.erp.sage500.numbering import next_batch_no, next_surrogate_block, next_tran_no
from connectors.erp.sage500.once import write_once
from connectors.erp.sage500.periods import require_open
from connectors.erp.sage500.receipt_rows import InvoiceTarget
from connectors.erp.sage500.receipts import lock_invoice_keys
from connectors.erp.sage500.schema import (
    tarBatch,
    tarInvoice,
    tarPendCustPmtAppl,
    tarPendInvoice,
    tciBatchLog,
    tptPaytraceXref,
)
from connectors.erp.sage500.settings import SageSettings
from connectors.erp.sage500.validation import usable_customer
from connectors.erp.xref import read_xref, to_document
from domain.erp_documents import CreditMemo, DocumentKind, ErpDocument

ZERO = Decimal(0)


def write_credit_memo(engine: sa.Engine, s: SageSettings, memo: CreditMemo) -> ErpDocument:
    """Write a pending credit memo exactly once (business key: the refund's transaction id).

    Raises:
        ErpBusinessError: the amount is not positive or has fractions of a cent.
        ClosedPeriodError: the memo date's period is closed or missing.
        CustomerNotUsableError: the customer is unknown or inactive (credit hold is no bar: the
            refund already left through PayTrace).
        InvoiceNotOpenError: the invoice to apply to does not exist or is another customer's.
        ErpUnavailableError: connection trouble or deadlock victim (retryable).
    """
    key = str(memo.paytrace_transaction_id)

    def write(conn: sa.Connection) -> bool:
        return _write(conn, s, memo)

    row, created = write_once(engine, DocumentKind.CREDIT_MEMO, key, "write_credit_memo", write)
    return to_document(row, lookups.ERP_NAME, created=created)


def _write(conn: sa.Connection, s: SageSettings, memo: CreditMemo) -> bool:
    check_cents(f"credit memo for PayTrace transaction {memo.paytrace_transaction_id}", memo.amount)
    if memo.amount <= ZERO:
        raise ErpBusinessError(
            f"credit memo for PayTrace transaction {memo.paytrace_transaction_id}: amount must be"
            " positive"
        )
    require_open(conn, s.company_id, memo.memo_date)
    customer = usable_customer(
        conn, s.company_id, s.paytrace_id_field, memo.customer_id, "credit memos", allow_hold=True
    )
    target: InvoiceTarget | None = None
    applied = ZERO
    if memo.apply_to_invoice.strip():
        candidates = lookups.tran_no_candidates(memo.apply_to_invoice, s.invoice_prefixes)
        keys = lock_invoice_keys(conn, s.company_id, candidates)
        # The lock may have waited for a racing writer of this same memo.
        key = str(memo.paytrace_transaction_id)
        if read_xref(conn, tptPaytraceXref, DocumentKind.CREDIT_MEMO, key) is not None:
            return False
        target, applied = _target(conn, s, memo, customer, keys)
    batch_no, batch_type_id = next_batch_no(conn, s.company_id, codes.BATCH_TYPE_AR_INVOICE)
    tran_no, tran_type_id = next_tran_no(conn, s.company_id, codes.TRAN_TYPE_CREDIT_MEMO)
    memo_keys = MemoKeys(
        batch_key=next_surrogate_block(conn, "tciBatchLog", 1),
        batch_no=batch_no,
        batch_type_id=batch_type_id,
        invc_key=next_surrogate_block(conn, "tarInvoice", 1),
        tran_no=tran_no,
        tran_type_id=tran_type_id,
        appl_key=next_surrogate_block(conn, "tarCustPmtAppl", 1) if target else None,
    )
    rows = build_memo_rows(
        memo,
        company_id=s.company_id,
        cust_key=int(customer.CustKey),
        cust_id=str(customer.CustID).strip(),
        target=target,
        applied=applied,
        keys=memo_keys,
        user_id=s.user,
        now=s.clock(),
    )
    conn.execute(sa.insert(tciBatchLog), [rows.batch_log])
    conn.execute(sa.insert(tarBatch), [rows.batch])
    conn.execute(sa.insert(tarPendInvoice), [rows.pend_invoice])
    if rows.pend_appls:
        conn.execute(sa.insert(tarPendCustPmtAppl), rows.pend_appls)
    conn.execute(sa.insert(tptPaytraceXref), [rows.xref])
    return True


def _target(
    conn: sa.Connection,
    s: SageSettings,
    memo: CreditMemo,
    customer: lookups.AnyRow,
    keys: list[int],
) -> tuple[InvoiceTarget | None, Decimal]:
    """The locked invoice the memo applies to and how much; (None, 0) when it is not open."""
    inv = tarInvoice.c
    rows = conn.execute(lookups.invoice_select().where(inv.InvcKey.in_(keys))).all() if keys else []
    if not rows:
        raise InvoiceNotOpenError(
            f"credit memo for PayTrace transaction {memo.paytrace_transaction_id}: invoice"
            f" {memo.apply_to_invoice} does not exist"
        )
    if len(rows) > 1:
        raise lookups.several_invoices(memo.apply_to_invoice, list(rows))
    row = rows[0]
    if int(row.CustKey) != int(customer.CustKey):
        raise InvoiceNotOpenError(
            f"invoice {memo.apply_to_invoice} belongs to customer {row.CustID}, not to"
            f" {customer.CustID}"
        )
    available = lookups.available_balance(row)
    if available <= ZERO:
        return None, ZERO
    target = InvoiceTarget(
        int(row.InvcKey),
        str(row.TranID),
        row.TranDate,
        codes.display_number(str(row.TranNo), s.invoice_prefixes),
    )
    return target, min(available, memo.amount)
