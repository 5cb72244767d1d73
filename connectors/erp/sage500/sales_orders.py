"""Sales orders from eCommerce ``order.paid``: tsoSalesOrder + tsoSOLine + tsoSOLineDist.

Written exactly once by the store's order id (also kept in ``tsoSalesOrder.UserFld1``, where
integrations put the external order number). A sales order has no batch: it is complete once
written (``post_document`` only marks the cross-reference).
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from connectors.erp.errors import ErpBusinessError
from connectors.erp.sage500 import codes, lookups
from connectors.erp.sage500.numbering import next_surrogate_keys, next_tran_no
from connectors.erp.sage500.once import write_once
from connectors.erp.sage500.schema import (
    tarCustAddr,
    timItem,
    tptPaytraceXref,
    tsoSalesOrder,
    tsoSOLine,
    tsoSOLineDist,
)
from connectors.erp.sage500.settings import SageSettings
from connectors.erp.sage500.validation import usable_customer
from connectors.erp.xref import to_document, xref_row
from domain.erp_documents import DocumentKind, ErpDocument, SalesOrder
from domain.money import quantize

ZERO = Decimal(0)
ORDER_ID_WIDTH = 40


def write_sales_order(engine: sa.Engine, s: SageSettings, order: SalesOrder) -> ErpDocument:
    """Write a sales order with its lines exactly once.

    Raises:
        ErpBusinessError: no lines, a bad quantity or price, an unknown or inactive item.
        CustomerNotUsableError: the customer is unknown, inactive or on hold.
        ErpUnavailableError: connection trouble or deadlock victim (retryable).
    """
    key = order.order_id.strip()
    if not key or len(key) > ORDER_ID_WIDTH:
        raise ErpBusinessError(f"order id {order.order_id!r} must be 1 to 40 characters")

    def write(conn: sa.Connection) -> bool:
        return _write(conn, s, order, key)

    row, created = write_once(engine, DocumentKind.SALES_ORDER, key, "write_sales_order", write)
    return to_document(row, lookups.ERP_NAME, created=created)


def _write(conn: sa.Connection, s: SageSettings, order: SalesOrder, key: str) -> bool:
    if not order.lines:
        raise ErpBusinessError(f"sales order {key}: has no lines")
    for i, line in enumerate(order.lines, 1):
        if line.quantity <= ZERO or line.unit_price < ZERO:
            raise ErpBusinessError(
                f"sales order {key}: line {i} ({line.item_id}) needs a positive quantity and a"
                " price not below zero"
            )
    customer = usable_customer(
        conn, s.company_id, s.paytrace_id_field, order.customer_id, "sales orders"
    )
    items = _item_keys(conn, s, key, [line.item_id.strip() for line in order.lines])
    terms_key = conn.execute(
        sa.select(tarCustAddr.c.PmtTermsKey).where(tarCustAddr.c.CustKey == customer.CustKey)
    ).scalar()
    tran_no, tran_type_id = next_tran_no(conn, s.company_id, codes.TRAN_TYPE_SALES_ORDER)
    (so_key,) = next_surrogate_keys(conn, "tsoSalesOrder", 1)
    line_keys = next_surrogate_keys(conn, "tsoSOLine", len(order.lines))
    dist_keys = next_surrogate_keys(conn, "tsoSOLineDist", len(order.lines))
    now = s.clock()
    number = codes.tran_no(tran_no)
    tran_id = codes.tran_id(number, tran_type_id)
    ext = [quantize(line.quantity * line.unit_price, 3) for line in order.lines]
    total = sum(ext, Decimal("0.000"))
    user_fields: dict[str, Any] = {f"UserFld{i}": None for i in range(1, 5)}
    user_fields["UserFld1"] = key[:15]
    conn.execute(
        sa.insert(tsoSalesOrder),
        [
            {
                "SOKey": so_key,
                "CompanyID": s.company_id,
                "TranNo": number,
                "TranNoRel": number,
                "TranID": tran_id,
                "TranType": codes.TRAN_TYPE_SALES_ORDER,
                "CustKey": int(customer.CustKey),
                "TranDate": datetime.combine(order.order_date, time()),
                "SalesAmt": total,
                "STaxAmt": Decimal("0.000"),
                "OpenAmt": total,
                "CustPONo": (order.customer_po.strip() or None) and order.customer_po.strip()[:15],
                "PmtTermsKey": terms_key,
                "Status": codes.SO_STATUS_OPEN,
                "TranCmnt": f"Web order {key}"[:50],
                **user_fields,
                "CreateDate": now,
                "CreateUserID": s.user,
                "UpdateDate": None,
                "UpdateUserID": None,
                "UpdateCounter": 0,
            }
        ],
    )
    conn.execute(
        sa.insert(tsoSOLine),
        [
            {
                "SOLineKey": line_key,
                "SOKey": so_key,
                "SOLineNo": seq,
                "ItemKey": item_key,
                "Description": line.description.strip()[:40] or None,
                "UnitPrice": quantize(line.unit_price, 5),
                "ExtCmnt": None,
                "Status": codes.SO_STATUS_OPEN,
            }
            for seq, (line, line_key, item_key) in enumerate(
                zip(order.lines, line_keys, items, strict=True), 1
            )
        ],
    )
    conn.execute(
        sa.insert(tsoSOLineDist),
        [
            {
                "SOLineDistKey": dist_key,
                "SOLineKey": line_key,
                "QtyOrd": quantize(line.quantity, 8),
                "QtyOpenToShip": quantize(line.quantity, 8),
                "ExtAmt": amount,
                "Status": codes.SO_STATUS_OPEN,
            }
            for line, line_key, dist_key, amount in zip(
                order.lines, line_keys, dist_keys, ext, strict=True
            )
        ],
    )
    conn.execute(
        sa.insert(tptPaytraceXref),
        [
            xref_row(
                kind=DocumentKind.SALES_ORDER,
                key=key,
                company_id=s.company_id,
                doc_no=tran_id,
                batch_id="",
                amount=total,
                now=now,
                paytrace_transaction_id=order.paytrace_transaction_id,
                customer_id=str(customer.CustID).strip(),
                doc_key=so_key,
                doc_date=order.order_date,
            )
        ],
    )
    return True


def _item_keys(conn: sa.Connection, s: SageSettings, key: str, item_ids: list[str]) -> list[int]:
    item = timItem.c
    found = {
        str(r.ItemID).strip(): r
        for r in conn.execute(
            sa.select(item.ItemKey, item.ItemID, item.Status).where(
                item.CompanyID == s.company_id, item.ItemID.in_(sorted(set(item_ids)))
            )
        )
    }
    keys = []
    for item_id in item_ids:
        row = found.get(item_id)
        if row is None or int(row.Status) != 1:
            state = "does not exist" if row is None else "is not active"
            raise ErpBusinessError(
                f"sales order {key}: item {item_id!r} {state} in Sage 500 company {s.company_id}"
            )
        keys.append(int(row.ItemKey))
    return keys


def finish_sales_order(conn: sa.Connection, xref: sa.Row[Any], settings: SageSettings) -> bool:
    """A sales order has no batch to post: it is complete once written."""
    return True
