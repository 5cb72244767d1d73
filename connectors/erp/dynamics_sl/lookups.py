"""Read queries against the SL AR tables, turned into domain models.

Invoice balances are what is still payable: the released ``ARDoc.DocBal`` minus what unreleased
application rows (``ARTran`` with ``DrCr = 'U'``, ``Rlsed = 0``, in a batch that is not voided)
already take, so a payment waiting in an unreleased batch is not paid twice.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeAlias

import sqlalchemy as sa

from connectors.erp.customer_fields import is_autopay
from connectors.erp.dynamics_sl import codes
from connectors.erp.dynamics_sl.ar_schema import ARDoc, ARSetup, ARTran, Customer
from connectors.erp.dynamics_sl.base import Batch, money, pad, text
from connectors.erp.errors import ErpBusinessError
from domain.erp_documents import CustomerDetail, PostalAddress
from domain.matching import normalize_invoice_number
from domain.models import ErpCustomer, OpenInvoice
from domain.money import quantize

AnyRow: TypeAlias = sa.Row[Any]

PAYTRACE_ID_FIELDS = ("User1", "User2", "User5", "User6")
USER_FIELDS = PAYTRACE_ID_FIELDS
# Preferred first; a blank option takes the first of these no other purpose holds.
AUTOPAY_FIELD_CHOICES = ("User5", "User6", "User2", "User1")  # a flag: char(10) is plenty
CARD_FIELD_CHOICES = ("User2", "User1", "User6", "User5")  # 'x1111 12/2028' needs > 10


def customer_user_fields(
    paytrace_id_field: str, autopay_field: str = "", card_field: str = ""
) -> tuple[str, str]:
    """The autopay and card-on-file ``Customer`` user fields, defaults filled in.

    Defaults: autopay ``User5`` (char 10), card on file ``User2`` (char 30); a blank option
    whose default another purpose holds takes the next free one of its ``*_CHOICES``.

    Raises:
        ValueError: a field is not a character user field, or two purposes share one.
    """
    for purpose, name in (("autopay", autopay_field), ("card on file", card_field)):
        if name and name not in USER_FIELDS:
            raise ValueError(
                f"Customer.{name} cannot hold the {purpose}: use one of {', '.join(USER_FIELDS)}"
            )
    taken = {paytrace_id_field, autopay_field, card_field} - {""}
    chosen: list[str] = []
    for name, choices in ((autopay_field, AUTOPAY_FIELD_CHOICES), (card_field, CARD_FIELD_CHOICES)):
        if not name:
            name = next(f for f in choices if f not in taken)
            taken.add(name)
        chosen.append(name)
    fields = [paytrace_id_field, *chosen]
    if len(set(fields)) != len(fields):
        raise ValueError(
            "the PayTrace id, autopay and card-on-file fields must be three different Customer"
            f" user fields, not {', '.join(fields)}"
        )
    return chosen[0], chosen[1]


def char_width(column: sa.Column[Any]) -> int:
    """The width of a ``CHAR`` column."""
    width = getattr(column.type, "length", None)
    return int(width) if width else 30


CUST_ID_WIDTH = 15


def fits(value: str, width: int) -> bool:
    """Whether a searched value fits its ``CHAR`` column.

    ``pad`` cuts longer values, so a too-long id would match another customer whose id is its
    first ``width`` characters; such a value matches nothing instead.
    """
    return len(value.strip()) <= width


def cust_key(customer_id: str) -> str:
    """A ``CustId`` as stored (char 15)."""
    return pad(customer_id.strip(), 15)


def ref_key(number: str) -> str:
    """A ``RefNbr`` as stored (char 10)."""
    return pad(number.strip(), codes.REF_WIDTH)


def doc_types(*types: str) -> list[str]:
    """``DocType`` values as stored (char 2)."""
    return [pad(t, 2) for t in types]


def display_name(stored: str) -> str:
    """SL's ``Last~First`` name as a person reads it (``Smith~John`` → ``John Smith``)."""
    name = text(stored)
    if "~" not in name:
        return name
    last, first = name.split("~", 1)
    return f"{first.strip()} {last.strip()}".strip()


def pending_applied() -> sa.ScalarSelect[Any]:
    """Correlated sum of unreleased applications (amount + discount) to the outer ``ARDoc``."""
    t = ARTran.c
    live_batch = (
        sa.select(Batch.c.BatNbr)
        .where(
            Batch.c.Module == codes.MODULE_AR,
            Batch.c.BatNbr == t.BatNbr,
            Batch.c.Status != codes.BATCH_VOIDED,
        )
        .exists()
    )
    return (
        sa.select(sa.func.coalesce(sa.func.sum(t.CuryTranAmt + t.CuryUnitPrice), 0))
        .where(
            t.SiteId == ARDoc.c.RefNbr,
            t.CustId == ARDoc.c.CustId,
            sa.func.rtrim(t.CostType) == sa.func.rtrim(ARDoc.c.DocType),
            t.DrCr == codes.DRCR_APPLICATION,
            t.Rlsed == 0,
            live_batch,
        )
        .scalar_subquery()
    )


def invoice_select() -> sa.Select[Any]:
    """Released debit documents (IN, DM, FI, NC) with their pending applications."""
    d = ARDoc.c
    return sa.select(
        d.CustId,
        d.DocType,
        d.RefNbr,
        d.BatNbr,
        d.BatSeq,
        d.DocDate,
        d.DueDate,
        d.OrigDocAmt,
        d.DocBal,
        d.PerPost,
        pending_applied().label("PendingAmt"),
    ).where(d.DocType.in_(doc_types(*codes.DEBIT_TYPES)), d.Rlsed == 1)


