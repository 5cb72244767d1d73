"""Customer flags tracepost sets in Sage 500: credit hold, autopay enrollment, card on file.

``tarCustomer.Hold`` (smallint, 1 on hold) is the credit hold Maintain Customers shows.
Autopay and the card on file live in free user fields (``SageSettings.autopay_field``, default
``UserFld2``; ``card_field``, default ``UserFld3``, varchar(15)). Hold and autopay are ERP-owned
and stamped like any customer edit (``UpdateDate``/``UpdateUserID``, ``UpdateCounter`` + 1), so
``customers_changed_since`` reports them. The card on file is PayTrace-owned: its write bumps
``UpdateCounter`` (Sage's optimistic lock: a screen holding the row notices) but leaves
``UpdateDate`` alone, so customer profile sync does not see its own write as an ERP change.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from connectors.erp.customer_fields import AUTOPAY_ON, autopay_condition, check_card_text
from connectors.erp.errors import CustomerNotUsableError
from connectors.erp.guard import erp_guard
from connectors.erp.locks import write_transaction
from connectors.erp.sage500 import codes
from connectors.erp.sage500.customer_rows import detail_select, to_detail
from connectors.erp.sage500.customers import _get, _lock_customer, _touch_customer
from connectors.erp.sage500.lookups import AnyRow
from connectors.erp.sage500.schema import tarCustomer
from connectors.erp.sage500.settings import ERP_LABEL, SageSettings
from domain.erp_documents import CustomerDetail


def set_credit_hold(
    engine: sa.Engine, s: SageSettings, customer_id: str, on_hold: bool
) -> CustomerDetail:
    """Set or clear ``tarCustomer.Hold``; nothing is written when it already is so.

    Raises:
        CustomerNotUsableError: the customer does not exist.
    """

    def change(conn: sa.Connection, row: AnyRow) -> None:
        if bool(row.Hold) != on_hold:
            _touch_customer(conn, s, int(row.CustKey), {"Hold": 1 if on_hold else 0})

    return _change(engine, s, customer_id, "set_credit_hold", change)


def set_autopay(engine: sa.Engine, s: SageSettings, customer_id: str, on: bool) -> CustomerDetail:
    """Write ``Y`` (on) or NULL (off) to the autopay field; nothing when it already means so.

    Raises:
        CustomerNotUsableError: the customer does not exist.
    """
    field = s.autopay_field

    def change(conn: sa.Connection, row: AnyRow) -> None:
        current = str(row._mapping[field] or "").strip()
        if on and current.upper() != AUTOPAY_ON:
            _touch_customer(conn, s, int(row.CustKey), {field: AUTOPAY_ON})
        elif not on and current:
            _touch_customer(conn, s, int(row.CustKey), {field: None})

    return _change(engine, s, customer_id, "set_autopay", change)


def set_card_on_file(
    engine: sa.Engine, s: SageSettings, customer_id: str, text: str
) -> CustomerDetail:
    """Write the masked card and expiry to the card field (blank: NULL), without a change stamp.

    Raises:
        CustomerNotUsableError: the customer does not exist.
        ErpBusinessError: the text could be a card number or does not fit ``varchar(15)``.
    """
    field = s.card_field
    column = tarCustomer.c[field]
    width = column.type.length if isinstance(column.type, sa.String) and column.type.length else 15
    value = check_card_text(text, width, f"tarCustomer.{field}")

    def change(conn: sa.Connection, row: AnyRow) -> None:
        if str(row._mapping[field] or "").strip() == value:
            return
        conn.execute(
            sa.update(tarCustomer)
            .where(tarCustomer.c.CustKey == int(row.CustKey))
            .values({field: value or None, "UpdateCounter": tarCustomer.c.UpdateCounter + 1})
        )

    return _change(engine, s, customer_id, "set_card_on_file", change)


def autopay_customers(engine: sa.Engine, s: SageSettings) -> list[CustomerDetail]:
    """Active customers of the company whose autopay field says yes, by ``CustID``."""
    cust = tarCustomer.c
    query = (
        detail_select(s.paytrace_id_field, s.autopay_field, s.card_field)
        .where(
            cust.CompanyID == s.company_id,
            cust.Status == codes.CUST_STATUS_ACTIVE,
            autopay_condition(cust[s.autopay_field]),
        )
        .order_by(cust.CustID)
    )
    with erp_guard(ERP_LABEL, "autopay_customers"), engine.connect() as conn:
        return [to_detail(r) for r in conn.execute(query)]


def _change(
    engine: sa.Engine,
    s: SageSettings,
    customer_id: str,
    operation: str,
    change: Callable[[sa.Connection, AnyRow], None],
) -> CustomerDetail:
    """Lock the customer, apply ``change(conn, row)``, and read the detail back, in one go."""
    with erp_guard(ERP_LABEL, operation), write_transaction(engine) as conn:
        row = _lock_customer(conn, s, customer_id.strip())
        if row is None:
            raise CustomerNotUsableError(
                f"customer {customer_id!r} does not exist in Sage 500 company {s.company_id}"
            )
        change(conn, row)
        detail = _get(conn, s, customer_id)
    assert detail is not None
    return detail
