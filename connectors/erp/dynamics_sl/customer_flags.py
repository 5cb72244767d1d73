"""Customer flags tracepost sets in Dynamics SL: credit hold, autopay enrollment, card on file.

The credit hold is ``Customer.Status`` ``H`` (Customer Maintenance's "credit hold"); releasing it
sets ``A``. An administrative hold (``R``) is an SL user's decision and is left alone, and an
inactive customer (``I``) is not put on credit hold (``H`` would make it usable again). Autopay
and the card on file live in free character user fields (``SlSettings.autopay_field``, default
``User5`` char 10; ``card_field``, default ``User2`` char 30).

Hold and autopay are ERP-owned and stamped (``LUpd_*``) like a Customer Maintenance save, so
``customers_changed_since`` reports them. The card on file is PayTrace-owned: it is written
without touching ``LUpd_*``, so customer profile sync does not see its own write as an ERP change
(SQL Server still bumps the row's ``tstamp``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from connectors.erp.customer_fields import AUTOPAY_ON, autopay_condition, check_card_text
from connectors.erp.dynamics_sl import codes, lookups
from connectors.erp.dynamics_sl.ar_schema import Customer
from connectors.erp.dynamics_sl.base import pad, text
from connectors.erp.dynamics_sl.lookups import char_width
from connectors.erp.dynamics_sl.settings import SlSettings
from connectors.erp.errors import CustomerNotUsableError
from connectors.erp.locks import lock_rows

PROG_CUSTOMER = "08260"


def locked_customer(conn: sa.Connection, customer_id: str) -> lookups.AnyRow:
    """Lock a customer row, then read it in a new statement.

    Raises:
        CustomerNotUsableError: the customer does not exist.
    """
    if not lookups.fits(customer_id, lookups.CUST_ID_WIDTH) or not customer_id.strip():
        raise CustomerNotUsableError(f"customer {customer_id!r} does not exist in Dynamics SL")
    c = Customer.c
    key = lookups.cust_key(customer_id)
    conn.execute(lock_rows(sa.select(c.CustId).where(c.CustId == key), Customer)).first()
    row = conn.execute(sa.select(Customer).where(c.CustId == key)).first()
    if row is None:
        raise CustomerNotUsableError(f"customer {customer_id!r} does not exist in Dynamics SL")
    return row


def set_credit_hold(
    conn: sa.Connection, customer_id: str, on_hold: bool, settings: SlSettings
) -> None:
    """Set ``Status`` to ``H`` (hold) or back to ``A`` (release); no-op when already so.

    Raises:
        CustomerNotUsableError: unknown, or inactive and a hold is asked for.
    """
    row = locked_customer(conn, customer_id)
    status = text(row.Status)
    if on_hold:
        if status in codes.HOLD_STATES:
            return
        if status not in codes.USABLE_STATES:
            raise CustomerNotUsableError(
                f"customer {text(row.CustId)} is not active (Status {status or 'blank'}); a"
                " credit hold would make it usable again"
            )
        _stamped(conn, row, {"Status": codes.CUST_CREDIT_HOLD}, settings)
    elif status == codes.CUST_CREDIT_HOLD:
        _stamped(conn, row, {"Status": codes.CUST_ACTIVE}, settings)


def set_autopay(conn: sa.Connection, customer_id: str, on: bool, settings: SlSettings) -> None:
    """Write ``Y`` (on) or blank (off) to the autopay field; no-op when it already means so.

    Raises:
        CustomerNotUsableError: the customer does not exist.
    """
    row = locked_customer(conn, customer_id)
    field = Customer.c[settings.autopay_field]
    current = text(row._mapping[field.name])
    if on and current.upper() != AUTOPAY_ON:
        _stamped(conn, row, {field.name: pad(AUTOPAY_ON, char_width(field))}, settings)
    elif not on and current:
        _stamped(conn, row, {field.name: pad("", char_width(field))}, settings)


def set_card_on_file(
    conn: sa.Connection, customer_id: str, card: str, settings: SlSettings
) -> None:
    """Write the masked card and expiry to the card field, without stamping ``LUpd_*``.

    Raises:
        CustomerNotUsableError: the customer does not exist.
        ErpBusinessError: the text could be a card number or does not fit the field.
    """
    field = Customer.c[settings.card_field]
    value = check_card_text(card, char_width(field), f"Customer.{field.name}")
    row = locked_customer(conn, customer_id)
    if text(row._mapping[field.name]) == value:
        return
    conn.execute(
        sa.update(Customer)
        .where(Customer.c.CustId == row.CustId)
        .values({field.name: pad(value, char_width(field))})
    )


def autopay_customers(conn: sa.Connection, settings: SlSettings) -> list[lookups.AnyRow]:
    """Active customers (on hold included) whose autopay field says yes, by ``CustId``.

    SL customers are not split by company (``Customer`` has no ``CpnyID``).
    """
    c = Customer.c
    active = [pad(s, 1) for s in (*codes.USABLE_STATES, *codes.HOLD_STATES)]
    return list(
        conn.execute(
            lookups.customer_select()
            .where(c.Status.in_(active), autopay_condition(c[settings.autopay_field]))
            .order_by(c.CustId)
        ).all()
    )


def _stamped(
    conn: sa.Connection, row: lookups.AnyRow, values: dict[str, Any], settings: SlSettings
) -> None:
    """Update a customer the way Customer Maintenance saves it (``LUpd_*`` stamped)."""
    ctx = settings.context(PROG_CUSTOMER)
    conn.execute(
        sa.update(Customer)
        .where(Customer.c.CustId == row.CustId)
        .values(
            {
                **values,
                "LUpd_DateTime": ctx.now,
                "LUpd_Prog": pad(PROG_CUSTOMER, 8),
                "LUpd_User": pad(ctx.user_id, 10),
            }
        )
    )