def ref_candidates(number: str, prefixes: tuple[str, ...]) -> list[str]:
    """Stored ``RefNbr`` values a typed number can mean, for an indexed ``IN``.

    SL keeps zero-padded numbers (``'001001'``) whose width depends on the counter, so every
    zero-padded width up to 10 is a candidate.

    Args:
        number: as typed, e.g. ``" inv-1001 "``.
        prefixes: prefixes dropped before comparing.

    Returns:
        Padded candidates; empty when nothing usable is left.
    """
    wanted = normalize_invoice_number(number, prefixes)
    if not wanted or len(wanted) > codes.REF_WIDTH:
        return []
    forms = {wanted}
    if wanted.isdigit():
        forms.update(wanted.zfill(width) for width in range(len(wanted), codes.REF_WIDTH + 1))
    return sorted(ref_key(f) for f in forms)


def available_balance(row: AnyRow) -> Decimal:
    """Released balance minus unreleased applications, at 2 places."""
    return quantize(money(row.DocBal) - money(row.PendingAmt), 2)


def _day(value: object) -> date | None:
    if isinstance(value, datetime):
        return None if value.year <= 1900 else value.date()
    if isinstance(value, date):
        return value
    return None


def to_open_invoice(row: AnyRow) -> OpenInvoice:
    """Turn an ``invoice_select`` row into the domain model (never a negative balance)."""
    balance = available_balance(row)
    return OpenInvoice(
        invoice_number=text(row.RefNbr),
        customer_id=text(row.CustId),
        amount=money(row.OrigDocAmt),
        balance=max(balance, Decimal("0.00")),
        invoice_date=_day(row.DocDate),
        due_date=_day(row.DueDate),
    )


def customer_select() -> sa.Select[Any]:
    """Every ``Customer`` column tracepost reads."""
    return sa.select(Customer)


def find_customer_row(
    conn: sa.Connection,
    paytrace_id_field: str,
    *,
    customer_id: str = "",
    paytrace_customer_id: str = "",
) -> AnyRow | None:
    """The customer by ``CustId``, else by the PayTrace id kept in a user field.

    Raises:
        ErpBusinessError: if the PayTrace id is on more than one customer.
    """
    c = Customer.c
    if customer_id.strip() and fits(customer_id, CUST_ID_WIDTH):
        row = conn.execute(customer_select().where(c.CustId == cust_key(customer_id))).first()
        if row is not None:
            return row
    field = c[paytrace_id_field]
    if paytrace_customer_id.strip() and fits(paytrace_customer_id, char_width(field)):
        rows = conn.execute(
            customer_select()
            .where(field == pad(paytrace_customer_id.strip(), char_width(field)))
            .order_by(c.CustId)
            .limit(2)
        ).all()
        if len(rows) > 1:
            raise ErpBusinessError(
                f"PayTrace customer {paytrace_customer_id!r} is linked to more than one SL"
                f" customer ({text(rows[0].CustId)}, {text(rows[1].CustId)}) in"
                f" {paytrace_id_field}"
            )
        return rows[0] if rows else None
    return None


def is_active(status: str) -> bool:
    """Whether a ``Customer.Status`` is active (on hold still counts as active)."""
    return text(status) in (*codes.USABLE_STATES, *codes.HOLD_STATES)


def is_on_hold(status: str) -> bool:
    """Whether a ``Customer.Status`` is credit or administrative hold."""
    return text(status) in codes.HOLD_STATES


def to_customer(row: AnyRow, paytrace_id_field: str) -> ErpCustomer:
    """Turn a ``Customer`` row into the domain model."""
    return ErpCustomer(
        customer_id=text(row.CustId),
        name=display_name(row.Name),
        active=is_active(row.Status),
        on_hold=is_on_hold(row.Status),
        paytrace_customer_id=text(row._mapping[paytrace_id_field]),
        email=text(row.EMailAddr),
    )


def to_detail(
    row: AnyRow, paytrace_id_field: str, autopay_field: str = "", card_field: str = ""
) -> CustomerDetail:
    """Turn a ``Customer`` row into the detail model profile sync compares.

    ``autopay_field`` / ``card_field`` blank: autopay off, no card on file.
    """
    updated = row.LUpd_DateTime
    return CustomerDetail(
        customer_id=text(row.CustId),
        name=display_name(row.Name),
        active=is_active(row.Status),
        on_hold=is_on_hold(row.Status),
        email=text(row.EMailAddr),
        phone=text(row.Phone),
        address=PostalAddress(
            line1=text(row.Addr1),
            line2=text(row.Addr2),
            city=text(row.City),
            state=text(row.State),
            postal_code=text(row.Zip),
            country=text(row.Country),
        ),
        terms=text(row.Terms),
        paytrace_customer_id=text(row._mapping[paytrace_id_field]),
        updated_at=updated if isinstance(updated, datetime) and updated.year > 1900 else None,
        autopay=is_autopay(row._mapping[autopay_field]) if autopay_field else False,
        card_on_file=text(row._mapping[card_field]) if card_field else "",
    )


def ar_setup(conn: sa.Connection) -> AnyRow:
    """The ``ARSetup`` row (no lock).

    Raises:
        ErpBusinessError: when AR is not set up.
    """
    row = conn.execute(sa.select(ARSetup).where(ARSetup.c.SetupId == codes.SETUP_ID_AR)).first()
    if row is None:
        raise ErpBusinessError("Dynamics SL AR is not set up (no ARSetup row 'AR')")
    return row
