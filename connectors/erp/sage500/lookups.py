"""Read queries against the Sage 500 AR tables, turned into domain models.

Invoice balances are what is still payable: the posted ``tarInvoice.Balance`` minus what pending
(unposted) applications already take, so a payment waiting in a pending batch is not paid twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeAlias

import sqlalchemy as sa

from connectors.erp.errors import ErpBusinessError
from connectors.erp.sage500 import codes
from connectors.erp.sage500.schema import (
    tarCustomer,
    tarInvoice,
    tarPendCustPmtAppl,
    tptPaytraceXref,
)
from connectors.erp.xref import read_xref, row_source
from domain.erp_documents import DocumentKind
from domain.matching import normalize_invoice_number
from domain.models import (
    ErpCustomer,
    OpenInvoice,
    PaymentSource,
    ReceiptRecord,
    ReceiptStatus,
    receipt_key,
)
from domain.money import quantize

ERP_NAME = "sage500"

AnyRow: TypeAlias = sa.Row[*tuple[Any, ...]]


def pending_applied() -> sa.ScalarSelect[Any]:
    """Correlated subquery: what pending applications take from the outer ``tarInvoice`` row."""
    appl = tarPendCustPmtAppl.c
    return (
        sa.select(
            sa.func.coalesce(sa.func.sum(appl.PmtAmt + appl.DiscTakenAmt + appl.WriteOffAmt), 0)
        )
        .where(appl.ApplyToInvcKey == tarInvoice.c.InvcKey)
        .scalar_subquery()
    )


def reopened_by_pending() -> sa.Exists:
    """Correlated: a pending reversal gives money back to the outer ``tarInvoice`` row.

    Correlated on ``ApplyToInvcKey`` so it is an index search per invoice of the customer,
    not a scan of every pending application per query (an ``IN`` list of all negative
    applications cannot use an index: its condition is on a sum of columns).
    """
    appl = tarPendCustPmtAppl.c
    return sa.exists().where(
        appl.ApplyToInvcKey == tarInvoice.c.InvcKey,
        appl.PmtAmt + appl.DiscTakenAmt + appl.WriteOffAmt < 0,
    )


def invoice_select() -> sa.Select[Any]:
    """Invoices (TranType 501) with their customer's CustID and pending applications."""
    inv = tarInvoice.c
    return (
        sa.select(
            inv.InvcKey,
            inv.TranID,
            inv.TranNo,
            inv.TranDate,
            inv.DueDate,
            inv.TranAmt,
            inv.Balance,
            inv.CustKey,
            tarCustomer.c.CustID,
            pending_applied().label("PendingAmt"),
        )
        .join(tarCustomer, tarCustomer.c.CustKey == inv.CustKey)
        .where(inv.TranType == codes.TRAN_TYPE_INVOICE)
    )


def tran_no_candidates(number: str, prefixes: tuple[str, ...]) -> list[str]:
    """Stored ``TranNo`` forms that a typed invoice number can mean (for an indexed ``IN``).

    Args:
        number: the number as typed, e.g. ``" inv-0001001 "``.
        prefixes: prefixes to drop before comparing.

    Returns:
        ``["0000001001", "1001"]``-like candidates; empty when nothing usable is left.
    """
    wanted = normalize_invoice_number(number, prefixes)
    if not wanted or len(wanted) > codes.TRAN_NO_WIDTH:
        return []
    return sorted({codes.tran_no(wanted), wanted})


def several_invoices(number: str, rows: list[AnyRow]) -> ErpBusinessError:
    """The refusal for an invoice number that matches more than one invoice.

    ``1001`` means both a ``TranNo`` of ``0000001001`` and one stored unpadded (imported); paying
    either would be a guess.
    """
    ids = ", ".join(sorted(str(r.TranID).strip() for r in rows))
    return ErpBusinessError(f"invoice number {number!r} matches several invoices: {ids}")


