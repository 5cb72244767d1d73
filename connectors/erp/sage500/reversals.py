"""Reversing a posted receipt (void, chargeback, ACH return) and reapplying it (dispute won).

Both are written exactly once by their business key and serialize on the original payment: the
posted ``tarCustPmt`` row is locked before anything else is decided, so two different keys
(a void and a chargeback case) cannot both reverse one payment.

A payment cycles through dispute flips: receipt, reversal, reapplication, reversal, ... Its
state is read from tracepost's cross-reference: it is reversed while it has more reversals than
reapplications (each step is refused unless the other one came last, so they alternate). The
payment in force is the receipt, or the latest reapplication (highest ``CustPmtKey``); a
reversal negates that payment and its applications, so the second reversal reopens what the
reapplication paid and takes back its on-account rest. A reapplication always re-applies what
the original receipt first paid, where still open.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.errors import DocumentNotFoundError, ErpBusinessError
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
from connectors.erp.sage500.receipts import insert_cash_batch
from connectors.erp.sage500.reversal_rows import ReversalKeys, build_reversal_rows
from connectors.erp.sage500.schema import (
    tarCustomer,
    tarCustPmt,
    tarCustPmtAppl,
    tarInvoice,
    tciBatchLog,
    tptPaytraceXref,
)
from connectors.erp.sage500.settings import SageSettings
from connectors.erp.tags import paytrace_tag
from connectors.erp.xref import of_source, read_xref, to_document, xref_row
from domain.erp_documents import DocumentKind, ErpDocument, Reapplication, ReceiptReversal
from domain.models import Application, CashReceipt, PaymentSource
from domain.money import quantize

ZERO = Decimal(0)
CENT = Decimal("0.01")


def reverse_receipt(engine: sa.Engine, s: SageSettings, reversal: ReceiptReversal) -> ErpDocument:
    """Reverse a posted receipt and reopen every invoice it paid, exactly once.

    The receipt is the one of ``reversal.source`` (card, or ACH for a return): an earlier
    reversal of the other source's payment with the same number does not count.

    The payment in force is reversed: the receipt, or its latest reapplication (which must be
    posted).

    Raises:
        DocumentNotFoundError: no receipt was written for the transaction, or the payment in
            force is not posted.
        ErpBusinessError: the payment is reversed (under another key) and not reapplied since.
        ClosedPeriodError: the reversal date's period is closed or missing.
        ErpUnavailableError: connection trouble or deadlock victim (retryable).
    """

    def write(conn: sa.Connection) -> bool:
        return _reverse(conn, s, reversal)

    row, created = write_once(engine, DocumentKind.REVERSAL, reversal.key, "reverse_receipt", write)
    return to_document(row, lookups.ERP_NAME, created=created)


def reapply_receipt(
    engine: sa.Engine, s: SageSettings, reapplication: Reapplication
) -> ErpDocument:
    """Apply a reversed payment again to what it first paid where still open, rest on account.

    Raises:
        DocumentNotFoundError: no receipt was written for the transaction, it is not posted, or
            its reversal is not posted yet.
        ErpBusinessError: the payment is not reversed: never, or reapplied since its latest
            reversal.
        ClosedPeriodError: the reapply date's period is closed or missing.
        ErpUnavailableError: connection trouble or deadlock victim (retryable).
    """

    def write(conn: sa.Connection) -> bool:
        return _reapply(conn, s, reapplication)

    row, created = write_once(
        engine, DocumentKind.REAPPLICATION, reapplication.key, "reapply_receipt", write
    )
    return to_document(row, lookups.ERP_NAME, created=created)


# --- shared ------------------------------------------------------------------------------------


def _locked_original(
    conn: sa.Connection, pt_id: int, what: str, source: PaymentSource = PaymentSource.CARD
) -> dict[str, Any]:
    """The posted original payment, locked; refuses one never written or never posted."""
    receipt = lookups.read_receipt_xref(conn, pt_id, source)
    if receipt is None:
        raise DocumentNotFoundError(
            f"cannot {what}: no receipt was written for PayTrace transaction {pt_id}"
            f" ({paytrace_tag(pt_id, source)})"
        )
    pmt = tarCustPmt.c
    row = conn.execute(
        lock_rows(
            sa.select(tarCustPmt).where(
                pmt.CustPmtKey == receipt.DocKey, pmt.TranID == receipt.DocNo
            ),
            tarCustPmt,
        )
    ).first()
    if row is None:
        raise DocumentNotFoundError(
            f"cannot {what}: receipt {str(receipt.DocNo).strip()} of PayTrace transaction {pt_id}"
            f" is not posted (batch {str(receipt.BatchID).strip()}); post it first"
        )
    return dict(row._mapping)


def _require_posted_reversal(conn: sa.Connection, pt_id: int, reversal: lookups.AnyRow) -> None:
    """Refuse to reapply before the reversal's batch is posted (Status 6).

    The reapplication is sized on what the invoices owe once the reversal gives the money back;
    posted first, it would take them below zero and could never post.

    Raises:
        DocumentNotFoundError: the reversal is still pending (post it first, then retry).
    """
    status = conn.execute(
        sa.select(tciBatchLog.c.Status).where(tciBatchLog.c.BatchKey == reversal.BatchKey)
    ).scalar()
    if status is None or int(status) != codes.BATCH_STATUS_POSTED:
        raise DocumentNotFoundError(
            f"cannot reapply PayTrace transaction {pt_id}: its reversal"
            f" {str(reversal.DocNo).strip()} (batch {str(reversal.BatchID).strip()}) is not"
            " posted; post it first"
        )


def _cycle(
    conn: sa.Connection, pt_id: int, source: PaymentSource = PaymentSource.CARD
) -> tuple[list[lookups.AnyRow], list[lookups.AnyRow]]:
    """The payment's reversals and reapplications (xref rows), each oldest first.

    Ordered by ``DocKey`` (their ``CustPmtKey``, taken from one counter as they are written):
    timestamps of a quick flip can be equal.
    """
    x = tptPaytraceXref.c
    rows = conn.execute(
        sa.select(x.DocKind, x.SourceKey, x.DocNo, x.DocKey, x.BatchKey, x.BatchID).where(
            x.DocKind.in_([DocumentKind.REVERSAL.value, DocumentKind.REAPPLICATION.value]),
            x.PaytraceTranID == pt_id,
            of_source(tptPaytraceXref, source),
        )
    ).all()
    ordered = sorted(rows, key=lambda r: int(r.DocKey or 0))
    reversals = [r for r in ordered if r.DocKind == DocumentKind.REVERSAL.value]
    reapplications = [r for r in ordered if r.DocKind == DocumentKind.REAPPLICATION.value]
    return reversals, reapplications


def _locked_reapplication(
    conn: sa.Connection, pt_id: int, reapplication: lookups.AnyRow
) -> dict[str, Any]:
    """The posted payment of a reapplication, locked; refuses one not posted yet."""
    pmt = tarCustPmt.c
    row = conn.execute(
        lock_rows(
            sa.select(tarCustPmt).where(
                pmt.CustPmtKey == reapplication.DocKey, pmt.TranID == reapplication.DocNo
            ),
            tarCustPmt,
        )
    ).first()
    if row is None:
        raise DocumentNotFoundError(
            f"cannot reverse PayTrace transaction {pt_id}: its reapplication"
            f" {str(reapplication.DocNo).strip()} (key {reapplication.SourceKey}, batch"
            f" {str(reapplication.BatchID).strip()}) is not posted; post it first"
        )
    return dict(row._mapping)


def _original_appls(conn: sa.Connection, original: dict[str, Any]) -> list[dict[str, Any]]:
    appl = tarCustPmtAppl.c
    return [
        dict(r._mapping)
        for r in conn.execute(
            sa.select(tarCustPmtAppl)
            .where(
                appl.ApplyFromPmtKey == original["CustPmtKey"],
                appl.ApplyFromTranID == original["TranID"],
            )
            .order_by(appl.SeqNo)
        )
    ]


def _lock_invoices(conn: sa.Connection, keys: list[int]) -> dict[int, Any]:
    """Lock invoices by key (key order), then read them with pending applications."""
    if not keys:
        return {}
    inv = tarInvoice.c
    conn.execute(
        lock_rows(
            sa.select(inv.InvcKey).where(inv.InvcKey.in_(keys)).order_by(inv.InvcKey), tarInvoice
        )
    ).all()
    rows = conn.execute(lookups.invoice_select().where(inv.InvcKey.in_(keys))).all()
    return {int(r.InvcKey): r for r in rows}


def _cust_id(conn: sa.Connection, cust_key: int) -> str:
    value = conn.execute(
        sa.select(tarCustomer.c.CustID).where(tarCustomer.c.CustKey == cust_key)
    ).scalar()
    return str(value or "").strip()


# --- reversal ----------------------------------------------------------------------------------


def _reverse(conn: sa.Connection, s: SageSettings, reversal: ReceiptReversal) -> bool:
    pt_id = reversal.paytrace_transaction_id
    original = _locked_original(conn, pt_id, "reverse", reversal.source)
    if read_xref(conn, tptPaytraceXref, DocumentKind.REVERSAL, reversal.key) is not None:
        return False  # a racing writer of this key committed while we waited for the lock
    reversals, reapplications = _cycle(conn, pt_id, reversal.source)
    if len(reversals) > len(reapplications):
        earlier = reversals[-1]
        raise ErpBusinessError(
            f"receipt {str(original['TranID']).strip()} of PayTrace transaction {pt_id}"
            f" ({paytrace_tag(pt_id, reversal.source)}) was already reversed"
            f" ({str(earlier.DocNo).strip()}, key {earlier.SourceKey}) and not reapplied since;"
            " refusing a second reversal"
        )
    if reapplications:  # a won dispute applied it again: reverse that payment
        original = _locked_reapplication(conn, pt_id, reapplications[-1])
    require_open(conn, s.company_id, reversal.reversal_date)
    appls = _original_appls(conn, original)
    invoices = _lock_invoices(conn, sorted({int(a["ApplyToInvcKey"]) for a in appls}))
    numbers = tuple(
        dict.fromkeys(
            codes.display_number(str(invoices[int(a["ApplyToInvcKey"])].TranNo), s.invoice_prefixes)
            for a in appls
            if int(a["ApplyToInvcKey"]) in invoices
        )
    )
    batch_no, batch_type_id = next_batch_no(conn, s.company_id, codes.BATCH_TYPE_CASH_RECEIPT)
    tran_no, tran_type_id = next_tran_no(conn, s.company_id, codes.TRAN_TYPE_CUST_PMT)
    keys = ReversalKeys(
        batch_key=next_surrogate_block(conn, "tciBatchLog", 1),
        batch_no=batch_no,
        batch_type_id=batch_type_id,
        cust_pmt_key=next_surrogate_block(conn, "tarCustPmt", 1),
        tran_no=tran_no,
        tran_type_id=tran_type_id,
        appl_keys=tuple(next_surrogate_keys(conn, "tarCustPmtAppl", len(appls))),
    )
    rows = build_reversal_rows(
        reversal,
        original=original,
        original_appls=appls,
        invoice_numbers=numbers,
        cust_id=_cust_id(conn, int(original["CustKey"])),
        keys=keys,
        user_id=s.user,
        now=s.clock(),
    )
    insert_cash_batch(
        conn, rows.batch_log, rows.batch, rows.pend_cust_pmt, rows.pend_appls, rows.xref
    )
    return True


# --- reapplication -----------------------------------------------------------------------------


def _reapply(conn: sa.Connection, s: SageSettings, again: Reapplication) -> bool:
    pt_id = again.paytrace_transaction_id
    original = _locked_original(conn, pt_id, "reapply")
    if read_xref(conn, tptPaytraceXref, DocumentKind.REAPPLICATION, again.key) is not None:
        return False
    reversals, reapplications = _cycle(conn, pt_id)
    if not reversals:
        raise ErpBusinessError(
            f"receipt {str(original['TranID']).strip()} of PayTrace transaction {pt_id} was not"
            " reversed; there is nothing to reapply"
        )
    if len(reapplications) >= len(reversals):
        earlier = reapplications[-1]
        raise ErpBusinessError(
            f"PayTrace transaction {pt_id} was already reapplied ({str(earlier.DocNo).strip()},"
            f" key {earlier.SourceKey}) and not reversed since; there is nothing to reapply"
        )
    _require_posted_reversal(conn, pt_id, reversals[-1])
    require_open(conn, s.company_id, again.reapply_date)
    appls = _original_appls(conn, original)
    invoices = _lock_invoices(conn, sorted({int(a["ApplyToInvcKey"]) for a in appls}))
    applications, targets = _what_is_still_open(s, appls, invoices)
    amount = quantize(lookups.dec(original["TranAmt"]), 2)
    applied = sum((a.amount for a in applications), ZERO)
    receipt = CashReceipt(
        paytrace_transaction_id=pt_id,
        customer_id=_cust_id(conn, int(original["CustKey"])),
        amount=amount,
        receipt_date=again.reapply_date,
        reference=f"REAPPLY {str(original['TranID']).strip()} {again.reference.strip()}".strip(),
        applications=tuple(applications),
        on_account=amount - applied,
    )
    batch_no, batch_type_id = next_batch_no(conn, s.company_id, codes.BATCH_TYPE_CASH_RECEIPT)
    tran_no, tran_type_id = next_tran_no(conn, s.company_id, codes.TRAN_TYPE_CUST_PMT)
    keys = ReceiptKeys(
        batch_key=next_surrogate_block(conn, "tciBatchLog", 1),
        batch_no=batch_no,
        batch_type_id=batch_type_id,
        cust_pmt_key=next_surrogate_block(conn, "tarCustPmt", 1),
        tran_no=tran_no,
        tran_type_id=tran_type_id,
        appl_keys=tuple(next_surrogate_keys(conn, "tarCustPmtAppl", len(applications))),
        cash_acct_key=int(original["CashAcctKey"]),
    )
    now = s.clock()
    rows = build_receipt_rows(
        receipt,
        company_id=s.company_id,
        cust_key=int(original["CustKey"]),
        cust_id=receipt.customer_id,
        targets=targets,
        keys=keys,
        user_id=s.user,
        now=now,
    )
    xref = xref_row(
        kind=DocumentKind.REAPPLICATION,
        key=again.key,
        company_id=s.company_id,
        doc_no=rows.tran_id,
        batch_id=rows.batch_id,
        amount=quantize(amount, 3),
        now=now,
        paytrace_transaction_id=pt_id,
        customer_id=receipt.customer_id,
        doc_key=keys.cust_pmt_key,
        batch_key=keys.batch_key,
        doc_date=again.reapply_date,
        applied_to=tuple(t.number for t in targets),
        source=PaymentSource.CARD,
    )
    insert_cash_batch(conn, rows.batch_log, rows.batch, rows.pend_cust_pmt, rows.pend_appls, xref)
    return True


def _what_is_still_open(
    s: SageSettings, appls: list[dict[str, Any]], invoices: dict[int, Any]
) -> tuple[list[Application], list[InvoiceTarget]]:
    """The original's applications again, each capped at what its invoice still owes."""
    applications: list[Application] = []
    targets: list[InvoiceTarget] = []
    taken: dict[int, Decimal] = {}
    for appl in appls:
        key = int(appl["ApplyToInvcKey"])
        row = invoices.get(key)
        if row is None:
            continue
        available = lookups.available_balance(row) - taken.get(key, ZERO)
        # Whole cents, never more than is owed: a 40.005 balance takes 40.00 (half-up: 40.01).
        owed = available.quantize(CENT, rounding=ROUND_DOWN)
        pay = min(quantize(lookups.dec(appl["PmtAmt"]), 2), owed)
        if pay <= ZERO:
            continue
        taken[key] = taken.get(key, ZERO) + pay
        number = codes.display_number(str(row.TranNo), s.invoice_prefixes)
        if key in {t.invc_key for t in targets}:
            index = next(i for i, t in enumerate(targets) if t.invc_key == key)
            applications[index] = Application(
                invoice_number=number, amount=applications[index].amount + pay
            )
            continue
        applications.append(Application(invoice_number=number, amount=pay))
        targets.append(InvoiceTarget(key, str(row.TranID), row.TranDate, number))
    return applications, targets
