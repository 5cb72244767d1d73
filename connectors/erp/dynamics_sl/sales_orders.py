"""Dynamics SL sales orders (Order Management, screen 40.100), written exactly once.

An order is one ``SOHeader`` row (Status ``O`` open), one ``SOLine`` row and one ``SOSched`` row
(schedule) per line, numbered from its order type's ``SOType.LastOrdNbr`` the way SL's
``DMG_NextOrdNbr`` numbers it (row lock, prefix codes, zero padding kept, numbers already used
skipped). Like every tracepost write it
reads ``tptPaytraceXref`` back first and inserts its xref row (DocKind ``sales_order``, SourceKey
the store's order id) in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.dynamics_sl import validation
from connectors.erp.dynamics_sl.base import SlContext, pad, text, to_float, tptPaytraceXref
from connectors.erp.dynamics_sl.ledger_checks import read_setup
from connectors.erp.dynamics_sl.ledger_schema import SOHeader, SOLine, SOSched, SOType
from connectors.erp.dynamics_sl.ledger_seed import DEMO_SO_TYPE
from connectors.erp.errors import ErpBusinessError
from connectors.erp.locks import lock_rows
from connectors.erp.xref import read_xref, to_document, xref_row
from domain.erp_documents import DocumentKind, ErpDocument, SalesOrder
from domain.money import quantize

ERP_NAME = "dynamics_sl"
SCREEN_SALES_ORDER = "40100"
ORDER_STATUS_OPEN = "O"
LINE_STATUS_OPEN = "O"
SCHED_STATUS_OPEN = "O"
FIRST_SCHED_REF = "00001"
CURY_MULT_DIV = "M"
ORD_NBR_MAX = 10
QTY_PLACES = 2
PRICE_PLACES = 2
ZERO = Decimal("0.00")
FIRST_LINE_NBR = -32767
LINE_NBR_STEP = 256


@dataclass(frozen=True)
class OrderLine:
    """One validated line: quantity and price rounded as SL keeps them, extension in cents."""

    item_id: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    extension: Decimal


def order_lines(order: SalesOrder) -> tuple[OrderLine, ...]:
    """Validate and round an order's lines.

    Quantities round to 2 places (``INSetup.DecPlQty``) and prices to 2 places
    (``INSetup.DecPlPrcCst``), the SL defaults; the extension is quantity times price rounded to
    the currency's 2 places.

    Raises:
        ErpBusinessError: no lines, an item id missing or too long, a quantity not above zero,
            or a negative price.
    """
    if not order.lines:
        raise ErpBusinessError(f"sales order {order.order_id} has no lines")
    lines = []
    for number, line in enumerate(order.lines, start=1):
        item = line.item_id.strip()
        qty = quantize(line.quantity, QTY_PLACES)
        price = quantize(line.unit_price, PRICE_PLACES)
        if not item or len(item) > 30:
            raise ErpBusinessError(
                f"sales order {order.order_id}, line {number}: item id {line.item_id!r} is blank"
                " or longer than SL's 30 characters"
            )
        if qty <= ZERO or price < ZERO:
            raise ErpBusinessError(
                f"sales order {order.order_id}, line {number}: quantity {line.quantity} must be"
                f" above zero and price {line.unit_price} not negative"
            )
        lines.append(
            OrderLine(item, line.description.strip(), qty, price, quantize(qty * price, 2))
        )
    return tuple(lines)


def usable_customer(conn: sa.Connection, customer_id: str) -> sa.Row[Any]:
    """The ``Customer`` row, when it exists and is active (Status ``A``, or ``O`` one-time).

    The AR side's rule (``validation.usable_customer``), holds refused.

    Raises:
        CustomerNotUsableError: unknown, inactive (``I``) or on hold (``H``/``R``).
    """
    return validation.usable_customer(conn, "User1", customer_id)


def order_prefix(template: str, customer_id: str, day: date, user_id: str) -> str:
    """``SOType.OrdNbrPrefix`` with SL's codes replaced.

    ``&cu`` customer, ``&da`` yymmdd date, ``&sa`` salesperson (tracepost has none: blank),
    ``&us`` user.
    """
    prefix = text(template)
    prefix = prefix.replace("&cu", customer_id.strip())
    prefix = prefix.replace("&da", day.strftime("%y%m%d"))
    prefix = prefix.replace("&sa", "")
    return prefix.replace("&us", user_id.strip())


def lock_order_type(
    conn: sa.Connection, ctx: SlContext, so_type_id: str
) -> tuple[sa.Row[Any], sa.Row[Any]]:
    """Lock the order type's ``SOType`` row and the one counting its numbers; read both again.

    The counting row is the type's own, or the one its ``OrdNbrType`` points to.

    Returns:
        ``(order type, counting type)``, read in new statements after the locks.

    Raises:
        ErpBusinessError: an order type is not set up for the company.
    """
    cpny = pad(ctx.cpny_id, 10)

    def locked(type_id: str) -> sa.Row[Any]:
        where = sa.and_(SOType.c.CpnyID == cpny, SOType.c.SOTypeID == pad(type_id, 4))
        conn.execute(lock_rows(sa.select(SOType.c.SOTypeID).where(where), SOType))
        row = conn.execute(sa.select(SOType).where(where)).first()
        if row is None:
            raise ErpBusinessError(
                f"sales order type {type_id!r} is not set up for company {ctx.cpny_id} (SOType)"
            )
        return row

    own = locked(so_type_id)
    return own, (locked(text(own.OrdNbrType)) if text(own.OrdNbrType) else own)


def next_order_number(
    conn: sa.Connection,
    ctx: SlContext,
    own: sa.Row[Any],
    counter: sa.Row[Any],
    customer_id: str,
    day: date,
) -> str:
    """Take the next order number, as ``DMG_NextOrdNbr`` does, from locked ``SOType`` rows.

    The numeric part keeps ``LastOrdNbr``'s width (at least 3); the prefix (codes replaced) is
    cut to fit 10 characters; numbers an ``SOHeader`` of the company already has are skipped;
    past ``999…`` the counter rolls over to 1. ``LastOrdNbr`` of the counting row is updated.

    Raises:
        ErpBusinessError: ``LastOrdNbr`` is not numeric, or every number is taken.
    """
    cpny = pad(ctx.cpny_id, 10)
    last = text(counter.LastOrdNbr) or "0"
    if not last.isdigit():
        raise ErpBusinessError(f"SOType.LastOrdNbr {last!r} is not a number")
    width = max(len(last), 3)
    prefix = order_prefix(own.OrdNbrPrefix, customer_id, day, ctx.user_id)[: ORD_NBR_MAX - width]
    highest = int("9" * width)
    number = int(last) + 1 if int(last) < highest else 1
    start = number
    while True:
        candidate = f"{prefix}{number:0{width}d}"
        used = conn.execute(
            sa.select(sa.func.count())
            .select_from(SOHeader)
            .where(SOHeader.c.CpnyID == cpny, SOHeader.c.OrdNbr == pad(candidate, 15))
        ).scalar_one()
        if not used:
            break
        number = number + 1 if number < highest else 1
        if number == start:
            raise ErpBusinessError(f"every order number of type {text(own.SOTypeID)} is taken")
    conn.execute(
        sa.update(SOType)
        .where(SOType.c.CpnyID == cpny, SOType.c.SOTypeID == counter.SOTypeID)
        .values(LastOrdNbr=pad(f"{number:0{width}d}", 10))
    )
    return candidate


def sales_account(ctx: SlContext) -> tuple[str, str]:
    """``SOLine.SlsAcct``/``SlsSub`` from ``ctx.accounts["sales"]`` (``acct[/sub]``), else blank.

    SL defaults a line's sales account from the inventory item or the order type; tracepost has
    neither table, so the configured sales account stands in (blank leaves it to SL's defaults).
    """
    value = ctx.accounts.get("sales", "").strip()
    if not value:
        return "", ""
    acct, _, sub = value.partition("/")
    return acct.strip(), (sub.strip() or ctx.accounts.get("sub", "").strip())


def sales_order_rows(
    order: SalesOrder,
    lines: tuple[OrderLine, ...],
    customer: sa.Row[Any],
    ord_nbr: str,
    cury_id: str,
    ctx: SlContext,
    so_type_id: str = DEMO_SO_TYPE,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``SOHeader``, ``SOLine`` and ``SOSched`` rows of a new open order (pure).

    Each line gets one schedule (``SchedRef`` ``00001``) for its whole quantity, requested and
    promised on the order date, to ship to the customer.

    Returns:
        ``(header, lines, schedules)``, ready for ``insert``.
    """
    total = to_float(sum((line.extension for line in lines), ZERO))
    order_day = datetime(order.order_date.year, order.order_date.month, order.order_date.day)
    audit = ctx.audit_values()
    header = {
        "CpnyID": pad(ctx.cpny_id, 10),
        "OrdNbr": pad(ord_nbr, 15),
        "AdminHold": 0,
        "ARAcct": pad(text(customer.ArAcct), 10),
        "ARSub": pad(text(customer.ArSub), 24),
        "BillAddr1": pad(text(customer.BillAddr1), 60),
        "BillAddr2": pad(text(customer.BillAddr2), 60),
        "BillCity": pad(text(customer.BillCity), 30),
        "BillCountry": pad(text(customer.BillCountry), 3),
        "BillName": pad(text(customer.BillName), 60),
        "BillState": pad(text(customer.BillState), 3),
        "BillZip": pad(text(customer.BillZip), 10),
        "Cancelled": 0,
        "CreditHold": 0,
        "CuryID": pad(cury_id, 4),
        "CuryMultDiv": CURY_MULT_DIV,
        "CuryRate": 1.0,
        "CuryTotMerch": total,
        "CuryTotOrd": total,
        "CuryUnshippedBalance": total,
        "CustID": pad(text(customer.CustId), 15),
        "CustOrdNbr": pad(order.customer_po.strip(), 25),
        "LineCntr": len(lines),
        "NoteId": 0,
        "OrdDate": order_day,
        "Released": 0,
        "SOTypeID": pad(so_type_id, 4),
        "Status": ORDER_STATUS_OPEN,
        "TermsID": pad(text(customer.Terms), 2),
        "TotMerch": total,
        "TotOrd": total,
        "UnshippedBalance": total,
        "User1": pad(
            f"PT {order.paytrace_transaction_id}" if order.paytrace_transaction_id else "", 30
        ),
        **audit,
    }
    sales_acct, sales_sub = sales_account(ctx)
    rows = []
    schedules = []
    for index, line in enumerate(lines, start=1):
        price, extension = to_float(line.unit_price), to_float(line.extension)
        rows.append(
            {
                "CpnyID": pad(ctx.cpny_id, 10),
                "OrdNbr": pad(ord_nbr, 15),
                "LineRef": f"{index:05d}",
                "CnvFact": 1.0,
                "CuryListPrice": price,
                "CurySlsPrice": price,
                "CurySlsPriceOrig": price,
                "CuryTotOrd": extension,
                "Descr": pad(line.description, 60),
                "InvtID": pad(line.item_id, 30),
                "LineNbr": FIRST_LINE_NBR + LINE_NBR_STEP * (index - 1),
                "ListPrice": price,
                "ManualPrice": 1,
                "NoteId": 0,
                "PromDate": order_day,
                "QtyOrd": float(line.quantity),
                "QtyShip": 0.0,
                "ReqDate": order_day,
                "SchedCntr": 1,
                "SiteID": pad("", 10),
                "SlsAcct": pad(sales_acct, 10),
                "SlsPrice": price,
                "SlsPriceOrig": price,
                "SlsSub": pad(sales_sub, 24),
                "Status": LINE_STATUS_OPEN,
                "TotOrd": extension,
                "UnitDesc": pad("", 6),
                "UnitMultDiv": CURY_MULT_DIV,
                **audit,
            }
        )
        schedules.append(
            {
                "CpnyID": pad(ctx.cpny_id, 10),
                "OrdNbr": pad(ord_nbr, 15),
                "LineRef": f"{index:05d}",
                "SchedRef": FIRST_SCHED_REF,
                "Hold": 0,
                "NoteID": 0,
                "PriorityDate": order_day,
                "PromDate": order_day,
                "QtyOpenShip": 0.0,
                "QtyOrd": float(line.quantity),
                "QtyShip": 0.0,
                "QtyToInvc": 0.0,
                "ReqDate": order_day,
                "ShipCustID": pad(text(customer.CustId), 15),
                "ShipName": pad(text(customer.Name), 60),
                "ShiptoID": pad(text(customer.DfltShipToId), 10),
                "SiteID": pad("", 10),
                "Status": SCHED_STATUS_OPEN,
                **audit,
            }
        )
    return header, rows, schedules


def write_sales_order(conn: sa.Connection, order: SalesOrder, ctx: SlContext) -> ErpDocument:
    """Write an open sales order with its lines, exactly once by order id.

    Args:
        conn: a connection inside the caller's write transaction.
        order: the order (``order_id`` is the xref ``SourceKey``).
        ctx: company and user; rows are stamped as program ``40100`` whatever ``ctx.prog``.

    Returns:
        The document (``erp_document`` the ``OrdNbr``, no batch); ``created`` False on a repeat.

    Raises:
        CustomerNotUsableError: the customer is unknown, inactive or on hold.
        ErpBusinessError: bad lines, or the order type is not set up.
    """
    key = order.order_id.strip()
    if not key or len(key) > 40:
        raise ErpBusinessError(f"sales order id {order.order_id!r} is blank or too long")
    existing = read_xref(conn, tptPaytraceXref, DocumentKind.SALES_ORDER, key)
    if existing is not None:
        return to_document(existing, ERP_NAME)
    ctx = replace(ctx, prog=SCREEN_SALES_ORDER)
    lines = order_lines(order)
    customer = usable_customer(conn, order.customer_id)
    cury_id = text(read_setup(conn).BaseCuryId)
    own, counter = lock_order_type(conn, ctx, DEMO_SO_TYPE)
    # The SOType lock may have waited for a racing writer of this same order.
    raced = read_xref(conn, tptPaytraceXref, DocumentKind.SALES_ORDER, key)
    if raced is not None:
        return to_document(raced, ERP_NAME)
    try:
        with conn.begin_nested():
            ord_nbr = next_order_number(
                conn, ctx, own, counter, order.customer_id, order.order_date
            )
            header, rows, schedules = sales_order_rows(
                order, lines, customer, ord_nbr, cury_id, ctx
            )
            conn.execute(sa.insert(SOHeader), [header])
            conn.execute(sa.insert(SOLine), rows)
            conn.execute(sa.insert(SOSched), schedules)
            conn.execute(
                sa.insert(tptPaytraceXref),
                [
                    xref_row(
                        kind=DocumentKind.SALES_ORDER,
                        key=key,
                        company_id=ctx.cpny_id,
                        doc_no=ord_nbr,
                        batch_id="",
                        amount=sum((line.extension for line in lines), ZERO),
                        now=ctx.now,
                        paytrace_transaction_id=order.paytrace_transaction_id,
                        customer_id=text(customer.CustId),
                        doc_date=order.order_date,
                    )
                ],
            )
    except sa.exc.IntegrityError as exc:
        winner = read_xref(conn, tptPaytraceXref, DocumentKind.SALES_ORDER, key)
        if winner is not None:
            return to_document(winner, ERP_NAME)
        raise ErpBusinessError(
            f"Dynamics SL refused sales order {key} through a database constraint: {exc.orig}"
        ) from exc
    written = read_xref(conn, tptPaytraceXref, DocumentKind.SALES_ORDER, key)
    if written is None:  # pragma: no cover - inserted just above in this transaction
        raise ErpBusinessError(f"sales order {key} was written but cannot be read back")
    return to_document(written, ERP_NAME, created=True)