def available_balance(row: AnyRow) -> Decimal:
    """Posted balance minus pending applications, at Sage's 3 places."""
    return quantize(dec(row.Balance) - dec(row.PendingAmt), 3)


def to_open_invoice(row: AnyRow, prefixes: tuple[str, ...]) -> OpenInvoice:
    """Turn an ``invoice_select`` row into the domain model (2-place amounts)."""
    return OpenInvoice(
        invoice_number=codes.display_number(str(row.TranNo), prefixes),
        customer_id=str(row.CustID),
        amount=quantize(dec(row.TranAmt), 2),
        balance=quantize(available_balance(row), 2),
        invoice_date=row.TranDate.date() if row.TranDate else None,
        due_date=row.DueDate.date() if row.DueDate else None,
    )


def to_customer(row: AnyRow, paytrace_id_field: str) -> ErpCustomer:
    """Turn a tarCustomer row into the domain model."""
    return ErpCustomer(
        customer_id=str(row.CustID),
        name=str(row.CustName),
        active=int(row.Status) == codes.CUST_STATUS_ACTIVE,
        on_hold=bool(row.Hold),
        paytrace_customer_id=str(row._mapping[paytrace_id_field] or ""),
    )


def find_customer_row(
    conn: sa.Connection,
    company_id: str,
    paytrace_id_field: str,
    *,
    customer_id: str = "",
    paytrace_customer_id: str = "",
) -> AnyRow | None:
    """The customer by CustID, else by the PayTrace customer id kept in a user field.

    Raises:
        ErpBusinessError: if the PayTrace id is on more than one customer.
    """
    cust = tarCustomer.c
    columns: tuple[sa.Column[Any], ...] = (
        cust.CustKey,
        cust.CustID,
        cust.CustName,
        cust.Status,
        cust.Hold,
    )
    if paytrace_id_field not in {c.name for c in columns}:
        columns = (*columns, cust[paytrace_id_field])
    if customer_id.strip():
        row = conn.execute(
            sa.select(*columns).where(
                cust.CompanyID == company_id, cust.CustID == customer_id.strip()
            )
        ).first()
        if row is not None:
            return row
    if paytrace_customer_id.strip():
        rows = conn.execute(
            sa.select(*columns)
            .where(
                cust.CompanyID == company_id,
                cust[paytrace_id_field] == paytrace_customer_id.strip(),
            )
            .order_by(cust.CustID)
            .limit(2)
        ).all()
        if len(rows) > 1:
            raise ErpBusinessError(
                f"PayTrace customer {paytrace_customer_id!r} is linked to more than one Sage"
                f" customer ({rows[0].CustID}, {rows[1].CustID}) in {paytrace_id_field}"
            )
        return rows[0] if rows else None
    return None


def read_receipt_xref(
    conn: sa.Connection,
    paytrace_transaction_id: int,
    source: PaymentSource = PaymentSource.CARD,
) -> AnyRow | None:
    """The cross-reference row of a payment's receipt (``receipt_key(id, source)``), if any."""
    key = receipt_key(paytrace_transaction_id, source)
    return read_xref(conn, tptPaytraceXref, DocumentKind.RECEIPT, key)


def to_record(row: AnyRow, *, created: bool = False) -> ReceiptRecord:
    """Turn a receipt's tptPaytraceXref row into the domain record (source included)."""
    return ReceiptRecord(
        paytrace_transaction_id=int(row.PaytraceTranID),
        erp=ERP_NAME,
        customer_id=str(row.CustID).strip(),
        erp_document=str(row.DocNo).strip(),
        batch=str(row.BatchID).strip(),
        amount=quantize(dec(row.Amount), 2),
        status=ReceiptStatus(row.Status),
        created=created,
        source=row_source(row),
    )


def dec(value: object) -> Decimal:
    """A database number as ``Decimal`` (SQLite may hand back float or str; NULL is 0)."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))
