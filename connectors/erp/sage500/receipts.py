"""Cash receipts: write a balanced type-503 batch exactly once (Enter Cash Receipts screen)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from connectors.erp.errors import DocumentNotFoundError, ErpBusinessError, InvoiceNotOpenError
from connectors.erp.locks import lock_rows
from connectors.erp.sage500 import codes, lookups
from connectors.erp.sage500.numbering import (
    next_batch_no,
    next_surrogate_block,
    next_surrogate_keys,
    next_tran_no,
)
from connectors.erp.sage500.once import write_once
from connectors.erp.sage500.periods import require_open
from connectors.erp.sage500.receipt_rows import InvoiceTarget, ReceiptKeys, build_receipt_rows
from connectors.erp.sage500.schema import (
    tarBatch,
    tarInvoice,
    tarPendCustPmt,
    tarPendCustPmtAppl,
    tciBatchLog,
    tptPaytraceXref,
)
from connectors.erp.sage500.settings import SageSettings
from connectors.erp.sage500.validation import (
    cash_acct_key,
    check_amounts,
    check_application,
    check_write_off_account,
    usable_customer,
)
from connectors.erp.xref import read_xref
from domain.erp_documents import DocumentKind
from domain.matching import normalize_invoice_number
from domain.models import CashReceipt, ReceiptRecord


def write_receipt(engine: sa.Engine, settings: SageSettings, receipt: CashReceipt) -> ReceiptRecord:
    """Write a balanced cash receipt batch with its applications, exactly once.

    Args:
        engine: the Sage database.
        settings: the connector settings.
        receipt: the receipt; its applications name invoices by their visible number.

    Returns:
        The record; ``created`` is False when it already existed.

    The business key is ``receipt.key`` (card ``1000123``, ACH ``ach-5000001``). A non-blank
    ``receipt.cash_account`` (a ``GLAcctNo``) replaces the configured cash account for this
    receipt's batch and payment, checked like it (``validation.cash_acct_key``).
    """
    key = receipt.key

    def write(conn: sa.Connection) -> bool:
        return _write(conn, settings, receipt)

    row, created = write_once(engine, DocumentKind.RECEIPT, key, "write_receipt", write)
    return lookups.to_record(row, created=created)


def _write(conn: sa.Connection, s: SageSettings, receipt: CashReceipt) -> bool:
    check_amounts(receipt)
    require_open(conn, s.company_id, receipt.receipt_date)
    customer = usable_customer(
        conn, s.company_id, s.paytrace_id_field, receipt.customer_id, "receipts"
    )
    if receipt.sales_order.strip():
        receipt = prepayment(conn, receipt, str(customer.CustID).strip())
    wanted, invoice_keys = _lock_invoices(conn, s, receipt)
    # The invoice locks may have waited for a racing writer of this same payment.
    again = lookups.read_receipt_xref(conn, receipt.paytrace_transaction_id, receipt.source)
    if again is not None:
        return False
    targets = _check_invoices(conn, s, receipt, customer, wanted, invoice_keys)
    cash_key = cash_acct_key(conn, s.company_id, receipt_cash_account(s, receipt))
    if any(app.write_off > 0 for app in receipt.applications):
        check_write_off_account(conn, s.company_id, s.account("write_off"))
    batch_no, batch_type_id = next_batch_no(conn, s.company_id, codes.BATCH_TYPE_CASH_RECEIPT)
    tran_no, tran_type_id = next_tran_no(conn, s.company_id, codes.TRAN_TYPE_CUST_PMT)
    keys = ReceiptKeys(
        batch_key=next_surrogate_block(conn, "tciBatchLog", 1),
        batch_no=batch_no,
        batch_type_id=batch_type_id,
        cust_pmt_key=next_surrogate_block(conn, "tarCustPmt", 1),
        tran_no=tran_no,
        tran_type_id=tran_type_id,
        appl_keys=tuple(next_surrogate_keys(conn, "tarCustPmtAppl", len(receipt.applications))),
        cash_acct_key=cash_key,
    )
    rows = build_receipt_rows(
        receipt,
        company_id=s.company_id,
        cust_key=int(customer.CustKey),
        cust_id=str(customer.CustID),
        targets=targets,
        keys=keys,
        user_id=s.user,
        now=s.clock(),
    )
    insert_cash_batch(
        conn, rows.batch_log, rows.batch, rows.pend_cust_pmt, rows.pend_appls, rows.xref
    )
    return True


def prepayment(conn: sa.Connection, receipt: CashReceipt, cust_id: str) -> CashReceipt:
    """A prepayment of a sales order: checked, its comment naming the order.

    Sage 500's stand-in ``tarCustPmt`` has no sales-order link column (none is confirmed), so
    the link is the comment (``PT <id> PREPAY SO <order TranID> ...``) and tracepost's
    cross-reference; the whole amount stays unapplied (``UnappliedAmt``) until Sage applies it
    to the order's invoice.

    Raises:
        ErpBusinessError: the receipt applies to invoices, or the order is another customer's.
        DocumentNotFoundError: no sales order was written for the store's order id.
    """
    order_id = receipt.sales_order.strip()
    pt_id = receipt.paytrace_transaction_id
    if receipt.applications:
        raise ErpBusinessError(
            f"receipt for PayTrace transaction {pt_id} prepays sales order {order_id}: a"
            " prepayment stays wholly unapplied, it cannot apply to invoices"
        )
    order = read_xref(conn, tptPaytraceXref, DocumentKind.SALES_ORDER, order_id)
    if order is None:
        raise DocumentNotFoundError(
            f"receipt for PayTrace transaction {pt_id} prepays sales order {order_id}, which was"
            " never written; write the sales order first"
        )
    if str(order.CustID).strip() != cust_id:
        raise ErpBusinessError(
            f"sales order {order_id} belongs to customer {str(order.CustID).strip()}, not to"
            f" {cust_id}; a prepayment is the order's customer's"
        )
    reference = f"PREPAY SO {str(order.DocNo).strip()} {receipt.reference.strip()}".strip()
    return receipt.model_copy(update={"reference": reference})


def receipt_cash_account(s: SageSettings, receipt: CashReceipt) -> str:
    """The ``GLAcctNo`` a receipt is deposited to: its own ``cash_account``, else the configured."""
    return receipt.cash_account.strip() or s.cash_account


def insert_cash_batch(
    conn: sa.Connection,
    batch_log: dict[str, Any],
    batch: dict[str, Any],
    pend_cust_pmt: dict[str, Any],
    pend_appls: list[dict[str, Any]],
    xref: dict[str, Any],
) -> None:
    """Insert one type-503 batch (receipt, reversal or reapplication) and its xref row last."""
    conn.execute(sa.insert(tciBatchLog), [batch_log])
    conn.execute(sa.insert(tarBatch), [batch])
    conn.execute(sa.insert(tarPendCustPmt), [pend_cust_pmt])
    if pend_appls:
        conn.execute(sa.insert(tarPendCustPmtAppl), pend_appls)
    conn.execute(sa.insert(tptPaytraceXref), [xref])


def _lock_invoices(
    conn: sa.Connection, s: SageSettings, receipt: CashReceipt
) -> tuple[list[str], list[int]]:
    """Lock the invoices the receipt applies to; return their normalized numbers and keys."""
    if not receipt.applications:
        return [], []
    wanted: list[str] = []
    for app in receipt.applications:
        number = normalize_invoice_number(app.invoice_number, s.invoice_prefixes)
        if number in wanted:
            raise ErpBusinessError(
                f"receipt for PayTrace transaction {receipt.paytrace_transaction_id} applies"
                f" twice to invoice {app.invoice_number}; combine the applications"
            )
        wanted.append(number)
    candidates = sorted(
        {c for app in receipt.applications for c in _candidates(s, app.invoice_number)}
    )
    return wanted, lock_invoice_keys(conn, s.company_id, candidates)


def lock_invoice_keys(conn: sa.Connection, company_id: str, tran_nos: list[str]) -> list[int]:
    """Lock AR invoices (TranType 501) by stored ``TranNo``, in key order; return their keys."""
    if not tran_nos:
        return []
    inv = tarInvoice.c
    keys = (
        conn.execute(
            lock_rows(
                sa.select(inv.InvcKey)
                .where(
                    inv.CompanyID == company_id,
                    inv.TranNo.in_(tran_nos),
                    inv.TranType == codes.TRAN_TYPE_INVOICE,
                )
                .order_by(inv.InvcKey),
                tarInvoice,
            )
        )
        .scalars()
        .all()
    )
    return [int(k) for k in keys]


def _check_invoices(
    conn: sa.Connection,
    s: SageSettings,
    receipt: CashReceipt,
    customer: lookups.AnyRow,
    wanted: list[str],
    keys: list[int],
) -> list[InvoiceTarget]:
    """Check every locked invoice against its application, in the applications' order.

    Read in a statement of its own, after the locks were granted: a statement that waited for a
    lock still sees the data of its own start (PostgreSQL READ COMMITTED), so a racing receipt's
    pending applications are only visible to a new statement.
    """
    inv = tarInvoice.c
    rows = conn.execute(lookups.invoice_select().where(inv.InvcKey.in_(keys))).all() if keys else []
    by_number: dict[str, list[lookups.AnyRow]] = {}
    for r in rows:
        by_number.setdefault(
            normalize_invoice_number(str(r.TranNo), s.invoice_prefixes), []
        ).append(r)
    targets = []
    for app, number in zip(receipt.applications, wanted, strict=True):
        found = by_number.get(number, [])
        if len(found) > 1:
            raise lookups.several_invoices(app.invoice_number, found)
        row = found[0] if found else None
        check_application(app.invoice_number, app.amount, app.write_off, row, customer)
        assert row is not None
        targets.append(
            InvoiceTarget(
                int(row.InvcKey),
                str(row.TranID),
                row.TranDate,
                codes.display_number(str(row.TranNo), s.invoice_prefixes),
            )
        )
    return targets


def _candidates(s: SageSettings, number: str) -> list[str]:
    candidates = lookups.tran_no_candidates(number, s.invoice_prefixes)
    if not candidates:
        raise InvoiceNotOpenError(f"invoice number {number!r} is not a usable invoice number")
    return candidates
